"""The step model: one shape for live builds (both builders) and parsed logs.

Times are epoch seconds (float) from the clock that observed them: BuildKit's own timestamps, or the
arrival of stream messages for the classic builder. `None` where a source carries no timing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    from .dockerfile import DockerfileModel

PROFILE_SCHEMA = "cacheprof/profile/v2"
# Lines of a failing step's output kept in the model (`Step.log_tail`).
LOG_TAIL_LINES = 20
# Profiles this version still reads: v1 is v2 without the statuses, fields and figure definitions v2 added.
PROFILE_SCHEMAS_READ = ("cacheprof/profile/v1", PROFILE_SCHEMA)
# The instructions that do work. Only these count in a hit rate: FROM, WORKDIR, ENV... are bookkeeping
# whose CACHED flag differs by builder (BuildKit calls a cold WORKDIR cached, classic counts ENV and CMD).
WORK_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})


class StepStatus(StrEnum):
    CACHED = "CACHED"
    RUN = "RUN"
    ERROR = "ERROR"
    # v2: a step the builder stopped because another failed (BuildKit's `CANCELED`), not a failure of its own.
    CANCELED = "CANCELED"
    # v2: a FROM whose base image was downloaded (download progress, or a non-trivial time): not a cache hit.
    PULLED = "PULLED"
    # v2: a step that started, and the log or stream ended before it did.
    UNKNOWN = "UNKNOWN"


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
    # Size of the layer the step created (the engine's image history); 0 for metadata-only steps.
    size_bytes: int | None = None
    # v2: the last lines of a failing step's own output (ERROR steps only), as `docker build` shows them.
    log_tail: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.stage, self.position)

    @property
    def does_work(self) -> bool:
        """RUN, COPY or ADD: the steps a hit rate counts."""
        head = self.instruction.split(None, 1)
        return bool(head) and head[0].upper() in WORK_INSTRUCTIONS


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
class StepInputs:
    """What one instruction read (v2, recorded by `profile` for `explain`): keyed like Step."""

    stage: str
    position: int
    line: int | None = None
    instruction: str = ""
    files_digest: str | None = None  # over the (path, digest) pairs of the context files it reads
    sources: tuple[str, ...] = ()  # its context sources (COPY/ADD, RUN bind mounts): its files in Build.files
    excludes: tuple[str, ...] = ()
    file_count: int | None = None
    from_stage: str | None = None  # the stage it starts from or copies from
    base: str | None = None  # FROM an image: the reference (`@id` appended when the engine told it)
    args: dict[str, str | None] = field(default_factory=dict)  # build args in scope that it sees
    env: dict[str, str] = field(default_factory=dict)  # ENV in scope that it sees
    parent: tuple[str, int] | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.stage, self.position)


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
    # Sending the context: BuildKit's context-loading vertex, the classic builder's upload. Part of
    # duration_s, never of a step.
    transfer_s: float | None = None
    image_size_bytes: int | None = None
    # The image's layer diff IDs, base first (how many two images share).
    layer_ids: tuple[str, ...] = ()
    # v2: what each instruction read, and {path: digest} of the context files they read.
    inputs: tuple[StepInputs, ...] = ()
    files: dict[str, str] = field(default_factory=dict)

    @property
    def work_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.does_work)

    @property
    def hit_rate(self) -> float | None:
        """Cached RUN/COPY/ADD steps / RUN/COPY/ADD steps; None when the build has none."""
        work = self.work_steps
        if not work:
            return None
        return sum(s.status is StepStatus.CACHED for s in work) / len(work)

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
    # Untimed builds run before the first measured round to put this run's own cache in place (warm-up).
    warmups: int = 0

    def builds_of(self, scenario: str) -> tuple[Build, ...]:
        return self._by_scenario.get(scenario, ())

    @functools.cached_property
    def _by_scenario(self) -> dict[str, tuple[Build, ...]]:
        # One pass over the builds: asking per scenario would scan every build once per scenario, quadratic
        # for a parsed log of 200,000 builds. (cached_property writes __dict__, which frozen allows.)
        index: dict[str, list[Build]] = {}
        for b in self.builds:
            index.setdefault(b.scenario, []).append(b)
        return {name: tuple(builds) for name, builds in index.items()}

    @property
    def scenario_names(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for name in self.scenarios:
            seen.setdefault(name, None)
        for b in self.builds:
            seen.setdefault(b.scenario, None)
        return tuple(seen)


# --- Scenarios: `cold`, `warm`, `edit:<glob>`, `arg:<NAME>=<VALUE>`.

ARG_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Kind(StrEnum):
    COLD = "cold"
    WARM = "warm"
    EDIT = "edit"
    ARG = "arg"


@dataclass(frozen=True)
class Scenario:
    kind: Kind
    glob: str | None = None
    arg_name: str | None = None
    arg_value: str | None = None

    @property
    def name(self) -> str:
        if self.kind is Kind.EDIT:
            return f"edit:{self.glob}"
        if self.kind is Kind.ARG:
            return f"arg:{self.arg_name}={self.arg_value}"
        return str(self.kind)


def parse_scenario(spec: str) -> Scenario:
    s = spec.strip()
    if s == "cold":
        return Scenario(Kind.COLD)
    if s == "warm":
        return Scenario(Kind.WARM)
    if s.startswith("edit:"):
        glob = s[5:].strip()
        if not glob:
            raise UsageError("scenario 'edit:' needs a glob of files to change, e.g. edit:src/*.py")
        if glob.startswith("/") or ".." in glob.split("/"):
            raise UsageError(f"scenario {spec!r}: the glob must be relative to the context, inside it")
        return Scenario(Kind.EDIT, glob=glob)
    if s.startswith("arg:"):
        body = s[4:]
        name, sep, value = body.partition("=")
        if not sep or not ARG_NAME_RE.match(name):
            raise UsageError(f"scenario {spec!r}: write it as arg:NAME=VALUE, e.g. arg:VERSION=2")
        return Scenario(Kind.ARG, arg_name=name, arg_value=value)
    raise UsageError(
        f"unknown scenario {spec!r}; use cold, warm, edit:<glob> or arg:<NAME>=<VALUE>"
    )


def parse_build_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not ARG_NAME_RE.match(name):
        raise UsageError(f"--build-arg {text!r}: write it as NAME=VALUE")
    return name, value


# --- What a build produced, and its live progress events.

@dataclass(frozen=True)
class StepEvent:
    """A live progress event: a step started (`status` None) or finished (`status` set)."""

    stage: str
    position: int
    instruction: str
    status: str | None
    duration_s: float | None = None


ProgressCallback = Callable[[StepEvent], None]


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    error: str | None
    steps: tuple[Step, ...]
    internal: tuple[InternalVertex, ...]
    image_id: str | None
    complete: bool
    started: float | None
    finished: float | None
    # The classic builder's step images (short IDs, FROM excluded): those of steps that ran (this build
    # made them), and those of cached steps (anyone's, unless restored from --cache-from history).
    created_images: tuple[str, ...] = ()
    reused_images: tuple[str, ...] = ()


# --- What to run, and who hears about it.

@dataclass(frozen=True)
class RunPlan:
    context: Path
    dockerfile: Path
    model: DockerfileModel
    builder: Builder
    scenarios: tuple[Scenario, ...]
    repeat: int = 1
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    # Keeps two runs' tags apart (compare runs BEFORE and AFTER side by side).
    namespace: str = "run"
    # Take cache only from this run's own earlier builds. The classic builder otherwise reuses the
    # newest matching layer of any image: after AFTER's build, BEFORE's shared first steps would land on
    # AFTER's layers and miss everything after them.
    own_cache_only: bool = False
    # Untimed warm-up builds before the first measured round (when any scenario is not cold).
    warmups: int = 1
    # Build args that get a new value on every build, like a CI job passing --build-arg DATE=$(date):
    # bench suites use them to show what such an ARG does to the cache.
    volatile_args: tuple[str, ...] = ()


class Reporter:
    """Receives progress; the default does nothing (the CLI passes a live display)."""

    def header(self, rows: list[tuple[str, str]]) -> None:
        """What is about to be built (Dockerfile, context, builder, engine), before the first build."""

    def build_started(self, scenario: str, repeat: int, number: int, total: int) -> None: ...

    def build_finished(self, build: Build) -> None: ...

    def warmup_started(self, number: int, total: int) -> None: ...

    def note(self, line: str) -> None:
        """A line to keep on screen (e.g. why the remaining builds were not run)."""

    step: ProgressCallback | None = None
