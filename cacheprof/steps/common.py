"""What both builders' step assemblers share: the outcome shape and progress events."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..model import InternalVertex, Step

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text) if "\x1b" in text else text


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
    # The classic builder's step images (short IDs, FROM excluded). Those that did not exist before the
    # build are what it created, also when a cached step was restored from --cache-from history.
    created_images: tuple[str, ...] = ()
