"""Steps from the classic builder's output: Engine API `stream` messages or `docker build` CLI text.

The classic builder prints `Step N/M : INSTRUCTION`, then ` ---> Using cache` (the only reliable cached
signal), ` ---> Running in <id>` (a container ran), output, and ` ---> <id>` closing the step. It has no
timestamps: a step is timed from the arrival of its `Step` line to its closing line, when arrival times
are known (live builds and cacheprof recordings), else left None.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..dockerfile import DockerfileModel
from ..model import LOG_TAIL_LINES, BuildOutcome, ProgressCallback, Step, StepEvent, StepStatus
from .common import strip_ansi

STEP_RE = re.compile(r"^Step (\d+)(?:/(\d+))? : (.*)$")
# The engine's own end of a build: an image id, after the last step. A step's output can say
# `Successfully built gast` (pip) and must not end the build.
BUILT_RE = re.compile(r"^Successfully built ([0-9a-f]{12,64})\s*$")
CLOSE_RE = re.compile(r"^ ---> ([0-9a-f]{6,64})?\s*$")
STAGE_NAME_RE = re.compile(r"\s+AS\s+(\S+)\s*$", re.IGNORECASE)


@dataclass
class _Open:
    number: int
    total: int | None
    text: str
    started: float | None
    cached: bool = False
    ran: bool = False
    pulled: bool = False
    closed: bool = False  # its ` ---> <id>` line came
    finished: float | None = None
    image: str | None = None
    error: str | None = None
    output_lines: int = 0
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))


@dataclass
class ClassicAssembler:
    """Feed lines (with arrival times, or None) of one build; `outcome()` gives its steps."""

    model: DockerfileModel | None = None
    on_progress: ProgressCallback | None = None
    # Called with each step image this build made (a step that ran), as soon as the step closes.
    on_image: Callable[[str], None] | None = None
    _steps: list[_Open] = field(default_factory=list)
    _stage_index: int = -1
    _stage_names: dict[int, str] = field(default_factory=dict)
    _step_stage: dict[int, tuple[int, int]] = field(default_factory=dict)  # number -> (stage, position)
    _position: int = 0
    _pending: str = ""
    _pending_t: float | None = None
    error: str | None = None
    image_id: str | None = None
    succeeded: bool = False
    first_t: float | None = None
    last_t: float | None = None
    saw_step: bool = False

    # --- input ----------------------------------------------------------------------------------

    def feed_message(self, arrival: float | None, message: dict[str, Any]) -> None:
        """One Engine API message of a classic build."""
        self._touch(arrival)
        if "stream" in message:
            self.feed_text(str(message["stream"]), arrival)
        elif "errorDetail" in message or "error" in message:
            self.flush()
            detail = message.get("errorDetail") or {}
            self.fail(str(detail.get("message") or message.get("error") or "build failed"), arrival)
        elif isinstance(message.get("aux"), dict) and "ID" in message["aux"]:
            self.image_id = str(message["aux"]["ID"])
        elif isinstance(message.get("status"), str):
            # A FROM's pull progress comes as status messages (`{"status": "Pulling from library/x",
            # "id": "1.36"}`), not stream text: read them as the CLI prints them.
            ident = message.get("id")
            self.feed_line(f"{ident}: {message['status']}" if ident else message["status"], arrival)

    def feed_text(self, text: str, arrival: float | None) -> None:
        """A chunk of stream text; lines may be split across chunks."""
        if not self._pending:
            self._pending_t = arrival
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self.feed_line(line, self._pending_t)
            self._pending_t = arrival

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self.feed_line(line, self._pending_t)

    def feed_line(self, raw: str, arrival: float | None) -> None:
        self._touch(arrival)
        line = strip_ansi(raw).rstrip("\r")
        m = STEP_RE.match(line)
        if m:
            self._open(int(m.group(1)), int(m.group(2)) if m.group(2) else None, m.group(3).strip(), arrival)
            return
        cur = self._steps[-1] if self._steps else None
        if line.startswith("Successfully built ") and BUILT_RE.match(line) and (
            cur is None or cur.total is None or cur.number >= cur.total
        ):
            self._close_current(arrival)
            self.succeeded = True
            return
        if cur is None or cur.finished is not None:
            return
        if line.startswith(" ---> Using cache"):
            cur.cached = True
        elif line.startswith(" ---> Running in "):
            cur.ran = True
        elif line.startswith(" ---> [Warning]"):
            pass
        elif (c := CLOSE_RE.match(line)) is not None:
            cur.image = c.group(1)
            cur.closed = True
            cur.finished = arrival
            if self.on_image and cur.image and not cur.cached and not cur.text.upper().startswith("FROM"):
                self.on_image(cur.image)
            self._emit_done(cur)
        elif line.startswith(("Pulling from", "Pulling fs layer", "Downloading", "Download complete")) or (
            ": Pulling from " in line
        ):
            cur.pulled = True
        elif not line.startswith("Removing intermediate container"):
            cur.output_lines += 1
            if line.strip():
                cur.log.append(line)

    def fail(self, message: str, arrival: float | None) -> None:
        self.error = strip_ansi(message).strip()
        cur = self._steps[-1] if self._steps else None
        if cur is not None and cur.finished is None:
            cur.error = self.error
            cur.finished = arrival
            self._emit_done(cur)

    # --- state ----------------------------------------------------------------------------------

    def _touch(self, arrival: float | None) -> None:
        if arrival is not None:
            if self.first_t is None:
                self.first_t = arrival
            self.last_t = arrival

    def _close_current(self, arrival: float | None) -> None:
        if self._steps and self._steps[-1].finished is None:
            self._steps[-1].finished = arrival
            self._emit_done(self._steps[-1])

    def _open(self, number: int, total: int | None, text: str, arrival: float | None) -> None:
        self._close_current(arrival)
        self.saw_step = True
        cmd = text.split(None, 1)[0].upper() if text else ""
        if cmd == "FROM":
            self._stage_index += 1
            self._position = 0
            name = STAGE_NAME_RE.search(text)
            if name:
                self._stage_names[self._stage_index] = name.group(1)
        if self._stage_index >= 0:
            self._position += 1
            self._step_stage[number] = (self._stage_index, self._position)
        step = _Open(number, total, text, arrival)
        self._steps.append(step)
        if self.on_progress and self._stage_index >= 0:
            stage, pos = self._stage_label(number)
            self.on_progress(StepEvent(stage, pos, self._written(step), None))

    def _stage_label(self, number: int) -> tuple[str, int]:
        idx, pos = self._step_stage.get(number, (-1, 0))
        return self._stage_names.get(idx, str(idx)), pos

    def _status(self, s: _Open) -> StepStatus:
        if s.error is not None:
            return StepStatus.ERROR
        if s.cached:
            return StepStatus.CACHED
        if not s.closed and not self.succeeded and s is self._steps[-1]:
            return StepStatus.UNKNOWN  # the last step, never closed: the output ended while it ran
        if s.text.upper().startswith("FROM"):
            # Without pull lines the base image was already local: nothing was built or fetched.
            return StepStatus.PULLED if s.pulled else StepStatus.CACHED
        return StepStatus.RUN

    def _emit_done(self, s: _Open) -> None:
        if self.on_progress and s.number in self._step_stage:
            stage, pos = self._stage_label(s.number)
            dur = s.finished - s.started if s.finished is not None and s.started is not None else None
            self.on_progress(StepEvent(stage, pos, self._written(s), str(self._status(s)), dur))

    def _written(self, s: _Open) -> str:
        """The instruction as the Dockerfile writes it (the classic builder prints it expanded, one line)."""
        ins = self.model.classic_step(s.number, s.total) if self.model is not None else None
        return ins.original if ins is not None else s.text

    # --- output ---------------------------------------------------------------------------------

    def outcome(self, *, ended: bool = True) -> BuildOutcome:
        """The build's steps. `ended`: the source ended normally (a cut-off stream gives False)."""
        self.flush()
        steps: list[Step] = []
        created: list[str] = []
        reused: list[str] = []
        for s in self._steps:
            if s.number not in self._step_stage:
                continue  # an ARG before the first FROM: not a step of any stage
            stage, pos = self._stage_label(s.number)
            line: int | None = None
            instruction = s.text
            if self.model is not None:
                ins = self.model.classic_step(s.number, s.total)
                if ins is not None:
                    line, instruction, stage, pos = ins.line, ins.original, ins.stage, ins.position
            status = self._status(s)
            duration = (
                max(0.0, s.finished - s.started) if s.finished is not None and s.started is not None else None
            )
            steps.append(
                Step(
                    index=len(steps) + 1,
                    stage=stage,
                    position=pos,
                    line=line,
                    instruction=instruction,
                    status=status,
                    started=s.started,
                    finished=s.finished,
                    duration_s=duration,
                    error=s.error,
                    log_tail=tuple(s.log) if status is StepStatus.ERROR else (),
                )
            )
            if s.image and not s.text.upper().startswith("FROM"):
                # A step that ran made its image; a cached step names an image that may be anyone's.
                (reused if s.cached else created).append(s.image)
        finished_ok = self.succeeded and self.error is None
        complete = ended and (self.succeeded or self.error is not None)
        error = self.error
        if error is None and not finished_ok:
            error = "the build output ended before the build finished"
        return BuildOutcome(
            ok=finished_ok,
            error=error,
            steps=tuple(steps),
            internal=(),
            image_id=self.image_id,
            complete=complete,
            started=self.first_t,
            finished=self.last_t,
            created_images=tuple(created),
            reused_images=tuple(reused),
        )
