"""What each instruction of a Dockerfile sees and brings: its stage's working directory, the build args and
ENV in scope (followed through `FROM <stage>`), and, for a COPY/ADD from the context, which context files land
at which image paths.

Pure and reusable: rules.py reads it for advice, and anything that predicts cache behaviour can read the
same model.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..context.dockerignore import DockerIgnore, clean_path
from ..dockerfile import DockerfileModel, Instruction, Stage
from .scan import ContextFiles

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


def unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path))


def under(path: str, top: str) -> str | None:
    """`path` relative to the directory `top` ("" for top itself), None when outside it."""
    if path == top:
        return ""
    if top in ("", "/"):
        return path.lstrip("/") if top == "/" and path.startswith("/") else (path if top == "" else None)
    prefix = top.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


def variables(text: str) -> set[str]:
    """The names `$NAME` / `${NAME}` in `text`."""
    return {m.group(1) or m.group(2) for m in _VAR.finditer(text)}


def expand(text: str, env: Mapping[str, Var]) -> str | None:
    """`$VAR` and `${VAR}` from known values; None when one is not known."""
    unknown = False

    def sub(m: re.Match[str]) -> str:
        nonlocal unknown
        var = env.get(m.group(1) or m.group(2))
        if var is None or var.value is None:
            unknown = True
            return ""
        return var.value

    out = _VAR.sub(sub, text)
    return None if unknown else out


@dataclass(frozen=True)
class Var:
    """A build arg or ENV in scope, and where a value that may change per build enters it."""

    name: str
    value: str | None  # None: not known from the Dockerfile (an ARG without default, or made from one)
    line: int  # the ARG or ENV instruction that set it
    kind: str  # "ARG" | "ENV"
    stage: str
    args: tuple[str, ...] = ()  # the build args its value comes from (itself for an ARG)
    defaulted: bool = True  # every one of those args has a default in the Dockerfile


@dataclass(frozen=True)
class CopyMap:
    """A COPY/ADD from the context, as image paths."""

    ins: Instruction
    dest: str  # absolute image path of the destination (a directory for dir-like copies)
    roots: tuple[tuple[str, str], ...]  # (context directory, image directory) per directory source
    files: Mapping[str, str]  # image path -> context path, for every file it copies
    wildcard: bool  # a source had a wildcard

    @property
    def broad(self) -> bool:
        """Copies a whole folder (the build context or part of it)."""
        return bool(self.roots)

    def context_files(self) -> set[str]:
        return set(self.files.values())


@dataclass(frozen=True)
class Step:
    ins: Instruction
    workdir: str | None  # None when not known (a WORKDIR from an unknown variable)
    env: Mapping[str, Var]  # build args and ENV in scope before the instruction
    copy: CopyMap | None  # for a COPY/ADD from the context


@dataclass(frozen=True)
class StageView:
    stage: Stage
    parent: int | None  # index of the earlier stage this one builds FROM
    steps: tuple[Step, ...]
    final_env: Mapping[str, Var]  # the ENV a child stage inherits


def _match_segments(pattern: str, path: str) -> bool:
    ps, xs = pattern.split("/"), path.split("/")
    return len(ps) == len(xs) and all(fnmatchcase(x, p) for p, x in zip(ps, xs, strict=True))


def map_copy(ins: Instruction, ctx: ContextFiles, wd: str | None, env: Mapping[str, Var]) -> CopyMap | None:
    """Which context files the COPY/ADD puts where; None when the destination is not known."""
    if not ins.value:
        return None
    dest_text = expand(unquote(ins.value[-1]), env)
    if dest_text is None or (wd is None and not dest_text.startswith("/")):
        return None
    dest = join(wd or "/", dest_text)
    sources = [unquote(s) for s in ins.context_sources if not s.startswith("<<")]
    excludes = [f.split("=", 1)[1] for f in ins.flags if f.startswith("--exclude=")]
    exclude = DockerIgnore(excludes, source="COPY --exclude") if excludes else None
    dir_like = dest_text.endswith("/") or len(sources) > 1 or dest == wd
    roots: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    wildcard = False

    def add_dir(rel: str) -> None:
        roots.append((rel, dest))
        for f in ctx.files:
            inner = under(f, rel) if rel else f
            if inner and not (exclude and exclude.excluded(inner)):
                files[join(dest, inner)] = f

    for src in sources:
        rel = clean_path("/" + src).lstrip("/")
        if any(c in rel for c in "*?["):
            wildcard = True
            for f in sorted(ctx.files):
                if _match_segments(rel, f):
                    files[join(dest, posixpath.basename(f))] = f
            for d in sorted(ctx.dirs - {""}):
                if _match_segments(rel, d):
                    add_dir(d)
        elif rel in ctx.dirs:
            add_dir(rel)
        elif rel in ctx.files:
            files[join(dest, posixpath.basename(rel)) if dir_like else dest] = rel
    return CopyMap(ins, dest, tuple(roots), files, wildcard)


def _declare_arg(decl: str, ins: Instruction, env: dict[str, Var], global_env: Mapping[str, Var]) -> None:
    name, eq, default = decl.partition("=")
    if eq:
        value = expand(unquote(default), env)
        env[name] = Var(name, value, ins.line, "ARG", ins.stage, (name,), True)
    else:
        g = global_env.get(name)
        env[name] = Var(name, g.value if g else None, ins.line, "ARG", ins.stage, (name,),
                        g is not None and g.value is not None)


def _set_env(ins: Instruction, env: dict[str, Var]) -> None:
    for k, v in zip(ins.value[::2], ins.value[1::2], strict=False):
        used = [env[n] for n in variables(v) if n in env]
        args = tuple(a for u in used for a in u.args)
        env[k] = Var(k, expand(unquote(v), env), ins.line, "ENV", ins.stage, args,
                     all(u.defaulted for u in used))


def walk(model: DockerfileModel, ctx: ContextFiles) -> tuple[StageView, ...]:
    """Every stage with what each instruction sees, in Dockerfile order."""
    global_env: dict[str, Var] = {}
    for ins in model.global_args:
        for decl in ins.value:
            _declare_arg(decl, ins, global_env, {})
    views: list[StageView] = []
    by_name: dict[str, int] = {}
    for stage in model.stages:
        parent = by_name.get(stage.base.lower())
        env: dict[str, Var] = {}
        wd: str | None = "/"
        if parent is not None:
            env = {k: v for k, v in views[parent].final_env.items() if v.kind == "ENV"}
            wd = _final_workdir(views[parent])
        steps: list[Step] = []
        for ins in stage.instructions:
            copy = None
            if ins.cmd in ("COPY", "ADD") and ins.context_sources:
                copy = map_copy(ins, ctx, wd, env)
            steps.append(Step(ins, wd, dict(env), copy))
            if ins.cmd == "WORKDIR" and ins.value:
                target = expand(unquote(" ".join(ins.value)), env)
                known = target is not None and (wd is not None or target.startswith("/"))
                wd = join(wd or "/", target) if known and target is not None else None
            elif ins.cmd == "ENV":
                _set_env(ins, env)
            elif ins.cmd == "ARG":
                for decl in ins.value:
                    _declare_arg(decl, ins, env, global_env)
        final = {k: v for k, v in env.items() if v.kind == "ENV"}
        views.append(StageView(stage, parent, tuple(steps), final))
        if stage.name:
            by_name[stage.name.lower()] = stage.index
    return tuple(views)


def _final_workdir(view: StageView) -> str | None:
    wd: str | None = view.steps[0].workdir if view.steps else "/"
    for step in view.steps:
        if step.ins.cmd == "WORKDIR" and step.ins.value:
            target = expand(unquote(" ".join(step.ins.value)), step.env)
            wd = join(step.workdir or "/", target) if target is not None and step.workdir is not None else None
    return wd
