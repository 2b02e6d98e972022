"""The advice rules (ids in findings.py, documented in docs/advise-rules.md).

- copy-before-install: sources are copied before a dependency-only step; the fix is a reorder that is safe by
  construction, or a reason why not.
- deps-in-build: a build resolves dependencies itself after the sources arrive; the fix is a new step.
- volatile-arg: an expensive step's cache key holds a build arg (or an ENV made from one) it does not use.
- remote-add: a remote ADD that is not pinned.

Pure: works on the Dockerfile model and a ContextFiles.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..dockerfile import DockerfileModel, Instruction
from .commands import BUILD, DEP, Action, Segment, classify, is_expensive, is_setup, mounts, reads_tree, segments
from .ecosystems import ECOSYSTEMS, is_build_file, matches
from .findings import (
    COPY_BEFORE_INSTALL,
    COPY_BEFORE_SETUP,
    DEPS_IN_BUILD,
    INFO,
    PROBLEM,
    REMOTE_ADD,
    VOLATILE_ARG,
    WARNING,
    Finding,
    Fix,
)
from .scan import ContextFiles
from .stages import CopyMap, StageView, Step, Var, expand, join, map_copy, under, variables, walk

_KEPT_COPY_FLAGS = ("--chown", "--chmod", "--link")
# Instructions a COPY may move past without any effect on what it copies or on them.
_NEUTRAL = frozenset({"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER", "ONBUILD",
                      "SHELL", "USER", "ENV", "ARG", "WORKDIR"})


def _short(text: str, limit: int = 60) -> str:
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _q(ins: Instruction, limit: int = 50) -> str:
    return f"`{_short(ins.original, limit)}` (line {ins.line})"


def is_source_copy(copy: CopyMap) -> bool:
    """Brings files that are not manifests or build definitions: an edit to them re-runs what follows."""
    return any(not is_build_file(rel) for rel in copy.files.values())


def _into_project(step: Step) -> bool:
    """A folder COPY, or one that lands under the WORKDIR: the project's sources. A single file put elsewhere
    (a tool into /usr/local/bin, an entrypoint script) is a deliberate narrow copy."""
    copy = step.copy
    assert copy is not None
    if copy.broad:
        return True
    wd = step.workdir
    return wd not in (None, "/") and all(under(image, wd) is not None for image in copy.files)


# --- what a command reads ----------------------------------------------------------------------------------


def _resolve(word: str, cwd: str | None, env: Mapping[str, Var]) -> str | None:
    w = word.replace("${PWD}", cwd or "\0").replace("$PWD", cwd or "\0").replace("$(pwd)", cwd or "\0")
    if "$" in w:
        w = expand(w, env) or w
    if "\0" in w or "$" in w or "://" in w or w.startswith("-"):
        return None
    if w.startswith("/"):
        return posixpath.normpath(w)
    return None if cwd is None else join(cwd, w)


def _word_hits(word: str, cwd: str | None, env: Mapping[str, Var], copies: Iterable[CopyMap],
               skip: set[str]) -> str | None:
    """The copied image path (or folder) a word names, if any."""
    candidates = [word]
    if "=" in word and not word.startswith("-"):
        candidates.append(word.split("=", 1)[1])
    for cand in candidates:
        path = _resolve(cand, cwd, env)
        if path is None:
            continue
        for copy in copies:
            wild = any(c in path for c in "*?[")
            for image in copy.files:
                if image in skip:
                    continue
                if (fnmatchcase(image, path) if wild else image == path) or (under(image, path) is not None \
                        and path != "/" and not wild):
                    return cand
    return None


def _module_hit(seg: Segment, copies: Iterable[CopyMap], skip: set[str]) -> str | None:
    """`python -m pkg.mod` where pkg is copied."""
    w = seg.words
    if not re.fullmatch(r"python[0-9.]*", w[0].rsplit("/", 1)[-1]) or "-m" not in w:
        return None
    k = w.index("-m")
    if k + 1 >= len(w) or seg.cwd is None:
        return None
    top = w[k + 1].split(".")[0]
    for copy in copies:
        for image in copy.files:
            if image not in skip and (under(image, join(seg.cwd, top)) is not None
                                      or image == join(seg.cwd, top + ".py")):
                return f"python -m {w[k + 1]}"
    return None


def _reads_sources(segs: Iterable[Segment], env: Mapping[str, Var], copies: list[CopyMap],
                   skip: set[str]) -> str | None:
    """Why these commands need the copied sources, or None. `skip`: image paths they may read (manifests)."""
    for seg in segs:
        tree = reads_tree(seg)
        if tree is not None and seg.cwd is not None and any(under(seg.cwd, c.dest) is not None for c in copies):
            return f"`{tree}` reads the sources in {seg.cwd}"
        hit = _module_hit(seg, copies, skip)
        if hit:
            return f"`{hit}` runs code from the sources"
        words = list(seg.words[1:])
        if "/" in seg.words[0]:
            words.insert(0, seg.words[0])  # ./scripts/setup.sh
        for quoted in [w for w in words if " " in w]:  # bash -c "python manage.py migrate"
            words += [x for x in re.split(r"[\s;&|]+", quoted) if x]
        for word in words:
            hit = _word_hits(word, seg.cwd, env, copies, skip)
            if hit:
                return f"`{' '.join(seg.words[:1])} … {hit}` reads {hit} from the sources"
    return None


# --- copy-before-install -----------------------------------------------------------------------------------


_LOCAL_REQ = re.compile(r"^\s*(?:-e|--editable)\b|^\s*(?:\.{1,2}/|/|file:)|@\s*file:|^\s*(?:-f|--find-links)[\s=]+"
                        r"(?:\.|/)|^\s*git\+file:", re.MULTILINE)
_REQ_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:=|\s*)(\S+)", re.MULTILINE)
_NODE_SCRIPTS = ("preinstall", "install", "postinstall", "prepare", "prepublish")
_LOCAL_SPECS = ("file:", "link:", "portal:", "./", "../", "/")
# A dependency taken from a folder of the project (poetry/uv/pipenv tables, composer path repositories).
_LOCAL_PY = re.compile(r"^\s*[\w.\"'-]+\s*=\s*\{[^}\n]*\bpath\s*=|^\s*\[tool\.uv\.workspace\]", re.MULTILINE)
_LOCAL_COMPOSER = re.compile(r'"type"\s*:\s*"path"')


def _json(ctx: ContextFiles, rel: str) -> dict:
    try:
        data = json.loads(ctx.text(rel))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _node_members(ctx: ContextFiles, where: str) -> tuple[list[str], str | None]:
    """Context paths of the workspace members' package.json files, and a reason to refuse."""
    pkg = _json(ctx, posixpath.join(where, "package.json"))
    globs: list[str] = []
    ws = pkg.get("workspaces")
    if isinstance(ws, dict):
        ws = ws.get("packages")
    if isinstance(ws, list):
        globs += [g for g in ws if isinstance(g, str)]
    for name in ("pnpm-workspace.yaml", "pnpm-workspace.yml"):
        text = ctx.text(posixpath.join(where, name))
        globs += re.findall(r"^\s*-\s*['\"]?([^'\"\s#]+)['\"]?", text, re.MULTILINE)
    members: list[str] = []
    for g in globs:
        if g.startswith("!"):
            continue
        pattern = posixpath.normpath(posixpath.join(where, g.rstrip("/"))) if where else g.rstrip("/")
        for d in sorted(ctx.dirs):
            if d and ((fnmatchcase(d, pattern) and d.count("/") == pattern.count("/")) or ("**" in g
                      and fnmatchcase(d, pattern))):
                rel = posixpath.join(d, "package.json")
                if rel in ctx.files:
                    members.append(rel)
    for rel in [posixpath.join(where, "package.json"), *members]:
        data = _json(ctx, rel)
        scripts = data.get("scripts")
        if isinstance(scripts, dict):
            hooks = [s for s in _NODE_SCRIPTS if s in scripts]
            if hooks:
                return members, f"{rel} has a `{hooks[0]}` script that runs during the install and may read any file"
        for table in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
            deps = data.get(table)
            local = [k for k, v in deps.items() if isinstance(v, str) and v.startswith(_LOCAL_SPECS)] \
                if isinstance(deps, dict) else []
            if local:
                return members, f"{rel} takes `{local[0]}` from a local folder, which the install reads too"
        pnpm = data.get("pnpm")
        if isinstance(pnpm, dict) and pnpm.get("patchedDependencies"):
            return members, f"{rel} patches dependencies with files from the sources (pnpm patchedDependencies)"
    return members, None


def _manifests(action: Action, step: Step, ctx: ContextFiles, copies: list[CopyMap],
               present: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """Image path -> context path of every file the dependency step reads, and a reason to refuse a reorder."""
    eco = ECOSYSTEMS.get(action.eco)
    cwd = action.segment.cwd
    if cwd is None:
        return {}, "its working directory is not known"
    everything: dict[str, str] = {**present}
    for c in copies:
        everything.update(c.files)
    found: dict[str, str] = {}
    if action.eco == "pip":
        env_files = [p for name in ("PIP_CONSTRAINT", "PIP_REQUIREMENT", "UV_CONSTRAINT") if name in step.env
                     for p in (step.env[name].value or "").split()]
        links = step.env.get("PIP_FIND_LINKS")
        if links is not None and any(not v.startswith(("http:", "https:")) for v in (links.value or ".").split()):
            return found, "PIP_FIND_LINKS points pip at a local folder, which the install reads too"
        todo = [join(cwd, r) for r in (*action.reads, *env_files)]
        while todo:
            image = todo.pop()
            rel = everything.get(image)
            if rel is None or image in found:
                continue
            found[image] = rel
            text = ctx.text(rel)
            m = _LOCAL_REQ.search(text)
            if m:
                return found, f"{rel} installs from a local path (`{m.group(0).strip()}`), which needs the sources"
            todo += [join(posixpath.dirname(image), inc) for inc in _REQ_INCLUDE.findall(text)]
        return found, None
    assert eco is not None
    for image, rel in everything.items():
        inner = under(image, cwd)
        if inner and matches(eco.manifests, inner) and (
                "/" not in inner or any("/" in p and fnmatchcase(inner, p) for p in eco.manifests)):
            found[image] = rel
    where = posixpath.dirname(found.get(join(cwd, "package.json"), "")) if action.eco in ("npm", "yarn", "pnpm") \
        else ""
    why: str | None = None
    if action.eco in ("npm", "yarn", "pnpm") and join(cwd, "package.json") in found:
        members, why = _node_members(ctx, where)
        for rel in members:
            inner = rel[len(where) + 1:] if where else rel
            found[join(cwd, inner)] = rel
        if action.eco == "yarn" and posixpath.join(where, ".yarnrc.yml") in ctx.files:
            why = why or "Yarn 2+ (.yarnrc.yml) also reads its .yarn/ folder (releases, plugins, patches)"
    for rel in found.values():
        text = ctx.text(rel)
        name = posixpath.basename(rel)
        if name == "go.work":
            why = why or "go.work makes it a workspace, whose modules the download needs too"
        elif name == "go.mod" and re.search(r"=>\s*\.{1,2}/", text):
            why = why or "go.mod replaces a module with a local folder"
        elif name == "Gemfile" and re.search(r"^\s*gemspec\b|\bpath\s*(?::|=>)|^\s*eval_gemfile\b", text, re.M):
            why = why or "the Gemfile reads a gemspec or a local path, which need the sources"
        elif name == "pom.xml" and re.search(r"<modules>|<relativePath>", text):
            why = why or "a multi-module pom.xml needs every module's pom too"
        elif name.startswith("settings.gradle") and re.search(r"\binclude(?:Build)?\s*[(\"']", text):
            why = why or "a multi-project Gradle build needs every project's build file too"
        elif name.endswith(("proj",)) and "<ProjectReference" in text:
            why = why or f"{rel} references other projects, whose files the restore needs too"
        elif name == "composer.json" and re.search(r'"(?:pre|post)-(?:install|update|autoload)-', text) \
                and "--no-scripts" not in action.segment.words:
            why = why or "composer.json has install scripts that run during the install; add --no-scripts"
        elif name == "composer.json" and _LOCAL_COMPOSER.search(text):
            why = why or "composer.json has a path repository, a folder of the sources the install reads"
        elif name in ("pyproject.toml", "Pipfile") and _LOCAL_PY.search(text):
            why = why or f"{rel} takes a dependency from a local path (or is a uv workspace), which the install reads"
    if action.eco == "gradle" and any(under(image, join(cwd, "buildSrc")) for c in copies for image in c.files):
        why = why or "buildSrc/ holds build logic that Gradle compiles for any task, dependencies included"
    if action.eco == "cargo" and action.kind == DEP and action.segment.words[1] == "fetch":
        why = why or "cargo reads Cargo.toml only with its targets present: build the dependencies with a stub"
    return found, why


def _truthy(value: str | None) -> bool:
    return (value or "").strip().strip("'\"").lower() in ("1", "true", "yes")


def _rewrites_lock(action: Action, found: Mapping[str, str], step: Step, segs: list[Segment]) -> str | None:
    """The install may rewrite a lock file the context sends: the moved COPY would then put the sent one back."""
    w = action.segment.words
    names = {posixpath.basename(rel) for rel in found.values()}
    env = {k: v.value for k, v in step.env.items()}
    text = " ".join(" ".join(s.words) for s in segs)
    if action.eco == "npm" and w[1] in ("install", "i") and names & {"package-lock.json", "npm-shrinkwrap.json"}:
        return "`npm install` may rewrite package-lock.json (`npm ci` never does)"
    if action.eco == "yarn" and "yarn.lock" in names and not {"--frozen-lockfile", "--immutable", "--pure-lockfile"} \
            & set(w) and not _truthy(env.get("YARN_ENABLE_IMMUTABLE_INSTALLS")):
        return "`yarn install` without --frozen-lockfile may rewrite yarn.lock"
    if action.eco == "pnpm" and w[1] != "fetch" and "pnpm-lock.yaml" in names and "--frozen-lockfile" not in w:
        return "`pnpm install` without --frozen-lockfile may rewrite pnpm-lock.yaml"
    if action.eco == "bundler" and "Gemfile.lock" in names and not {"--frozen", "--deployment"} & set(w) \
            and not (_truthy(env.get("BUNDLE_FROZEN")) or _truthy(env.get("BUNDLE_DEPLOYMENT"))) \
            and not re.search(r"bundle config (?:set )?(?:--local )?(?:frozen|deployment) (?:true|1)", text):
        return ("`bundle install` may rewrite Gemfile.lock (it adds the build's platform); run it frozen "
                "(BUNDLE_FROZEN=true, or bundle config set frozen true)")
    if action.eco == "pipenv" and "Pipfile.lock" in names and w[1] == "install" \
            and not {"--deploy", "--ignore-pipfile"} & set(w):
        return "`pipenv install` without --deploy may rewrite Pipfile.lock"
    if action.eco == "uv" and "uv.lock" in names and not {"--locked", "--frozen"} & set(w) \
            and not (_truthy(env.get("UV_LOCKED")) or _truthy(env.get("UV_FROZEN"))):
        return "`uv sync` without --locked may rewrite uv.lock"
    if action.eco == "mix" and "mix.lock" in names:
        return "`mix deps.get` may rewrite mix.lock"
    return None


def _outputs_sent(action: Action, copies: list[CopyMap]) -> str | None:
    eco = ECOSYSTEMS.get(action.eco)
    cwd = action.segment.cwd
    if eco is None or cwd is None:
        return None
    for out in eco.outputs:
        top = join(cwd, out)
        for c in copies:
            rel = next((r for image, r in c.files.items() if under(image, top)), None)
            if rel is not None:
                return (f"the context sends {out}/ ({rel}): `{_short(c.ins.original, 30)}` after the install would lay "
                        f"it over the fresh install; add {out} to .dockerignore first")
    return None


def _between_blocker(view: StageView, first: int, k: int, moved: list[int], ctx: ContextFiles,
                     fixed: Mapping[int, set[str]]) -> str | None:
    """Why the sources COPYs (indexes `moved`) cannot move from before `first` to right after step k.

    `fixed`: earlier dependency steps whose own reorder copies the manifests (image paths) they read."""
    step = view.steps[k]
    pending = [view.steps[i].copy for i in moved]
    for i in range(first, k):
        if i in moved:
            continue
        s = view.steps[i]
        ins = s.ins
        if ins.cmd in _NEUTRAL:
            continue
        if ins.cmd == "RUN":
            why = _reads_sources(segments(ins, s.workdir), s.env, [c for c in pending if c], fixed.get(i, set()))
            if why:
                return f"{_q(ins, 40)} stands between them and {why}"
            continue
        if ins.cmd in ("COPY", "ADD") and s.copy is not None:
            clash = [im for c in pending if c for im, rel in c.files.items()
                     if im in s.copy.files and s.copy.files[im] != rel]
            if not clash and not s.copy.broad:
                continue
        return f"{_q(ins, 40)} stands between them"
    for i in moved:
        s = view.steps[i]
        again = map_copy(s.ins, ctx, step.workdir, step.env) if s.copy is not None else None
        if again is None or again.dest != s.copy.dest:
            return f"{_q(s.ins, 40)} would copy elsewhere after the WORKDIR/ENV changes that follow it"
    return None


def _insert_lines(found: dict[str, str], present: Mapping[str, str], copies: list[CopyMap],
                  step: Step) -> tuple[str, ...]:
    """`COPY <manifests> <dir>/` lines for the manifests only the moved COPYs bring."""
    groups: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for image, rel in sorted(found.items(), key=lambda kv: kv[1]):
        if present.get(image) == rel:
            continue
        src = next(c for c in copies if c.files.get(image) == rel)
        word = "COPY"
        flags = tuple(f for f in src.ins.flags if f.split("=", 1)[0] in _KEPT_COPY_FLAGS)
        d = posixpath.dirname(image)
        dest = "./" if d == step.workdir else (d.rstrip("/") + "/")
        if step.workdir not in (None, "/") and under(d, step.workdir):
            dest = under(d, step.workdir) + "/"
        groups.setdefault((word, flags, dest), []).append(rel)
    out = []
    for (word, flags, dest), srcs in groups.items():
        args = [*srcs, dest]
        if any(c.isspace() for a in args for c in a):
            text = "[" + ", ".join(json.dumps(a) for a in args) + "]"
        else:
            text = " ".join(args)
        out.append(" ".join([word, *flags, text]))
    return tuple(out)


_SOURCE_EXT = frozenset(".py .js .mjs .ts .tsx .jsx .go .rs .java .kt .scala .cs .fs .rb .php .ex .exs .c .cc .cpp .h "
                        ".html .css .vue .svelte".split())


def _edit_scenario(copies: Iterable[CopyMap], skip: set[str]) -> str | None:
    """An edit of a copied source file that the dependency step does not read: the edit that shows the waste."""
    rels = sorted({rel for c in copies for rel in c.files.values()} - skip)
    rels = [r for r in rels if not is_build_file(r) and not posixpath.basename(r).startswith(".")]
    if not rels:
        return None
    pick = min(rels, key=lambda r: (posixpath.splitext(r)[1] not in _SOURCE_EXT,
                                    posixpath.basename(r).startswith("__"), r))
    return "edit:" + re.sub(r"([*?\[\]\\])", r"\\\1", pick)


# --- the stage walk ------------------------------------------------------------------------------------------


@dataclass
class _State:
    dep_done: set[str]  # ecosystems whose dependencies an earlier step (or stage) already resolved
    pending: list[Step]  # the COPYs of sources so far (a child stage starts with its parent's)


def _prepared_elsewhere(ins: Instruction) -> set[str]:
    """Ecosystems whose dependency folder a `COPY --from` brings from another stage or image."""
    sources = [s.rstrip("/") for s in ins.value[:-1]]
    return {e.name for e in ECOSYSTEMS.values()
            if any(s.endswith(d) or posixpath.basename(s) in e.outputs for s in sources for d in e.cache_dirs)
            or any(posixpath.basename(s) in e.outputs for s in sources)}


def _cache_mounted(ins: Instruction, eco: str) -> bool:
    dirs = ECOSYSTEMS[eco].cache_dirs if eco in ECOSYSTEMS else ()
    return any(m.get("type") == "cache" and any((m.get("target") or m.get("dst") or m.get("destination") or "")
                                                .rstrip("/").endswith(d) for d in dirs) for m in mounts(ins))


def _vendored(action: Action, copies: list[CopyMap], ins: Instruction) -> bool:
    """The sources carry the dependencies (Go's vendor/, `-mod=vendor`): the build downloads nothing."""
    if "-mod=vendor" in ins.original:
        return True
    e = ECOSYSTEMS[action.eco]
    cwd = action.segment.cwd
    return cwd is not None and any(join(cwd, v) in c.files for c in copies for v in e.vendored)


def _nearest(name: str, cwd: str, files: Mapping[str, str]) -> str | None:
    """Context path of `name` in the folder `cwd` or the nearest folder above it (how go and cargo look)."""
    d = cwd
    while True:
        rel = files.get(join(d, name))
        if rel is not None:
            return rel
        if d == "/":
            return None
        d = posixpath.dirname(d)


_CARGO_DEP_TABLE = re.compile(r"^\s*\[(?:[^\]]*\.)?(?:build-)?dependencies(?:\.[^\]]+)?\]\s*$|^\s*\[workspace\]", re.M)


def _declares_deps(action: Action, copies: list[CopyMap], present: Mapping[str, str], ctx: ContextFiles) -> bool:
    """Whether the build has dependencies to fetch: a go.mod with `require`, a Cargo.toml with a dependency.
    Other ecosystems always fetch something (plugins, the build backend, the SDK's packages)."""
    cwd = action.segment.cwd
    if action.eco not in ("go", "cargo") or cwd is None:
        return True
    files: dict[str, str] = {**present}
    for c in copies:
        files.update(c.files)
    if action.eco == "go":
        rel = _nearest("go.mod", cwd, files)
        if rel is None:
            return action.segment.words[1] == "get"  # GOPATH mode: only `go get` downloads
        return re.search(r"^\s*require\b", ctx.text(rel), re.M) is not None
    rel = _nearest("Cargo.toml", cwd, files)
    if rel is None:
        return True
    text = ctx.text(rel)
    for m in _CARGO_DEP_TABLE.finditer(text):
        header = m.group(0).strip()
        if header == "[workspace]" or re.match(r"\[(?:[^\]]*\.)?(?:build-)?dependencies\.", header):
            return True  # a workspace, or a [dependencies.name] table
        body = text[m.end():].split("\n[", 1)[0]
        if any(line.strip() and not line.strip().startswith("#") for line in body.splitlines()):
            return True
    return False


def _snippet(eco: str, action: Action, step: Step, present: Mapping[str, str], copies: list[CopyMap]) -> str:
    """The dependency-only step to add, with the COPY of the manifests it needs unless they are there already."""
    e = ECOSYSTEMS[eco]
    cwd = action.segment.cwd or step.workdir or "/"

    def at_cwd(files: Mapping[str, str]) -> list[str]:
        names = ["pyproject.toml"] if eco == "pip" else e.manifests
        return sorted({rel for image, rel in files.items() if (inner := under(image, cwd)) and "/" not in inner
                       and matches(tuple(names), inner)})

    have = at_cwd(present)
    need = [r for c in copies for r in at_cwd(c.files) if r not in have]
    copy = f"COPY {' '.join(dict.fromkeys(need))} ./" if need else ""
    prog = action.segment.words[0]
    text = e.dep_step.format(copy=copy, mvn=prog if "mvn" in prog else "mvn",
                             gradle=prog if "gradle" in prog else "gradle").lstrip("\n")
    after = e.after.format(mvn=prog, gradle=prog)
    where = (f"right after the COPY of {', '.join(have)}" if have and not need
             else "before the sources are copied")
    out = f"Add a dependency-only step {where} (a new step, not a reorder):\n" + "\n".join(
        f"    {line}" for line in text.split("\n"))
    if after:
        out += f"\nthen, after the sources: {after}"
    return out


def _stage_findings(view: StageView, ctx: ContextFiles, states: dict[int, _State]) -> list[Finding]:
    inherited = states.get(view.parent) if view.parent is not None else None
    state = _State(set(inherited.dep_done) if inherited else set(), list(inherited.pending) if inherited else [])
    states[view.stage.index] = state
    findings: list[Finding] = []
    present: dict[str, str] = {}  # image path -> context path, from manifest COPYs so far
    pending = state.pending
    # Kept beside `pending` as it grows (rebuilding it for every RUN made a long Dockerfile quadratic).
    copies = [s.copy for s in pending if s.copy is not None]
    fixed: dict[int, set[str]] = {}  # dependency steps given a reorder -> image paths of their manifests
    setups: list[int] = []  # expensive setup RUNs (system packages, tools) after sources
    for k, step in enumerate(view.steps):
        ins = step.ins
        if ins.cmd in ("COPY", "ADD"):
            if ins.copy_from is not None:
                state.dep_done |= _prepared_elsewhere(ins)
            elif step.copy is not None:
                if is_source_copy(step.copy) and _into_project(step):
                    pending.append(step)
                    copies.append(step.copy)
                else:
                    present.update(step.copy.files)
            continue
        if ins.cmd != "RUN":
            continue
        segs = segments(ins, step.workdir)
        actions = [a for a in map(classify, segs) if a is not None and a.kind in (DEP, BUILD)]
        if not actions and copies and is_setup(segs):
            setups.append(k)
        for action in actions:
            eco = action.eco
            if action.kind == DEP:
                if eco not in state.dep_done and copies:
                    finding = _install_finding(view, k, action, segs, pending, present, ctx, fixed)
                    findings.append(finding)
                    if finding.fix is not None:
                        fixed[k] = set(finding.manifest_images)
                state.dep_done.add(eco)
            else:
                if eco in state.dep_done or _cache_mounted(ins, eco) or _vendored(action, copies, ins) \
                        or not _declares_deps(action, copies, present, ctx):
                    continue
                if copies:
                    findings.append(_build_finding(view, k, action, pending, present, ctx))
                state.dep_done.add(eco)
    if setups and pending and not any(f.line == pending[0].ins.line for f in findings):
        findings.append(_setup_finding(view, setups, pending, ctx))
    return findings


def _local(view: StageView, pending: list[Step]) -> tuple[list[int], str | None]:
    """Indexes in this stage of the pending COPYs, and why they cannot move when one is in a parent stage."""
    for s in pending:
        if s.ins.stage != view.stage.label:
            return [], (f"the sources are copied in stage {s.ins.stage} ({_q(s.ins, 30)}) and the step runs in stage "
                        f"{view.stage.label}: move that COPY into the stages after it by hand")
    return [i for i, s in enumerate(view.steps) if any(s is p for p in pending)], None


def _install_finding(view: StageView, k: int, action: Action, segs: list[Segment], pending: list[Step],
                     present: dict[str, str], ctx: ContextFiles, fixed: Mapping[int, set[str]]) -> Finding:
    step = view.steps[k]
    run = step.ins
    copies = [s.copy for s in pending if s.copy is not None]
    first = pending[0].ins
    local, why = _local(view, pending)
    found, why_manifests = _manifests(action, step, ctx, copies, present)
    why = why or why_manifests
    if not found and not why:
        why = f"the files `{action.segment.words[0]}` reads are not in what the context sends"
    why = why or _rewrites_lock(action, found, step, segs)
    why = why or _outputs_sent(action, copies)
    why = why or _reads_sources(segs, step.env, copies, set(found))
    why = why or _between_blocker(view, local[0], k, local, ctx, fixed)
    names = ", ".join(sorted(set(found.values()))) or "its manifests"
    message = (f"{_q(first)} brings the sources in before {_q(run)}, which needs only {names}: any source edit "
               "re-runs the install.")
    insert = _insert_lines(found, present, copies, step)
    moved = [s.ins for s in pending]
    plan = "\n".join(f"    {line}" for line in (*insert, _short(run.original, 70), *(_short(m.original, 70)
                                                                                    for m in moved)))
    suggestion = f"Copy {names} first, install, then copy the rest:\n{plan}"
    fix = None if why else Fix(run.line, insert, tuple(m.line for m in moved))
    return Finding(
        rule=COPY_BEFORE_INSTALL, severity=PROBLEM, stage=view.stage.label,
        line=first.line, instruction=first.original, related_line=run.line, related_instruction=run.original,
        message=message, suggestion=suggestion, scenario=_edit_scenario(copies, set(found.values())),
        manifests=tuple(sorted(set(found.values()))), manifest_images=tuple(sorted(found)), fix=fix,
        why_not=None if fix else why,
    )


def _setup_finding(view: StageView, setups: list[int], pending: list[Step], ctx: ContextFiles) -> Finding:
    """System packages or tools installed after the sources: the sources COPY can move down past them."""
    copies = [s.copy for s in pending if s.copy is not None]
    first = pending[0].ins
    local, why = _local(view, pending)
    # Move past as many of the setup steps as can be passed, starting with the first.
    last: int | None = None
    for k in setups:
        step = view.steps[k]
        reason = why or _reads_sources(segments(step.ins, step.workdir), step.env, copies, set()) \
            or _between_blocker(view, local[0], k, local, ctx, {})
        if reason:
            why = why or (None if last is not None else reason)
            break
        last = k
    run = view.steps[setups[0]].ins
    message = (f"{_q(first)} brings the sources in before {_q(run)}, which installs system packages or tools: "
               "any source edit re-runs it.")
    target = view.steps[last].ins if last is not None else run
    fix = Fix(target.line, (), tuple(s.ins.line for s in pending)) if last is not None and not why else None
    if last is not None:
        suggestion = (f"Install the system packages and tools before copying the sources: move {_q(first, 30)} "
                      f"down to just after {_q(target, 40)}.")
    else:
        suggestion = (f"Copy only the files {_q(run, 40)} reads before it, run it, then copy the rest after it.")
    return Finding(
        rule=COPY_BEFORE_SETUP, severity=PROBLEM, stage=view.stage.label, line=first.line,
        instruction=first.original, related_line=run.line, related_instruction=run.original, message=message,
        suggestion=suggestion, scenario=_edit_scenario(copies, set()), fix=fix, why_not=None if fix else why,
    )


_WHAT = {"go": "the Go modules", "maven": "the Maven dependencies", "gradle": "the Gradle dependencies",
         "cargo": "the crates", "dotnet": "the NuGet packages", "pip": "the Python dependencies",
         "poetry": "the Python dependencies", "uv": "the Python dependencies", "composer": "the Composer packages"}


def _build_finding(view: StageView, k: int, action: Action, pending: list[Step], present: dict[str, str],
                   ctx: ContextFiles) -> Finding:
    step = view.steps[k]
    run = step.ins
    copies = [s.copy for s in pending if s.copy is not None]
    first = pending[0].ins
    what = _WHAT.get(action.eco, "the dependencies")
    message = (f"{_q(first)} brings the sources in before {_q(run)}, which resolves {what} itself: any source edit "
               f"fetches them all again. There is no dependency-only step to keep cached; this needs a new step, "
               "not a reorder.")
    return Finding(
        rule=DEPS_IN_BUILD, severity=PROBLEM, stage=view.stage.label, line=first.line, instruction=first.original,
        related_line=run.line, related_instruction=run.original, message=message,
        suggestion=_snippet(action.eco, action, step, present, copies),
        scenario=_edit_scenario(copies, set()), fix=None,
        why_not="a new step, not a reorder: what it downloads may differ from what the build fetched, so the "
                "image is not the same by construction; add it by hand and check with --measure",
    )


# --- volatile build args --------------------------------------------------------------------------------------

_PLATFORM = frozenset({"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS",
                       "BUILDARCH", "BUILDVARIANT"})
_PROXY = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"})
# Read by the tools in every RUN from the environment: the step depends on them on purpose.
_TOOL_ENV = re.compile(
    r"^(?:DEBIAN_FRONTEND|PIP_\w+|NPM_CONFIG_\w+|NODE_\w+|YARN_\w+|UV_\w+|POETRY_\w+|PIPENV_\w+|PYTHON\w*|CARGO_\w+"
    r"|RUST\w*|GO\w+|CGO_\w+|MAVEN_\w+|MAVEN_OPTS|GRADLE_\w+|JAVA_\w+|BUNDLE_\w+|BUNDLER_\w+|GEM_\w+|COMPOSER_\w*"
    r"|DOTNET_\w+|NUGET_\w+|LANG|LC_\w+|TZ|PATH|HOME|CC|CXX|CFLAGS|LDFLAGS|MAKEFLAGS|PNPM_\w+|COREPACK_\w+)$",
    re.IGNORECASE)
_VOLATILE = re.compile(
    r"(?:^|_)(?:COMMIT|SHA|HASH|REV|REVISION|REF|VCS_REF|DATE|TIME|TIMESTAMP|CACHE_?BUST(?:ER)?|NOCACHE|BUST"
    r"|BUILD_?(?:NUMBER|ID|TAG)|RUN_?(?:ID|NUMBER)|BRANCH|TAG|VERSION|RELEASE)(?:_|$)"
    r"|^(?:CI|GITHUB|GIT|GITLAB|BUILDKITE|JENKINS)_", re.IGNORECASE)


def _arg_suggestion(var: Var, views: tuple[StageView, ...], expensive: Instruction) -> str:
    """Where the declaration should go: just before the first step that uses it, never past it."""
    what = "Declare it" if var.kind == "ARG" else f"Set {var.name} (from {', '.join(var.args)})"
    later = [s.ins for v in views for s in v.steps if s.ins.line > expensive.line
             and (v.stage.label == var.stage or s.env.get(var.name) == var)]
    user = next((i for i in later if var.name in variables(i.original)), None)
    if user is None:
        return f"{what} after line {expensive.line} (nothing after it names {var.name}), or drop it."
    return (f"{what} after line {expensive.line}, just before line {user.line}, the first step that uses it "
            "(not past it: that step needs the value).")


def _arg_findings(views: tuple[StageView, ...]) -> list[Finding]:
    out: list[Finding] = []
    reported: set[int] = set()
    origins: dict[int, Instruction] = {}
    for v in views:
        for s in v.steps:
            origins.setdefault(s.ins.line, s.ins)
    for view in views:
        # name -> the last line so far of a step of this view that names it (one pass: a lookup per
        # variable, not a scan of the steps before each RUN, which made a long Dockerfile quadratic)
        named: dict[str, int] = {}
        for step in view.steps:
            ins = step.ins
            for name in variables(ins.original):
                named[name] = max(named.get(name, ins.line), ins.line)
            if ins.cmd != "RUN" or not is_expensive(segments(ins, step.workdir)):
                continue
            for var in step.env.values():
                if var.line in reported or var.name in _PLATFORM or var.name.upper() in _PROXY \
                        or _TOOL_ENV.match(var.name) or (var.kind == "ENV" and not var.args):
                    continue
                # The first step that names it re-runs anyway when it changes; only steps before it are waste.
                # Steps up to this one count: in the variable's own stage only those after its line.
                last = named.get(var.name)
                if last is not None and (var.stage != view.stage.label or last > var.line):
                    continue
                volatile = any(_VOLATILE.search(n) for n in (var.name, *var.args))
                severity = WARNING if volatile or not var.defaulted else INFO
                reported.add(var.line)
                origin = origins.get(var.line)
                origin_text = origin.original if origin is not None else var.name
                carried = f" (it carries the build arg {', '.join(var.args)})" if var.kind == "ENV" else ""
                where = f" in stage {view.stage.label}" if var.stage != view.stage.label else ""
                out.append(Finding(
                    rule=VOLATILE_ARG, severity=severity, stage=var.stage, line=var.line, instruction=origin_text,
                    related_line=ins.line, related_instruction=ins.original,
                    message=(f"`{_short(origin_text, 50)}` (line {var.line}){carried} is in the cache key of "
                             f"{_q(ins)}{where}, which does not use it: if this value changes per build, that step "
                             "and every step after it re-run every time."),
                    suggestion=_arg_suggestion(var, views, ins),
                    scenario=f"arg:{var.args[0] if var.args else var.name}=cacheprof-changed", fix=None,
                    why_not="RUN steps see build args in their environment; cacheprof cannot tell that none of the "
                            "steps it would move past reads it",
                ))
    return out


# --- remote ADD -------------------------------------------------------------------------------------------------

_MOVING = re.compile(r"(?:^|[/=#_.-])(?:latest|master|main|nightly|head|stable|current|trunk|edge)(?:$|[/._-])",
                     re.IGNORECASE)
_PINNED = re.compile(r"(?:^|[/=#@_-])v?\d+\.\d+|[0-9a-f]{12,40}", re.IGNORECASE)


def _remote_findings(views: tuple[StageView, ...]) -> list[Finding]:
    out: list[Finding] = []
    for view in views:
        # From the end: how many RUN/COPY/ADD steps follow each step, and the first of them (one pass, not a
        # scan of the rest per ADD).
        following: list[tuple[int, Instruction | None]] = [(0, None)] * len(view.steps)
        count, first = 0, None
        for k in range(len(view.steps) - 1, -1, -1):
            following[k] = (count, first)
            if view.steps[k].ins.cmd in ("RUN", "COPY", "ADD"):
                count, first = count + 1, view.steps[k].ins
        for k, step in enumerate(view.steps):
            ins = step.ins
            if ins.cmd != "ADD" or any(f.startswith("--checksum") for f in ins.flags):
                continue
            urls = [s for s in ins.value[:-1] if "://" in s or s.startswith("git@")]
            if not urls:
                continue
            n_after, next_work = following[k]
            pinned = all(_PINNED.search(u.split("://", 1)[-1]) and not _MOVING.search(u) for u in urls)
            if pinned or next_work is None:
                continue
            out.append(Finding(
                rule=REMOTE_ADD, severity=WARNING, stage=view.stage.label, line=ins.line, instruction=ins.original,
                related_line=next_work.line, related_instruction=next_work.original,
                message=(f"{_q(ins)} downloads a URL that is not pinned: when its content changes, the "
                         f"{n_after} step(s) after it re-run."),
                suggestion="Pin the URL to a version (or add --checksum=sha256:…), and move the ADD down to just "
                           "before the step that needs it.",
                fix=None, why_not="the pinned URL or checksum is not known to cacheprof",
            ))
    return out


def find_problems(model: DockerfileModel, ctx: ContextFiles) -> tuple[Finding, ...]:
    """Every finding of a Dockerfile built with the context `ctx`, in Dockerfile order."""
    views = walk(model, ctx)
    states: dict[int, _State] = {}
    findings = [f for v in views for f in _stage_findings(v, ctx, states)]
    findings += _arg_findings(views)
    findings += _remote_findings(views)
    return tuple(sorted(findings, key=lambda f: (f.line, f.related_line or 0, f.rule)))
