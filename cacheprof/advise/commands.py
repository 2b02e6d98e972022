"""What the shell text of a RUN does, as far as the build cache cares: which ecosystem's dependency step it
runs (needs only the manifests), which build also resolves dependencies, and what else it reads.

Pure: words in, verdicts out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ..dockerfile import Instruction

DEP, BUILD, TOOL = "dep", "build", "tool"  # dependency-only step | build resolving deps | installs a tool

_SPLIT = re.compile(r"&&|\|\||;|\||\n")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PREFIX = frozenset({"sudo", "exec", "time", "env", "nice", "command", "then", "do", "else", "if", "!", "{", "("})


@dataclass(frozen=True)
class Segment:
    """One simple command of a RUN: its words (env assignments and sudo dropped) and the directory it runs in."""

    words: tuple[str, ...]
    cwd: str | None


@dataclass(frozen=True)
class Action:
    eco: str
    kind: str  # DEP | BUILD | TOOL
    segment: Segment
    reads: tuple[str, ...] = ()  # files the command names as its manifests (pip -r), as written


def run_text(ins: Instruction) -> str:
    """The RUN's shell text (heredoc bodies included), without the keyword and flags; JSON form joined."""
    if ins.original.split(None, 1)[-1].lstrip().startswith("["):
        return " ".join(ins.value)
    text = re.sub(r"^\s*\S+\s+(?:--\S+\s+)*", "", ins.original, count=1)
    return re.sub(r"\\\n|`\n", " ", text)


def mounts(ins: Instruction) -> list[dict[str, str]]:
    out = []
    for f in ins.flags:
        if f.startswith("--mount="):
            kv = dict(p.split("=", 1) if "=" in p else (p, "") for p in f[len("--mount="):].split(","))
            kv.setdefault("type", "bind")
            out.append(kv)
    return out


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def segments(ins: Instruction, workdir: str | None) -> list[Segment]:
    """The simple commands of a RUN in order, following `cd`."""
    import posixpath

    text = run_text(ins)
    delimiters = set(re.findall(r"<<-?\s*['\"]?(\w+)['\"]?", text))
    text = re.sub(r"<<-?\s*['\"]?(\w+)['\"]?", " ", text)  # heredoc openers; the body follows as lines
    out: list[Segment] = []
    cwd = workdir
    for part in _SPLIT.split(text):
        words = _words(part)
        while words and (words[0] in _PREFIX or _ASSIGN.match(words[0])):
            words = words[1:]
        if not words or words[0] == "set" or (len(words) == 1 and words[0] in delimiters):
            continue
        if words[0] == "cd":
            target = words[1] if len(words) > 1 else "~"
            cwd = (posixpath.normpath(posixpath.join(cwd or "/", target))
                   if cwd is not None and "$" not in target and "~" not in target else None)
            continue
        out.append(Segment(tuple(words), cwd))
    return out


def _after(words: tuple[str, ...], *head: str) -> tuple[str, ...] | None:
    """The words after the command `head` (program name matched by basename), None when it is not that."""
    n = len(head)
    if len(words) < n:
        return None
    prog = words[0].rsplit("/", 1)[-1]
    if not re.fullmatch(head[0], prog):
        return None
    if any(not re.fullmatch(h, w) for h, w in zip(head[1:], words[1:n], strict=True)):
        return None
    return words[n:]


_PIP_VALUE_FLAGS = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target",
                              "--prefix", "--root", "--trusted-host", "--platform", "--python-version",
                              "--implementation", "--abi", "--cache-dir", "--src", "--upgrade-strategy",
                              "--progress-bar", "--python", "-p", "--only-binary", "--no-binary", "--config-settings",
                              "-C", "--global-option", "--report", "--index-strategy", "--extra-index"})


def _pip(args: tuple[str, ...], seg: Segment) -> Action:
    reads: list[str] = []
    targets: list[str] = []
    k = 0
    while k < len(args):
        a = args[k]
        m = re.match(r"^(?:-r|-c)(.+)$|^(?:--requirement|--constraint)=(.+)$", a)
        if a in ("-r", "--requirement", "-c", "--constraint", "-e", "--editable"):
            if k + 1 < len(args):
                (targets if a in ("-e", "--editable") else reads).append(args[k + 1])
            k += 2
            continue
        if m:
            reads.append(m.group(1) or m.group(2))
        elif a in _PIP_VALUE_FLAGS:
            k += 2
            continue
        elif not a.startswith("-"):
            targets.append(a)
        k += 1
    local = [t for t in targets if t == "." or t.startswith(("./", "../", "/", "$")) or t.endswith("/")
             or re.search(r"\.(?:whl|tar\.gz|zip)$", t)]
    if local:
        return Action("pip", BUILD, seg)
    if reads and not targets:
        return Action("pip", DEP, seg, tuple(reads))
    return Action("pip", TOOL, seg)


def _flags_only(args: tuple[str, ...]) -> bool:
    return all(a.startswith("-") for a in args)


def classify(seg: Segment) -> Action | None:
    w = seg.words
    args = _after(w, r"pip[0-9.]*", "install") or _after(w, r"python[0-9.]*", "-m", "pip", "install") \
        or _after(w, "uv", "pip", "install")
    if args is not None:
        return _pip(args, seg)
    if (args := _after(w, "uv", "pip", "sync")) is not None:
        return Action("pip", DEP, seg, tuple(a for a in args if not a.startswith("-")))
    if (args := _after(w, "poetry", "install")) is not None:
        if "--no-root" in args:
            return Action("poetry", DEP, seg)
        return None if "--only-root" in args else Action("poetry", BUILD, seg)
    if (args := _after(w, "uv", "sync")) is not None:
        no_project = any(a in ("--no-install-project", "--no-install-workspace") for a in args)
        return Action("uv", DEP if no_project else BUILD, seg)
    if (args := _after(w, "pipenv", "install|sync")) is not None:
        return Action("pipenv", DEP if _flags_only(args) else TOOL, seg)
    if (args := _after(w, "npm", "ci|install|i|add")) is not None:
        return Action("npm", DEP if _flags_only(args) and w[1] != "add" else TOOL, seg)
    if (args := _after(w, "yarn")) is not None:
        if not args or args[0] == "install" or _flags_only(args):
            return Action("yarn", DEP, seg)
        return Action("yarn", TOOL, seg) if args[0] in ("add", "global") else None
    if (args := _after(w, "pnpm", "install|i|fetch")) is not None:
        return Action("pnpm", DEP if _flags_only(args) else TOOL, seg)
    if (args := _after(w, "go", "mod", "download")) is not None:
        return Action("go", DEP, seg)
    if (args := _after(w, "go", "build|install|run|test|get|vet|generate")) is not None \
            or (args := _after(w, "go", "mod", "tidy|vendor")) is not None:
        if w[1] in ("install", "get") and any("@" in a for a in args):
            return Action("go", TOOL, seg)
        return Action("go", BUILD, seg)
    if (args := _after(w, r"mvnw?")) is not None:
        if any(re.search(r"dependency:(?:go-offline|resolve|resolve-plugins)|:go-offline$", a) for a in args):
            return Action("maven", DEP, seg)
        if any(re.fullmatch(r"compile|test|package|verify|install|deploy|[\w.-]+:(?:run|repackage|build|jar)", a)
               for a in args):
            return Action("maven", BUILD, seg)
        return None
    if (args := _after(w, r"gradlew?")) is not None:
        tasks = [a.rsplit(":", 1)[-1] for a in args if not a.startswith("-")]
        if any(t in ("dependencies", "resolveDependencies", "downloadDependencies", "androidDependencies")
               for t in tasks) or (not tasks and "--refresh-dependencies" in args):
            return Action("gradle", DEP, seg)
        if any(t in ("build", "assemble", "jar", "bootJar", "installDist", "shadowJar", "test", "compileJava",
                     "compileKotlin", "classes", "distTar", "distZip", "buildFatJar", "nativeCompile", "war",
                     "bootWar", "check") for t in tasks):
            return Action("gradle", BUILD, seg)
        return None
    if (args := _after(w, "cargo", "chef", "cook")) is not None or _after(w, "cargo", "fetch") is not None:
        return Action("cargo", DEP, seg)
    if (args := _after(w, "cargo", "install")) is not None:
        return Action("cargo", BUILD if "--path" in args or any(a.startswith("--path=") for a in args) else TOOL,
                      seg)
    if _after(w, "cargo", "build|test|run|check|doc|clippy|bench") is not None:
        return Action("cargo", BUILD, seg)
    if _after(w, "dotnet", "restore") is not None:
        return Action("dotnet", DEP, seg)
    if (args := _after(w, "dotnet", "build|publish|test|run|pack")) is not None:
        return None if "--no-restore" in args else Action("dotnet", BUILD, seg)
    if (args := _after(w, "bundle")) is not None:
        if not args or args[0] == "install" or _flags_only(args):
            return Action("bundler", DEP, seg)
        return None
    if (args := _after(w, "composer(?:\\.phar)?", "install")) is not None:
        if "--no-autoloader" in args:
            return Action("composer", DEP, seg)
        optimize = any(a in ("-o", "--optimize-autoloader", "-a", "--classmap-authoritative",
                             "--apcu-autoloader") or re.fullmatch(r"-[a-z]*o[a-z]*", a) for a in args)
        return Action("composer", BUILD if optimize else DEP, seg)
    if _after(w, "mix", r"deps\.get") is not None:
        return Action("mix", DEP, seg)
    if _after(w, "gem", "install") is not None:
        return Action("gem", TOOL, seg)
    return None


# Steps that take long enough that re-running them per build matters (for build args and remote ADD).
_EXPENSIVE = re.compile(
    r"^(?:apt-get|apt|aptitude)$|^(?:apk)$|^(?:yum|dnf|microdnf|zypper|pacman|tdnf)$|^(?:curl|wget)$"
    r"|^(?:make|cmake|ninja|gcc|g\+\+|cc|javac|tsc|webpack|vite|esbuild|rustc)$")


_PACKAGE_MANAGERS = frozenset({"apt-get", "apt", "aptitude", "apk", "yum", "dnf", "microdnf", "zypper", "pacman",
                               "tdnf"})


def is_expensive(segs: list[Segment]) -> bool:
    if is_setup(segs):
        return True
    for seg in segs:
        if classify(seg) is not None:
            return True
        prog = seg.words[0].rsplit("/", 1)[-1]
        if _EXPENSIVE.search(prog):
            if prog in _PACKAGE_MANAGERS:
                if any(a in ("install", "add", "upgrade", "dist-upgrade", "-S", "-Syu") for a in seg.words[1:]):
                    return True
                continue
            return True
        if prog in ("npm", "yarn", "pnpm") and len(seg.words) > 2 and seg.words[1] == "run" \
                and seg.words[2] in ("build", "compile"):
            return True
    return False


def is_setup(segs: list[Segment]) -> bool:
    """Installs system packages or a tool (not the project's dependencies), or downloads something."""
    for seg in segs:
        action = classify(seg)
        if action is not None and action.kind == TOOL:
            return True
        # The package manager may come after a wrapper (`xargs -a list apt-get install`).
        for k, word in enumerate(seg.words):
            if word.rsplit("/", 1)[-1] in _PACKAGE_MANAGERS and any(
                    a in ("install", "add", "upgrade", "dist-upgrade", "-S", "-Syu") for a in seg.words[k + 1:]):
                return True
        prog = seg.words[0].rsplit("/", 1)[-1]
        if prog in ("curl", "wget"):
            return True
    return False


# Commands that read the working directory's tree without naming a file.
_TREE_READERS = re.compile(
    r"^(?:make|cmake|ninja|tsc|webpack|vite|rake|rails|pytest|tox|jest|mocha|gulp|grunt|next|nuxt|ng)$")


def reads_tree(seg: Segment) -> str | None:
    """A command that reads the sources under its directory without naming them, or None."""
    w = seg.words
    prog = w[0].rsplit("/", 1)[-1]
    if _TREE_READERS.match(prog):
        return prog
    if (prog in ("npm", "yarn", "pnpm", "npx", "bun") and len(w) > 1 and w[1] in (
            "run", "run-script", "test", "start", "build", "pack", "publish", "exec", "dlx", "x")) or prog == "npx":
        return " ".join(w[:2])
    if prog in ("bundle", "mix") and len(w) > 1 and w[1] in ("exec", "compile", "release"):
        return " ".join(w[:2])
    action = classify(seg)
    if action is not None and action.kind == BUILD:
        return " ".join(w[:2])
    if re.fullmatch(r"python[0-9.]*", prog) and len(w) > 1 and w[1] == "setup.py":
        return "python setup.py"
    return None
