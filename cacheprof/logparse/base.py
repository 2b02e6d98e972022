"""What every format parser hands back, and the small interface the line loop drives."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..dockerfile import DockerfileModel
from ..model import Builder, BuildOutcome, InternalVertex, Step
from .detect import Format

# A regex's bound `match`: the line loop calls it on raw lines without entering Python code.
Matcher = Callable[[bytes], Any]

# Build-level failure lines of BuildKit clients (buildx `ERROR: failed to solve: …`, newer
# `ERROR: failed to build: failed to solve: …`, Docker 20.10's bare `executor failed running […]`).
BUILDKIT_FAILURE = re.compile(
    rb"(?:ERROR: |error: )?(?:failed to (?:solve|build|compute cache key)\b|executor failed running \[|"
    rb"failed to solve with frontend)"
)
BUILDKIT_FAILURE_PREFIX = re.compile(rb"(?:ERROR|error): ")


@dataclass(frozen=True)
class ParsedBuild:
    outcome: BuildOutcome
    builder: Builder
    fmt: Format
    # The outcome's times are clock times (BuildKit's, or arrival times in a recording).
    timed: bool
    channel: str = ""


Emit = Callable[[ParsedBuild], None]


class Parser(Protocol):
    fmt: Format
    # Fast path for the line loop: a raw line `skip_if` matches is not fed; with `keep_first`, a line is
    # fed only when its first byte is a key and that key's matcher matches it.
    skip_if: Matcher | None
    keep_first: dict[bytes, Matcher] | None
    # The lines of a block (lines joined by `\n`) that may matter in any state of the parser, found by
    # regex searches over the whole block: most lines are never split out as objects at all.
    select: Callable[[bytes], list[bytes]] | None

    def feed(self, line: bytes) -> None: ...

    def lost_line(self) -> None: ...

    def close(self, *, cut: bool) -> None: ...


class ParserBase:
    skip_if: Matcher | None = None
    keep_first: dict[bytes, Matcher] | None = None
    select: Callable[[bytes], list[bytes]] | None = None

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "") -> None:
        self.model = model
        self.emit = emit
        self.channel = channel

    def lost_line(self) -> None:
        """An over-long line was dropped."""


def untimed(outcome: BuildOutcome) -> BuildOutcome:
    """The outcome with its placeholder clock times removed; durations (true ones) rounded to 1e-6.

    Built field by field: dataclasses.replace is several times slower, and this runs once per step."""

    def d(x: float | None) -> float | None:
        return None if x is None else round(x, 6)

    steps = tuple(
        Step(s.index, s.stage, s.position, s.line, s.instruction, s.status, None, None, d(s.duration_s), s.error)
        for s in outcome.steps
    )
    internal = tuple(InternalVertex(v.name, v.cached, None, None, d(v.duration_s), v.error) for v in outcome.internal)
    return replace(outcome, steps=steps, internal=internal, started=None, finished=None)


def failure_text(line: bytes) -> str:
    """A client's failure line without its `ERROR: ` prefix."""
    m = BUILDKIT_FAILURE_PREFIX.match(line)
    return line[m.end() if m else 0 :].decode("utf-8", "replace").strip()


def pick_error(summary: str | None, vertex_errors: list[str]) -> str | None:
    """The build's error: the client's summary line, else the first vertex error that is not a
    cancellation (parallel vertices are canceled because of it), else any."""
    if summary:
        return summary
    for e in vertex_errors:
        if not e.rstrip().endswith("canceled"):
            return e
    return vertex_errors[0] if vertex_errors else None


def load_json(line: bytes) -> Any:
    """A JSON line's value, or None when it is not JSON (cut off, garbage, nested past the recursion limit)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
