"""What a change will rebuild, predicted without building.

Given the Dockerfile model, the files the builder would receive (`.dockerignore` applied exactly as the
CLI applies it), a set of changed context paths and changed build args, say for every step the builder
shows whether it re-runs and the first reason. The rules are the builders' cache keys:

- a step re-runs when its parent step re-ran (both builders chain keys by parent);
- COPY/ADD from the context, and `RUN --mount=type=bind`, are keyed by the content of the files they
  read (both builders hash content, not times), so they re-run when one of those files changed;
- `COPY --from=<stage>` and `--mount=...,from=<stage>` are keyed by the content of the stage's files:
  predicted to re-run when the stage re-ran (its output is assumed to change; byte-identical output
  would be CACHED, which is why such a prediction is marked uncertain);
- a RUN sees every build arg declared in its stage and every ENV as environment, so a changed value
  re-runs it; other instructions re-run when a variable they expand changed;
- BuildKit builds only the stages the target needs and shows only FROM/RUN/COPY/ADD/WORKDIR as steps;
  the classic builder builds every stage up to the target and shows every instruction as a step.

Pure: reads the context (no engine).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..context.dockerignore import DockerIgnore, clean_path
from ..context.edits import _source_files
from ..context.walk import resolve_context, walk_context
from ..dockerfile import VERTEX_MAKING, DockerfileModel, Instruction, Stage
from ..errors import UsageError
from ..model import Builder

_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class StepPrediction:
    stage: str
    position: int
    line: int
    instruction: str
    rebuild: bool
    why: str
    # False when the rebuild rests on an assumption (a re-run stage's output changes).
    certain: bool = True
    expected_s: float | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.stage, self.position)


@dataclass(frozen=True)
class Prediction:
    builder: str
    changed: tuple[str, ...]  # changed context paths the builder receives
    ignored: tuple[str, ...]  # changed paths .dockerignore keeps out of the context (no effect)
    args: Mapping[str, tuple[str | None, str | None]]  # changed build args: name -> (before, after)
    steps: tuple[StepPrediction, ...]
    skipped_stages: tuple[str, ...] = ()  # stages the builder does not build for this target
    notes: tuple[str, ...] = ()  # where the prediction may not hold

    @property
    def rebuild_keys(self) -> frozenset[tuple[str, int]]:
        return frozenset(s.key for s in self.steps if s.rebuild)

    @property
    def expected_s(self) -> float | None:
        priced = [s.expected_s for s in self.steps if s.rebuild]
        if any(p is None for p in priced):
            return None
        return sum(p for p in priced if p is not None)


@dataclass(frozen=True)
class ContextFiles:
    """The regular files of a context as a builder receives them, and the ignore rules for paths that
    no longer exist (a deleted file still changes what a COPY copies)."""

    root: str
    files: frozenset[str]
    ignore: DockerIgnore
    builder: Builder
    dockerfile_rel: str | None

    def sent(self, rel: str) -> bool:
        if rel in self.files:
            return True
        if os.path.lexists(os.path.join(self.root, rel)):
            return False  # it exists and the walk left it out
        if rel == self.dockerfile_rel and self.builder is Builder.BUILDKIT:
            return True
        return not self.ignore.excluded(rel)


def context_files(context_dir: Path, dockerfile: Path, builder: Builder) -> ContextFiles:
    """The files a COPY can read, per builder, as cacheprof (and the CLI) sends them.

    Both builders leave out what .dockerignore excludes. BuildKit without a session receives the
    Dockerfile even when it is excluded, and COPY can read it; the classic daemon deletes an excluded
    Dockerfile and .dockerignore from the context before the build.
    """
    root = resolve_context(context_dir)
    ignore = DockerIgnore.for_context(Path(root))
    real = os.path.realpath(dockerfile)
    rel = os.path.relpath(real, root).replace(os.sep, "/")
    df_rel = None if rel == ".." or rel.startswith("../") else rel
    walk_ignore = ignore
    if builder is Builder.BUILDKIT and df_rel is not None and ignore.legacy_matches(df_rel):
        walk_ignore = ignore.with_patterns(["!" + df_rel])
    files = frozenset(e.rel for e in walk_context(root, walk_ignore if walk_ignore else None)
                      if stat.S_ISREG(e.st.st_mode))
    return ContextFiles(root, files, ignore, builder, df_rel)


def context_relative(context_dir: Path, path: str) -> str:
    """A --changed path as a context-relative slash path: relative paths count from the context;
    anything that leaves the context is an error."""
    root = resolve_context(context_dir)
    if os.path.isabs(path):
        rel = os.path.relpath(os.path.realpath(path), root)
    else:
        rel = clean_path(path.replace(os.sep, "/"))
    rel = rel.replace(os.sep, "/")
    if rel == ".." or rel.startswith("../") or rel == ".":
        raise UsageError(f"--changed {path}: the path is outside the build context {root}; "
                         "give paths inside the context, relative to it")
    return rel


# --- Dockerfile facts ------------------------------------------------------------------------------


def _flag(instr: Instruction, name: str) -> str | None:
    for f in instr.flags:
        if f.startswith(f"--{name}="):
            return f.split("=", 1)[1]
    return None


def stage_dependencies(model: DockerfileModel) -> dict[int, tuple[int, ...]]:
    """Per stage index, the stages it builds on or copies from."""
    deps: dict[int, tuple[int, ...]] = {}
    for st in model.stages:
        refs: list[int] = []
        base = model.stage_ref(st.base, st.index)
        if base is not None:
            refs.append(base.index)
        for instr in st.instructions:
            names = [instr.copy_from] if instr.cmd in ("COPY", "ADD") and instr.copy_from else []
            if instr.cmd == "RUN":
                names += [m["from"] for m in instr.bind_mounts if m.get("from")]
            for name in names:
                s = model.stage_ref(name, st.index)
                if s is not None:
                    refs.append(s.index)
        deps[st.index] = tuple(dict.fromkeys(refs))
    return deps


def target_index(model: DockerfileModel, target: str | None) -> int:
    if target is None:
        return model.stages[-1].index
    for s in model.stages:
        if s.name and s.name.lower() == target.lower():
            return s.index
    raise UsageError(f"--target {target}: no stage of that name in {model.path}")


def built_stages(model: DockerfileModel, builder: Builder, target: str | None) -> tuple[int, ...]:
    """The stages a build runs: BuildKit only those the target needs; classic all up to the target."""
    t = target_index(model, target)
    if builder is Builder.CLASSIC:
        return tuple(range(t + 1))
    deps = stage_dependencies(model)
    need: set[int] = set()
    todo = [t]
    while todo:
        i = todo.pop()
        if i not in need:
            need.add(i)
            todo.extend(deps.get(i, ()))
    return tuple(sorted(need))


def is_step(instr: Instruction, builder: Builder) -> bool:
    """Whether the builder shows this instruction as a step of its own."""
    return builder is Builder.CLASSIC or instr.cmd in VERTEX_MAKING


def _vars(text: str) -> set[str]:
    return {a or b for a, b in _VAR_RE.findall(text)}


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _files_phrase(files: Sequence[str]) -> str:
    shown = ", ".join(f"`{f}`" for f in files[:3])
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    return f"{len(files)} file{'s' if len(files) != 1 else ''} changed: {shown}{more}"


def _value(v: str | None) -> str:
    return "(unset)" if v is None else f"`{v}`"


# --- the prediction -----------------------------------------------------------------------------


@dataclass
class _StageState:
    rerun: bool = False
    why: str = ""
    certain: bool = True
    env_changed: dict[str, str] = field(default_factory=dict)  # name -> why


def _arg_values(model: DockerfileModel, build_args: Mapping[str, str]) -> dict[str, str | None]:
    """Global ARG values (those before the first FROM), as FROM lines and `ARG NAME` re-declarations see them."""
    out: dict[str, str | None] = {}
    for g in model.global_args:
        for kv in g.value:
            name, eq, default = kv.partition("=")
            out[name] = build_args.get(name, default.strip('"') if eq else None)
    return out


def predict(
    model: DockerfileModel,
    files: ContextFiles,
    changed_paths: Iterable[str] = (),
    *,
    build_args: Mapping[str, str] | None = None,
    new_args: Mapping[str, str] | None = None,
    target: str | None = None,
    costs: Mapping[tuple[str, int], float] | None = None,
    edited: frozenset[tuple[str, int]] = frozenset(),
) -> Prediction:
    """Per step of the builder's build: re-run or cached, and the first reason.

    `build_args` are the values of the build the cache holds; `new_args` the values that change.
    `costs` maps (stage, position) to measured seconds of that step when it ran; `edited` names
    instructions whose own text changed in the Dockerfile.
    """
    builder = files.builder
    before = dict(build_args or {})
    after = {**before, **dict(new_args or {})}
    # A changed directory stands for the files under it.
    expanded: list[str] = []
    for c in changed_paths:
        is_dir = c not in files.files and os.path.isdir(os.path.join(files.root, c))
        under = [f for f in files.files if f.startswith(c.rstrip("/") + "/")] if is_dir else []
        expanded += sorted(under) or [c]
    changed_all = sorted(dict.fromkeys(expanded))
    changed = [p for p in changed_all if files.sent(p)]
    ignored = [p for p in changed_all if not files.sent(p)]
    g_before, g_after = _arg_values(model, before), _arg_values(model, after)
    args_changed = {n: (before.get(n), after.get(n)) for n in after if before.get(n) != after.get(n)}

    built = built_stages(model, builder, target)
    states: dict[int, _StageState] = {}
    out: list[StepPrediction] = []
    for st in model.stages:
        if st.index not in built:
            continue
        state = _StageState()
        base = model.stage_ref(st.base, st.index)
        if base is not None and base.index in states:
            parent = states[base.index]
            state.env_changed = dict(parent.env_changed)
            if parent.rerun:
                state.rerun, state.certain = True, parent.certain
                state.why = f"stage `{base.label}` it starts from re-ran ({parent.why})"
        elif _vars(st.base) & {n for n in g_before if g_before[n] != g_after[n]}:
            state.rerun, state.why = True, "base image changed (a global ARG in FROM changed)"
        arg_scope: dict[str, tuple[str | None, str | None]] = {}
        for instr in st.instructions:
            own: str | None = None  # this instruction's own reason to re-run
            certain = True
            if instr.cmd == "FROM":
                # A local base image is CACHED; a stage base passes its state on.
                if (st.label, instr.position) in edited and not state.rerun:
                    state.rerun, state.why = True, f"base image changed: the FROM line changed (line {instr.line})"
            elif instr.cmd == "ARG":
                for kv in instr.value:
                    name, eq, default = kv.partition("=")
                    d = default.strip('"') if eq else None
                    b = before.get(name, d if eq else g_before.get(name))
                    a = after.get(name, d if eq else g_after.get(name))
                    arg_scope[name] = (b, a)
            elif instr.cmd == "ENV":
                pairs = instr.value if len(instr.value) % 2 == 0 else ()
                for k in range(0, len(pairs), 2):
                    moved = _changed_vars(pairs[k + 1], arg_scope, state.env_changed)
                    if moved:
                        state.env_changed[pairs[k]] = moved
                        own = own or moved
                if builder is Builder.BUILDKIT:
                    own = None  # not a step: the changed value reaches the RUNs below
            elif instr.cmd == "RUN":
                scope = {n: v for n, v in arg_scope.items() if v[0] != v[1]}
                if scope:
                    n, (b, a) = next(iter(scope.items()))
                    own = f"ARG `{n}` changed: {_value(b)} → {_value(a)}"
                elif state.env_changed:
                    n, why = next(iter(state.env_changed.items()))
                    own = f"ENV `{n}` changed ({why})"
                if own is None:
                    own, certain = _mount_reason(model, st, instr, files, changed, states)
            elif instr.cmd in ("COPY", "ADD"):
                own, certain = _copy_reason(model, st, instr, files, changed, states)
                if own is None:
                    own = _changed_vars(instr.original, arg_scope, state.env_changed)
            else:
                own = _changed_vars(instr.original, arg_scope, state.env_changed)
            if (st.label, instr.position) in edited and instr.cmd != "FROM":
                own, certain = f"the instruction changed in the Dockerfile (line {instr.line})", True
            step = is_step(instr, builder)
            if instr.cmd == "FROM":
                rebuild, why = False, (state.why and "base stage re-ran; the FROM itself is no work") or "no work"
                if base is None:
                    why = "local base image"
            elif own is not None and step:
                rebuild, why = True, own
                if not state.rerun:
                    state.rerun, state.certain = True, certain
                    state.why = f"`{_short(instr.original)}` (line {instr.line})"
            elif state.rerun and step:
                rebuild, why = True, f"parent step re-ran: {state.why}"
                certain = state.certain
            else:
                rebuild, why = False, "no input changed"
            if step:
                cost = costs.get((st.label, instr.position)) if costs is not None else None
                out.append(StepPrediction(
                    stage=st.label, position=instr.position, line=instr.line, instruction=instr.original,
                    rebuild=rebuild, why=why, certain=certain if rebuild else True,
                    expected_s=(cost if rebuild else 0.0) if costs is not None else None))
        states[st.index] = state
    skipped = tuple(s.label for s in model.stages if s.index not in built)
    notes = shared_prefix_notes(model, built) if builder is Builder.CLASSIC else ()
    return Prediction(builder=str(builder), changed=tuple(changed), ignored=tuple(ignored),
                      args=args_changed, steps=tuple(out), skipped_stages=skipped, notes=notes)


def _norm(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def shared_prefix_notes(model: DockerfileModel, built: Sequence[int]) -> tuple[str, ...]:
    """Classic builder: a stage that starts with the same base and steps as a later stage. A --no-cache
    build makes two copies of those steps, and the next build continues from the newest (the later
    stage's), so the earlier stage re-runs from its first own step once; a build with cache shares them."""
    notes = []
    stages = [model.stages[i] for i in built]
    for k, a in enumerate(stages):
        if model.stage_ref(a.base, a.index) is not None:
            continue
        best = 0
        for b in stages[k + 1:]:
            if b.base != a.base:
                continue
            n = 1
            while (n < len(a.instructions) and n < len(b.instructions)
                   and _norm(a.instructions[n].original) == _norm(b.instructions[n].original)):
                n += 1
            best = max(best, n)
        if 1 < best < len(a.instructions):
            first = a.instructions[best]
            notes.append(f"stage `{a.label}` starts like a later stage ({best - 1} step(s) after FROM): after a "
                         f"--no-cache build the classic builder re-runs it from line {first.line} once")
    return tuple(notes)


def _changed_vars(text: str, arg_scope: Mapping[str, tuple[str | None, str | None]],
                  env_changed: Mapping[str, str]) -> str | None:
    for name in sorted(_vars(text)):
        if name in arg_scope and arg_scope[name][0] != arg_scope[name][1]:
            b, a = arg_scope[name]
            return f"ARG `{name}` changed: {_value(b)} → {_value(a)}"
        if name in env_changed:
            return f"ENV `{name}` changed ({env_changed[name]})"
    return None


def _stage_reason(model: DockerfileModel, st: Stage, ref: str, states: Mapping[int, _StageState],
                  how: str) -> tuple[str | None, bool]:
    src = model.stage_ref(ref, st.index)
    if src is None or src.index not in states or not states[src.index].rerun:
        return None, True
    return f"stage `{src.label}` it copies from re-ran ({how}; {states[src.index].why})", False


def _copy_reason(model: DockerfileModel, st: Stage, instr: Instruction, files: ContextFiles,
                 changed: Sequence[str], states: Mapping[int, _StageState]) -> tuple[str | None, bool]:
    if instr.copy_from:
        return _stage_reason(model, st, instr.copy_from, states, f"--from={instr.copy_from}")
    excludes = tuple(f.split("=", 1)[1] for f in instr.flags if f.startswith("--exclude="))
    hit: list[str] = []
    for src in instr.context_sources:
        for f in _source_files(changed, src, excludes, files.root):
            if f not in hit:
                hit.append(f)
    if hit:
        return f"`{_short(instr.original)}` (line {instr.line}): {_files_phrase(hit)}", True
    return None, True


def _mount_reason(model: DockerfileModel, st: Stage, instr: Instruction, files: ContextFiles,
                  changed: Sequence[str], states: Mapping[int, _StageState]) -> tuple[str | None, bool]:
    for m in instr.bind_mounts:
        if m.get("from"):
            reason, certain = _stage_reason(model, st, m["from"], states, f"--mount from={m['from']}")
            if reason:
                return reason, certain
            continue
        source = m.get("source") or m.get("src") or "."
        hit = _source_files(changed, source, (), files.root)
        if hit:
            return f"bind mount of `{source}` (line {instr.line}): {_files_phrase(hit)}", True
    return None, True


