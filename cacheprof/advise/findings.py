"""Ordering advice: which Dockerfile steps throw the build cache away, and a Dockerfile that fixes it.

The main pattern is Docker's own guidance: a broad `COPY . .` before the step that installs dependencies
from a manifest makes every source edit re-run the install; copying the manifests first, installing, then
copying the rest keeps the install cached. Whether a RUN needs only the manifests is read from its shell
text, so the rewrite is a heuristic: `cacheprof advise --measure` builds both Dockerfiles and compares the
images, which is the proof.

Pure: reads the Dockerfile model and the context's files as the docker CLI sends them (.dockerignore
applied); never talks to Docker.
"""

from __future__ import annotations

import json
import posixpath
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ..context.dockerignore import DockerIgnore, clean_path
from ..context.edits import pick_edit_target
from ..context.walk import DOCKERIGNORE, resolve_context, walk_context
from ..dockerfile import DockerfileModel, Instruction, Stage

ADVICE_SCHEMA = "cacheprof/advice/v1"
COPY_BEFORE_INSTALL = "copy-before-install"
EARLY_CACHE_BUST = "early-cache-bust"

# Instructions that only set image metadata: a RUN may move in front of them without changing anything.
_METADATA = frozenset({"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER",
                       "ONBUILD"})
# Flags of the broad COPY that the manifests' COPY must share, so their files end up alike.
_KEPT_COPY_FLAGS = ("--chown", "--chmod", "--link")
_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class Fix:
    """Put `insert` (new instructions) and the instructions starting at `moved` in front of the broad
    COPY starting at `anchor_line`: `moved` is the ENV/ARG lines the RUN needs, then the RUN itself."""

    anchor_line: int
    insert: tuple[str, ...]
    moved: tuple[int, ...]


@dataclass(frozen=True)
class Finding:
    kind: str  # COPY_BEFORE_INSTALL | EARLY_CACHE_BUST
    stage: str
    line: int  # the instruction that causes the waste
    instruction: str
    message: str
    scenario: str | None  # the scenario that shows the waste, e.g. edit:app/main.py
    related_line: int | None = None  # the step that pays for it
    related_instruction: str | None = None
    manifests: tuple[str, ...] = ()  # context paths the step needs
    fix: Fix | None = None
    why_no_fix: str | None = None

    @property
    def severity(self) -> str:
        return "problem" if self.kind == COPY_BEFORE_INSTALL else "warning"


@dataclass(frozen=True)
class ContextFiles:
    """The regular files the docker CLI would send (context-relative slash paths) and their directories."""

    root: Path
    files: frozenset[str]
    dirs: frozenset[str]  # every directory holding a sent file; "" is the context root

    @classmethod
    def scan(cls, context: Path) -> ContextFiles:
        root = resolve_context(context)
        ignore = DockerIgnore.for_context(Path(root))
        files = frozenset(e.rel for e in walk_context(root, ignore) if stat.S_ISREG(e.st.st_mode))
        dirs = {""}
        for f in files:
            parts = f.split("/")[:-1]
            dirs.update("/".join(parts[: k + 1]) for k in range(len(parts)))
        return cls(Path(root), files, frozenset(dirs))

    def text(self, rel: str) -> str:
        try:
            with open(self.root / rel, "rb") as fh:
                return fh.read(_READ_LIMIT).decode("utf-8", "replace")
        except OSError:
            return ""


# --- what installs from which manifests ----------------------------------------------------------------


def _content_blocker(name: str, pattern: str, why: str) -> Callable[[ContextFiles, str], str | None]:
    """A blocker that fires when manifest `name` beside the install has a line matching `pattern`."""
    rx = re.compile(pattern, re.MULTILINE)

    def check(ctx: ContextFiles, where: str) -> str | None:
        rel = posixpath.join(where, name)
        return why if rel in ctx.files and rx.search(ctx.text(rel)) else None

    return check


def _beside_blocker(name: str, why: str) -> Callable[[ContextFiles, str], str | None]:
    def check(ctx: ContextFiles, where: str) -> str | None:
        return why if posixpath.join(where, name) in ctx.files else None

    return check


@dataclass(frozen=True)
class _Installer:
    label: str
    command: re.Pattern[str]
    manifests: tuple[str, ...]  # file names read beside the install directory
    # A flag without which the command also installs the project itself, which needs its sources.
    needs_flag: str | None = None
    blockers: tuple[Callable[[ContextFiles, str], str | None], ...] = ()
    always_blocked: str | None = None


_NODE_BLOCKERS = (
    _content_blocker("package.json", r'"workspaces"\s*:', "package.json declares workspaces, whose own "
                     "package.json files the install needs too"),
    _content_blocker("package.json", r'"(?:preinstall|install|postinstall|prepare)"\s*:',
                     "a package.json install script runs during the install and may read other files"),
    _beside_blocker("pnpm-workspace.yaml", "pnpm-workspace.yaml makes it a workspace install"),
    _beside_blocker(".yarnrc.yml", "Yarn 2+ (.yarnrc.yml) also needs its .yarn/ folder"),
)

_INSTALLERS = (
    _Installer("pip install", re.compile(r"\b(?:pip3?|python3?\s+-m\s+pip|uv\s+pip)\s+install\b"), ()),
    _Installer("poetry install", re.compile(r"\bpoetry\s+install\b"), ("pyproject.toml", "poetry.lock", "poetry.toml"),
               needs_flag="--no-root"),
    _Installer("pipenv install", re.compile(r"\bpipenv\s+(?:install|sync)\b"), ("Pipfile", "Pipfile.lock")),
    _Installer("uv sync", re.compile(r"\buv\s+sync\b"), ("pyproject.toml", "uv.lock", ".python-version"),
               needs_flag="--no-install-project"),
    _Installer("npm install", re.compile(r"\bnpm\s+(?:ci|install|i)\b"),
               ("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"), blockers=_NODE_BLOCKERS),
    _Installer("yarn install", re.compile(r"\byarn(?:\s+install\b|\s*(?=$|[;&|)]|\s--))", re.MULTILINE),
               ("package.json", "yarn.lock", ".yarnrc", ".npmrc"), blockers=_NODE_BLOCKERS),
    _Installer("pnpm install", re.compile(r"\bpnpm\s+(?:install|i|fetch)\b"),
               ("package.json", "pnpm-lock.yaml", ".npmrc"), blockers=_NODE_BLOCKERS),
    _Installer("go mod download", re.compile(r"\bgo\s+mod\s+download\b"), ("go.mod", "go.sum"), blockers=(
        _beside_blocker("go.work", "go.work makes it a workspace, whose modules the download needs too"),
        _content_blocker("go.mod", r"=>\s*\.{1,2}/", "go.mod replaces a module with a local folder"),
    )),
    _Installer("cargo", re.compile(r"\bcargo\s+(?:fetch|build|install|vendor)\b"), ("Cargo.toml", "Cargo.lock"),
               always_blocked="cargo reads Cargo.toml only with a target present: build the dependencies first "
                              "with a stub src/main.rs (or cargo-chef)"),
    _Installer("bundle install", re.compile(r"\bbundle(?:\s+install\b|\s*(?=$|[;&|)]|\s--))", re.MULTILINE),
               ("Gemfile", "Gemfile.lock"), blockers=(
        _content_blocker("Gemfile", r"^\s*gemspec\b|\bpath\s*(?::|=>)", "the Gemfile reads a gemspec or a local "
                         "path"),
    )),
    _Installer("mvn dependency", re.compile(r"\bmvn\b[^;&|\n]*\bdependency:(?:go-offline|resolve)"), ("pom.xml",),
               blockers=(_content_blocker("pom.xml", r"<modules>", "a multi-module pom.xml needs every module's "
                                          "pom too"),)),
    _Installer("gradle dependencies", re.compile(r"\bgradle\b[^;&|\n]*\b(?:dependencies|--refresh-dependencies)\b"),
               ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradle.properties")),
    _Installer("composer install", re.compile(r"\bcomposer\s+install\b"), ("composer.json", "composer.lock"),
               needs_flag="--no-autoloader", blockers=(
        _content_blocker("composer.json", r'"scripts"\s*:', "composer.json has scripts that run during the "
                         "install; add --no-scripts"),
    )),
    _Installer("mix deps.get", re.compile(r"\bmix\s+deps\.get\b"), ("mix.exs", "mix.lock"), blockers=(
        _content_blocker("mix.exs", r"\bapps_path\b", "an umbrella mix.exs needs every app's mix.exs too"),
    )),
)

# Manifest file names: a RUN that mentions only these (and no other source) can run before the broad COPY.
_MANIFEST_NAMES = (
    "*requirements*.txt", "*constraints*.txt", "pyproject.toml", "poetry.lock", "poetry.toml", "Pipfile",
    "Pipfile.lock", "uv.lock", "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
    "pnpm-lock.yaml", ".npmrc", ".yarnrc", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "Gemfile",
    "Gemfile.lock", "pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts",
    "gradle.properties", "composer.json", "composer.lock", "mix.exs", "mix.lock",
)

# Commands that read the project's sources even when no path is named (a Makefile, the package tree).
_NEEDS_SOURCES = re.compile(
    r"(?:^|[;&|(!]|\bthen\b|\bdo\b|\belse\b)\s*(?:sudo\s+)?(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*("
    r"make\b|cmake\b|ninja\b|gcc\b|g\+\+|cc\b|javac\b|tsc\b|dotnet\s+(?:build|publish|test)\b"
    r"|npm\s+(?:run|run-script|test|start|build|pack|publish|exec)\b|npx\b|yarn\s+(?:run|build|test|start)\b"
    r"|pnpm\s+(?:run|build|test|exec)\b|go\s+(?:build|install|test|vet|generate|run|mod\s+(?:tidy|vendor))\b"
    r"|(?:\./)?mvnw?\b[^;&|\n]*\b(?:compile|package|install|verify|test|deploy)\b"
    r"|(?:\./)?gradlew?\b[^;&|\n]*\b(?:build|assemble|jar|bootJar|installDist|test|compileJava)\b"
    r"|python3?\s+(?:setup\.py|-m\s+(?:build|pytest|compileall))\b|pytest\b|tox\b"
    r"|bundle\s+exec\b|rake\b|rails\b|mix\s+(?:compile|release|deps\.compile|assets\.deploy|phx\.digest)\b"
    r"|(?:\./)?(?:mvnw|gradlew)\b)",
    re.MULTILINE,
)
_WORD = re.compile(r"""[^\s'"`;&|()<>,\[\]{}]+""")
_REQUIREMENT_ARG = re.compile(r"""(?:^|\s)(?:-r|--requirement|-c|--constraint)(?:=|\s*)["']?([^\s"';&|)]+)""")
_REQUIREMENT_LINE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:=|\s*)(\S+)", re.MULTILINE)
_CD = re.compile(r"(?:^|[;&|(]|\s)cd\s+[\"']?([^\s\"';&|)]+)")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")
_VOLATILE_ARG = re.compile(
    r"(?:^|_)(?:CACHE_?BUST(?:ER)?|BUILD_?(?:DATE|TIME|TIMESTAMP|NUMBER|ID)|TIMESTAMP|(?:GIT_?)?COMMIT(?:_?SHA)?"
    r"|GIT_?(?:SHA|HASH|REV|REVISION)|REVISION|VCS_REF|GITHUB_SHA)$",
    re.IGNORECASE,
)


# --- the analysis ----------------------------------------------------------------------------------------


def _short(original: str, limit: int = 60) -> str:
    s = " ".join(original.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _body(ins: Instruction) -> str:
    """The instruction's arguments as written (shell text, heredocs included), without the keyword and flags."""
    return re.sub(r"^\s*\S+\s+(?:--\S+\s+)*", "", ins.original, count=1)


def _is_json_form(ins: Instruction) -> bool:
    return _body(ins).lstrip().startswith("[")


def _expand(text: str, env: dict[str, str | None]) -> str | None:
    """`$VAR` and `${VAR}` from the stage's known ENV/ARG values; None when one is not known."""
    unknown = False

    def sub(m: re.Match[str]) -> str:
        nonlocal unknown
        value = env.get(m.group(1) or m.group(2))
        if value is None:
            unknown = True
            return ""
        return value

    out = _VAR.sub(sub, text)
    return None if unknown else out


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path))


def _under(path: str, top: str) -> str | None:
    """`path` relative to the directory `top` ("" for top itself), None when outside it."""
    if path == top:
        return ""
    prefix = top.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


@dataclass(frozen=True)
class _Copy:
    """A COPY/ADD from the context, as image paths: which context files land where."""

    ins: Instruction
    roots: tuple[tuple[str, str], ...]  # (context directory, image directory) per directory source
    files: dict[str, str]  # image path -> context path, for every file it copies
    dirs: frozenset[str]  # image directories that receive copied files

    @property
    def broad(self) -> bool:
        return bool(self.roots)


def _map_copy(ins: Instruction, ctx: ContextFiles, wd: str | None, env: dict[str, str | None]) -> _Copy | None:
    dest_text = _expand(ins.value[-1], env)
    if dest_text is None or (wd is None and not dest_text.startswith("/")):
        return None
    dest = _join(wd or "/", dest_text)
    sources = [s for s in ins.context_sources if not s.startswith("<<")]
    excludes = [f.split("=", 1)[1] for f in ins.flags if f.startswith("--exclude=")]
    exclude = DockerIgnore(excludes, source="COPY --exclude") if excludes else None
    dir_like = dest_text.endswith("/") or len(sources) > 1 or dest == wd
    roots: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    for src in sources:
        rel = clean_path("/" + src).lstrip("/")
        if any(c in rel for c in "*?["):
            continue  # a wildcard copies chosen files, never the broad tree
        if rel in ctx.dirs:
            roots.append((rel, dest))
            for f in ctx.files:
                inner = _under(f, rel) if rel else f
                if inner and not (exclude and exclude.excluded(inner)):
                    files[_join(dest, inner)] = f
        elif rel in ctx.files:
            files[_join(dest, posixpath.basename(rel)) if dir_like else dest] = rel
    # The folders a RUN could name to read the copied tree: the destination and those below it.
    dirs = {dest for _, dest in roots}
    for image in files:
        d = posixpath.dirname(image)
        while d not in dirs and any(_under(d, top) for _, top in roots):
            dirs.add(d)
            d = posixpath.dirname(d)
    return _Copy(ins, tuple(roots), files, frozenset(dirs))


def _is_manifest(rel: str) -> bool:
    name = posixpath.basename(rel)
    return any(fnmatchcase(name, p) for p in _MANIFEST_NAMES)


def _requirement_includes(ctx: ContextFiles, rel: str) -> list[str]:
    """The files a pip requirements file pulls in with -r/-c, transitively (context paths)."""
    seen, todo = [rel], [rel]
    while todo:
        cur = todo.pop()
        for m in _REQUIREMENT_LINE.finditer(ctx.text(cur)):
            inc = clean_path(posixpath.join(posixpath.dirname(cur), m.group(1)))
            if inc in ctx.files and inc not in seen:
                seen.append(inc)
                todo.append(inc)
    return seen[1:]


@dataclass
class _RunUse:
    manifests: dict[str, str]  # image path -> context path: the manifests of the broad COPY it reads
    sources: list[str]  # words that name other files or folders of that COPY
    installers: list[tuple[_Installer, str]]  # with the context folder of their manifests


def _run_use(run: Instruction, copy: _Copy, ctx: ContextFiles, wd: str) -> _RunUse:
    body = _body(run)
    cds = [m.group(1) for m in _CD.finditer(body)]
    bases = [wd, *(_join(wd, d) for d in cds if "$" not in d)]
    # Files after -r/-c are manifests whatever their name, but only for pip (`sh -c ./x` is no manifest).
    pip = _INSTALLERS[0].command.search(body) is not None
    requirement_args = {m.group(1) for m in _REQUIREMENT_ARG.finditer(body)} if pip else set()
    use = _RunUse({}, [], [])
    words = [w.rsplit("=", 1)[-1] if w.startswith("-") else w for w in _WORD.findall(body)]
    for token in [*words, *requirement_args]:
        if not token or token.startswith("-") or any(c in token for c in "$*?") or "://" in token:
            continue
        if token in cds:
            continue
        path_token = token[:-4] or "." if token.endswith("/...") else token  # Go's ./... is the tree
        for base in bases:
            image = _join(base, path_token)
            rel = copy.files.get(image)
            if rel is not None:
                if _is_manifest(rel) or token in requirement_args:
                    use.manifests[image] = rel
                elif token not in use.sources:
                    use.sources.append(token)
                break
            if image in copy.dirs and token not in use.sources:
                use.sources.append(token)
                break
    for inst in _INSTALLERS:
        if not inst.command.search(body):
            continue
        if not inst.manifests:  # pip: the files it reads are named in the command (-r, -c)
            use.installers.append((inst, ""))
        for base in bases:
            found = {_join(base, n): copy.files.get(_join(base, n)) for n in inst.manifests}
            found = {k: v for k, v in found.items() if v is not None}
            if found:
                use.manifests.update(found)
                use.installers.append((inst, posixpath.dirname(next(iter(found.values())))))
                break
    for rel in list(use.manifests.values()):
        if rel.endswith(".txt"):
            for inc in _requirement_includes(ctx, rel):
                for root_ctx, root_img in copy.roots:
                    inner = _under(inc, root_ctx) if root_ctx else inc
                    if inner:
                        use.manifests[_join(root_img, inner)] = inc
    return use


def _why_not_movable(run: Instruction, use: _RunUse, ctx: ContextFiles) -> str | None:
    body = _body(run)
    if use.sources:
        names = ", ".join(f"`{s}`" for s in use.sources[:3])
        return f"it also reads {names} from the rest of the sources"
    m = _NEEDS_SOURCES.search(body)
    if m:
        return f"`{m.group(1).strip()}` in it needs the rest of the sources"
    for inst, where in use.installers:
        if inst.always_blocked:
            return inst.always_blocked
        if inst.needs_flag and inst.needs_flag not in body:
            return f"`{inst.label}` without {inst.needs_flag} installs the project itself, which needs its sources"
        for blocker in inst.blockers:
            why = blocker(ctx, where)
            if why:
                return why
    return None


def _edit_scenario(ctx: ContextFiles, copy: _Copy, used: Iterable[str], avoid: set[str]) -> str | None:
    """An edit of a file the broad COPY brings in that no dependency step reads: the edit that shows the waste."""
    avoid_all = avoid | set(used) | {f for f in copy.files.values() if _is_manifest(f)}
    for root_ctx, _ in copy.roots:
        pick = pick_edit_target(ctx.root, root_ctx or ".", avoid=avoid_all)
        if pick is not None and pick not in avoid_all and pick != DOCKERIGNORE:
            return "edit:" + re.sub(r"([*?\[\]\\])", r"\\\1", pick)
    return None


def _manifest_copies(copy: _Copy, manifests: Iterable[str]) -> tuple[str, ...]:
    """`COPY <manifests> <dest>/` lines: the broad COPY's destination form, flags and JSON form kept."""
    ins = copy.ins
    dest_text = ins.value[-1]
    groups: dict[str, list[str]] = {}
    for rel in sorted(manifests):
        for root_ctx, _ in copy.roots:
            inner = _under(rel, root_ctx) if root_ctx else rel
            if inner:
                sub = posixpath.dirname(inner)
                dest = dest_text if dest_text.endswith("/") else dest_text + "/"
                groups.setdefault(dest + (sub + "/" if sub else ""), []).append(rel)
                break
    word = ins.original.split(None, 1)[0] if ins.cmd == "COPY" else "COPY"
    flags = [f for f in ins.flags if f.split("=", 1)[0] in _KEPT_COPY_FLAGS]
    out = []
    for dest, srcs in groups.items():
        args = [*srcs, dest]
        if _is_json_form(ins) or any(c.isspace() for a in args for c in a):
            text = "[" + ", ".join(json.dumps(a) for a in args) + "]"
        else:
            text = " ".join(args)
        out.append(" ".join([word, *flags, text]))
    return tuple(out)


def _describe_copy(copy: _Copy) -> str:
    tops = [r for r, _ in copy.roots]
    if tops == [""]:
        return "brings every file in"
    return "brings every file of " + ", ".join(t + "/" for t in tops) + " in"


def _stage_findings(stage: Stage, ctx: ContextFiles, global_env: dict[str, str | None],
                    avoid: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    env: dict[str, str | None] = {}
    wd: str | None = "/"
    copies: list[_Copy] = []
    present: dict[str, str] = {}  # image path -> context path, from narrow COPYs so far
    moved: dict[int, set[int]] = {}  # broad COPY line -> lines already moved in front of it
    instructions = stage.instructions
    for idx, ins in enumerate(instructions):
        if ins.cmd == "WORKDIR" and ins.value:
            target = _expand(ins.value[0], env)
            known = target is not None and (wd is not None or target.startswith("/"))
            wd = _join(wd or "/", target) if known and target is not None else None
        elif ins.cmd == "ENV":
            for k, v in zip(ins.value[::2], ins.value[1::2], strict=False):
                env[k] = _expand(_unquote(v), env)
        elif ins.cmd == "ARG":
            for decl in ins.value:
                name, eq, default = decl.partition("=")
                env[name] = _expand(_unquote(default), env) if eq else global_env.get(name)
        elif ins.cmd in ("COPY", "ADD") and ins.context_sources:
            mapped = _map_copy(ins, ctx, wd, env)
            if mapped is not None:
                if mapped.broad:
                    copies.append(mapped)
                else:
                    present.update(mapped.files)
        elif ins.cmd == "RUN" and copies and wd is not None:
            finding = _install_finding(stage, idx, wd, copies, present, moved, ctx, avoid)
            if finding is not None:
                findings.append(finding)
    findings += _cache_bust_findings(stage)
    return findings


def _install_finding(stage: Stage, idx: int, wd: str, copies: list[_Copy], present: dict[str, str],
                     moved: dict[int, set[int]], ctx: ContextFiles, avoid: set[str]) -> Finding | None:
    run = stage.instructions[idx]
    for copy in copies:
        use = _run_use(run, copy, ctx, wd)
        if use.manifests:
            break
    else:
        return None
    why = _why_not_movable(run, use, ctx)
    between = [i for i in stage.instructions if copy.ins.line < i.line < run.line]
    carried = [i for i in between if i.cmd in ("ENV", "ARG") and i.line not in moved.get(copy.ins.line, ())]
    if why is None:
        for other in between:
            if other.cmd in _METADATA or other.line in moved.get(copy.ins.line, ()) or other in carried:
                continue
            why = f"`{_short(other.original, 40)}` (line {other.line}) stands between them"
            break
    if why is None and carried:
        # An ENV/ARG moved in front of the COPY changes what `$NAME` means in anything it passes.
        passed = [copy.ins, *(i for i in between if i.line < carried[-1].line)]
        if any("$" in i.original for i in passed):
            why = f"`{_short(carried[0].original, 40)}` would have to move past instructions that use variables"
    needed = sorted({rel for image, rel in use.manifests.items() if present.get(image) != rel})
    names = ", ".join(sorted(set(use.manifests.values())))
    src = _short(copy.ins.original, 40)
    cmd = _short(run.original)
    installs = bool(use.installers)
    head = f"`{src}` (line {copy.ins.line}) {_describe_copy(copy)} before `{cmd}` (line {run.line})"
    if installs:
        head += ": any edit re-runs the install."
    else:
        head += f", which needs only {names}: any edit re-runs it."
    fix: Fix | None = None
    if why is None:
        verb = "install" if installs else "run it"
        if needed:
            message = f"{head} Copy {', '.join(needed)} first, {verb}, then copy the rest."
        else:
            message = f"{head} {names} is already copied before it: {verb} first, then copy the rest."
        fix = Fix(copy.ins.line, _manifest_copies(copy, needed), (*(i.line for i in carried), run.line))
        moved.setdefault(copy.ins.line, set()).update(fix.moved)
    else:
        message = (f"{head} Copy {names} first and install from {'them' if len(use.manifests) > 1 else 'it'} "
                   f"in a step of its own, then copy the rest; this RUN cannot simply move: {why}.")
    return Finding(
        kind=COPY_BEFORE_INSTALL, stage=stage.label, line=copy.ins.line, instruction=copy.ins.original,
        message=message, scenario=_edit_scenario(ctx, copy, use.manifests.values(), avoid), related_line=run.line,
        related_instruction=run.original, manifests=tuple(sorted(set(use.manifests.values()))), fix=fix,
        why_no_fix=why,
    )


def _uses(ins: Instruction, name: str) -> bool:
    return re.search(r"\$(?:\{" + re.escape(name) + r"\b|" + re.escape(name) + r"\b)", ins.original) is not None


def _cache_bust_findings(stage: Stage) -> list[Finding]:
    """Steps whose input changes from build to build, early in a stage: everything after them re-runs."""
    out: list[Finding] = []
    steps = stage.instructions
    for k, ins in enumerate(steps):
        later = steps[k + 1:]
        if ins.cmd == "ADD" and not any(f.startswith("--checksum") for f in ins.flags):
            remote = [s for s in ins.value[:-1] if "://" in s or s.startswith("git@")]
            after = [i for i in later if i.cmd in ("RUN", "COPY", "ADD")]
            if remote and after:
                out.append(Finding(
                    kind=EARLY_CACHE_BUST, stage=stage.label, line=ins.line, instruction=ins.original,
                    message=(f"`{_short(ins.original, 50)}` (line {ins.line}) is fetched again on every build, and "
                             f"when its content changes the {len(after)} step(s) after it re-run. Move it down to "
                             "just before the step that needs it, and pin the URL to a version or add --checksum."),
                    scenario=None, related_line=after[0].line, related_instruction=after[0].original,
                ))
        if ins.cmd == "ARG":
            for decl in ins.value:
                name = decl.partition("=")[0]
                if not _VOLATILE_ARG.search(name):
                    continue
                user = next((i for i in later if _uses(i, name)), None)
                # Every RUN after an ARG has it in its environment; after the first step that uses it,
                # every step's cache key has changed too.
                cut = later.index(user) if user is not None else len(later)
                rerun = [i for i in later[:cut] if i.cmd == "RUN"]
                rerun += [i for i in later[cut + 1:] if i.cmd in ("RUN", "COPY", "ADD", "WORKDIR")]
                if not rerun:
                    continue
                where = (f"declare it, and the step that uses it (line {user.line}), as late in the stage as "
                         "possible" if user is not None else "nothing here names it: declare it last, or drop it")
                out.append(Finding(
                    kind=EARLY_CACHE_BUST, stage=stage.label, line=ins.line, instruction=ins.original,
                    message=(f"`{_short(ins.original, 50)}` (line {ins.line}) usually gets a new value per build "
                             f"(a date, a commit): then {len(rerun)} step(s) after it re-run, every time "
                             f"(first: line {rerun[0].line}). {where[0].upper()}{where[1:]}."),
                    scenario=f"arg:{name}=cacheprof-changed", related_line=rerun[0].line,
                    related_instruction=rerun[0].original,
                ))
    return out


def find_problems(model: DockerfileModel, context: Path) -> tuple[Finding, ...]:
    """The ordering problems of a Dockerfile built with `context`, in Dockerfile order."""
    ctx = ContextFiles.scan(context)
    avoid = set()
    df_rel = posixpath.relpath(Path(model.path).resolve().as_posix(), ctx.root.as_posix())
    if not df_rel.startswith("../"):
        avoid.add(df_rel)
    global_env: dict[str, str | None] = {}
    for ins in model.global_args:
        for decl in ins.value:
            name, eq, default = decl.partition("=")
            global_env[name] = _unquote(default) if eq else None
    findings = [f for s in model.stages for f in _stage_findings(s, ctx, global_env, avoid)]
    return tuple(sorted(findings, key=lambda f: (f.line, f.related_line or 0)))


# --- the rewrite -----------------------------------------------------------------------------------------


def rewrite(model: DockerfileModel, text: str, findings: Iterable[Finding]) -> str:
    """`text` with every finding's fix applied; every other line is kept byte for byte.

    An instruction moves with the comment lines right above it; new lines use the file's line ending.
    """
    fixes = sorted((f.fix for f in findings if f.fix is not None), key=lambda x: (x.anchor_line, x.moved[-1]))
    if not fixes:
        return text
    lines = text.splitlines(keepends=True)
    nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    spans = sorted((i.line, i.end_line) for i in (*model.global_args, *model.instructions))
    prev_end = {start: (spans[k - 1][1] if k else 0) for k, (start, _) in enumerate(spans)}
    end_of = dict(spans)

    def block(start: int) -> tuple[int, int]:
        """0-based first and last line of the instruction starting at `start`, its comments included."""
        first = start - 1
        while first - 1 >= prev_end[start] and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        return first, end_of[start] - 1

    def ended(chunk: list[str]) -> list[str]:
        if chunk and not chunk[-1].endswith(("\n", "\r")):
            chunk[-1] += nl
        return chunk

    inserts: dict[int, list[str]] = {}
    skipped: set[int] = set()
    for fix in fixes:
        at = inserts.setdefault(block(fix.anchor_line)[0], [])
        for start in fix.moved[:-1]:
            a, b = block(start)
            at += ended(lines[a:b + 1])
            skipped.update(range(a, b + 1))
        at += [ins + nl for ins in fix.insert]
        a, b = block(fix.moved[-1])
        at += ended(lines[a:b + 1])
        skipped.update(range(a, b + 1))
    out: list[str] = []
    for k, line in enumerate(lines):
        out += inserts.get(k, [])
        if k not in skipped:
            out.append(line)
    result = "".join(out)
    if not text.endswith(("\n", "\r")) and result.endswith(nl):
        result = result[: -len(nl)]
    return result


# --- output ----------------------------------------------------------------------------------------------


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind, "severity": f.severity, "stage": f.stage, "line": f.line, "instruction": f.instruction,
        "related_line": f.related_line, "related_instruction": f.related_instruction,
        "manifests": list(f.manifests), "message": f.message, "scenario": f.scenario,
        "fixed": f.fix is not None, "why_no_fix": f.why_no_fix,
        "fix": None if f.fix is None else {"before_line": f.fix.anchor_line, "insert": list(f.fix.insert),
                                           "moved_lines": list(f.fix.moved)},
    }
