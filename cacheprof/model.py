"""The step model: one shape for live builds (both builders) and parsed logs.

Times are epoch seconds (float) from the clock that observed them: BuildKit's own timestamps, or the
arrival of stream messages for the classic builder. `None` where a source carries no timing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

PROFILE_SCHEMA = "cacheprof/profile/v1"


class StepStatus(StrEnum):
    CACHED = "CACHED"
    RUN = "RUN"
    ERROR = "ERROR"


class Builder(StrEnum):
    BUILDKIT = "buildkit"
    CLASSIC = "classic"


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction that the builder executed as a step.

    `stage` and `position` identify the step across builds (never a BuildKit digest, which changes per
    build): `position` is the 1-based place of the instruction within its stage, FROM being 1, counted
    over the Dockerfile's instructions when the Dockerfile is known, else the builder's own numbering.
    """

    index: int
    stage: str
    position: int
    line: int | None
    instruction: str
    status: StepStatus
    started: float | None = None
    finished: float | None = None
    duration_s: float | None = None
    error: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.stage, self.position)


@dataclass(frozen=True)
class InternalVertex:
    """BuildKit work that is not a Dockerfile step (context transfer, metadata, export)."""

    name: str
    cached: bool
    started: float | None = None
    finished: float | None = None
    duration_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Build:
    scenario: str
    repeat: int
    ok: bool
    error: str | None
    duration_s: float | None
    image_id: str | None
    steps: tuple[Step, ...] = ()
    internal: tuple[InternalVertex, ...] = ()
    started: float | None = None
    # False when the source ended before the build did (a truncated log, a daemon that died).
    complete: bool = True

    @property
    def hit_rate(self) -> float | None:
        if not self.steps:
            return None
        return sum(s.status is StepStatus.CACHED for s in self.steps) / len(self.steps)

    @property
    def step_time_s(self) -> float:
        return sum(s.duration_s or 0.0 for s in self.steps)


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    os: str = ""
    arch: str = ""
    host: str = ""


@dataclass(frozen=True)
class Profile:
    """The session object: everything one run measured. Processors and renderers only read it."""

    builder: str
    dockerfile: str
    context: str
    builds: tuple[Build, ...]
    engine: EngineInfo | None = None
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    scenarios: tuple[str, ...] = ()
    created: str = ""
    machine: dict[str, str] = field(default_factory=dict)
    # Where the data came from: "profile" (live builds) or "parse" (a log).
    source: str = "profile"
    schema: str = PROFILE_SCHEMA

    def builds_of(self, scenario: str) -> tuple[Build, ...]:
        return tuple(b for b in self.builds if b.scenario == scenario)

    @property
    def scenario_names(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for name in self.scenarios:
            seen.setdefault(name, None)
        for b in self.builds:
            seen.setdefault(b.scenario, None)
        return tuple(seen)
