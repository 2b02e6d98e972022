"""Why a step re-ran: the first cause, from the inputs two builds recorded (`cacheprof explain`).

For every step that RAN in a build where the comparison build had it CACHED, walk its recorded inputs
against the comparison build's: the base image, the files it copies (named one by one from the per-file
digests), the build args and ENV it sees, the stage it copies from, and last the parent step. A step
whose own inputs are unchanged re-ran because its parent (or the stage it copies from) did: the first
cause is that step's cause. Pure: reads a Profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..context.inputs import select
from ..model import Build, Profile, StepInputs, StepStatus

NO_RECORD = "no inputs recorded for this step (a parsed log, or a profile from before explain)"


@dataclass(frozen=True)
class StepWhy:
    stage: str
    position: int
    line: int | None
    instruction: str
    why: str  # this step's own reason, or "parent step re-ran: …"
    cause: str  # the first cause it follows from
    own: bool  # True when the cause is this step's own input


@dataclass(frozen=True)
class Explanation:
    build: int  # 1-based, in the profile's order
    against: int
    scenario: str
    against_scenario: str
    steps: tuple[StepWhy, ...]

    def causes(self) -> list[tuple[StepWhy, list[StepWhy]]]:
        """Each first cause with the steps that re-ran because of it."""
        out: list[tuple[StepWhy, list[StepWhy]]] = []
        for s in self.steps:
            if s.own:
                out.append((s, []))
            else:
                for root, followers in out:
                    if root.cause == s.cause:
                        followers.append(s)
                        break
                else:
                    out.append((s, []))
        return out


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _v(v: str | None) -> str:
    return "(unset)" if v is None else f"`{v}`"


def _file_changes(step: StepInputs, now: Build, then: Build) -> list[str]:
    mine = set()
    for src in step.sources:
        mine |= set(select(sorted(now.files), src, step.excludes))
    before = set()
    for src in step.sources:
        before |= set(select(sorted(then.files), src, step.excludes))
    changed = sorted(p for p in mine & before if now.files[p] != then.files[p])
    added = sorted(mine - before)
    removed = sorted(before - mine)
    return [*changed, *(f"{p} (new)" for p in added), *(f"{p} (deleted)" for p in removed)]


def _files_phrase(files: Sequence[str]) -> str:
    shown = ", ".join(f"`{f}`" for f in files[:3])
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    return f"{len(files)} file{'s' if len(files) != 1 else ''} changed: {shown}{more}"


def own_cause(now_in: StepInputs, then_in: StepInputs | None, now: Build, then: Build,
              ran_stages: Mapping[str, str]) -> str | None:
    """The reason in this step's own inputs, or None when they are the same as in the other build."""
    label = f"`{_short(now_in.instruction)}` (line {now_in.line})"
    if then_in is None:
        return f"{label}: the step is new (the Dockerfile changed)"
    if " ".join(now_in.instruction.split()) != " ".join(then_in.instruction.split()):
        return f"{label}: the instruction changed in the Dockerfile"
    if now_in.base != then_in.base:
        return f"base image changed: {_v(then_in.base)} → {_v(now_in.base)}"
    if now_in.files_digest != then_in.files_digest:
        files = _file_changes(now_in, now, then)
        return f"{label}: {_files_phrase(files)}" if files else f"{label}: the copied files changed"
    for name in sorted(set(now_in.args) | set(then_in.args)):
        if now_in.args.get(name) != then_in.args.get(name):
            return f"ARG `{name}` changed: {_v(then_in.args.get(name))} → {_v(now_in.args.get(name))}"
    for name in sorted(set(now_in.env) | set(then_in.env)):
        if now_in.env.get(name) != then_in.env.get(name):
            return f"ENV `{name}` changed: {_v(then_in.env.get(name))} → {_v(now_in.env.get(name))}"
    if now_in.from_stage is not None and now_in.from_stage in ran_stages and now_in.position > 1:
        return f"stage `{now_in.from_stage}` it copies from re-ran ({ran_stages[now_in.from_stage]})"
    return None


def explain(profile: Profile, build: int, against: int) -> Explanation:
    """`build` and `against` are 1-based positions in profile.builds."""
    now, then = profile.builds[build - 1], profile.builds[against - 1]
    now_in = {i.key: i for i in now.inputs}
    then_in = {i.key: i for i in then.inputs}
    then_status = {s.key: s.status for s in then.steps}
    status = {s.key: s for s in now.steps}
    ran = {k for k, s in status.items() if s.status is StepStatus.RUN}
    causes: dict[tuple[str, int], str] = {}
    ran_stages: dict[str, str] = {}  # stage -> first cause of its first re-run step
    out: list[StepWhy] = []
    order = [i.key for i in now.inputs] or [s.key for s in now.steps]
    for key in order:
        inp = now_in.get(key)
        cause: str | None = None
        own = False
        if inp is not None:
            cause = own_cause(inp, then_in.get(key), now, then, ran_stages)
            own = cause is not None and not cause.startswith("stage `")
            if cause is None and inp.parent is not None and inp.parent in causes:
                cause = causes[inp.parent]
            elif cause is None and inp.position == 1 and inp.from_stage in ran_stages:
                cause = ran_stages[inp.from_stage]
            elif cause is not None and cause.startswith("stage `") and inp.from_stage in ran_stages:
                cause = ran_stages[inp.from_stage]
        if cause is not None:
            causes[key] = cause
            if inp is not None:
                ran_stages.setdefault(inp.stage, cause)
        if key not in ran or then_status.get(key) is not StepStatus.CACHED:
            continue
        step = status[key]
        if inp is None:
            why, cause, own = NO_RECORD, NO_RECORD, True
        elif cause is None:
            why = cause = "no recorded input changed (the cache lost the entry, or the builder keyed it otherwise)"
            own = True
        elif own:
            why = cause
        elif inp.position > 1 and inp.from_stage in ran_stages and inp.parent not in causes:
            why = f"stage `{inp.from_stage}` it copies from re-ran: {cause}"
        elif inp.position == 1:
            why = f"stage `{inp.from_stage}` it starts from re-ran: {cause}"
        else:
            why = f"parent step re-ran: {cause}"
        out.append(StepWhy(step.stage, step.position, step.line, step.instruction, why, cause, own))
    return Explanation(build, against, now.scenario, then.scenario, tuple(out))


def default_against(profile: Profile, build: int) -> int | None:
    """The build whose cache this one started from: the latest earlier successful build of the same
    repetition that is not an edit or arg scenario (warm, else cold), else the latest earlier one."""
    now = profile.builds[build - 1]
    earlier = [(k, b) for k, b in enumerate(profile.builds[: build - 1], 1) if b.ok]
    base = [k for k, b in earlier if b.repeat == now.repeat and b.scenario in ("warm", "cold")]
    if base:
        return base[-1]
    return earlier[-1][0] if earlier else None


def explain_all(profile: Profile) -> list[Explanation]:
    """Every build after the first, against its default comparison build."""
    out = []
    for k, b in enumerate(profile.builds, 1):
        if b.scenario == "cold" or not b.ok:
            continue
        against = default_against(profile, k)
        if against is not None:
            out.append(explain(profile, k, against))
    return out


def why_by_step(profile: Profile) -> dict[tuple[int, tuple[str, int]], str]:
    """{(build number, step key): why} for the steps explain names: what a `why` column shows."""
    return {(e.build, (s.stage, s.position)): s.why for e in explain_all(profile) for s in e.steps}
