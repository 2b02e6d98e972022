"""Engine API build streams (`POST /build`), as captured with curl or recorded by `cacheprof profile --record`.

Each JSON line is one message, fed to the assembler the live run uses, with its arrival time when the
line carries one (`"_t"`, cacheprof recordings), so a recording parses to the live answer. The builder is
told by the first decisive message: `moby.buildkit.trace` means BuildKit, a `stream`/`status`/`aux`/
`errorDetail` message first means classic. Lines that are not JSON objects are tolerated and skipped.

A new build starts, for the classic builder, at `Step 1` or at any Step after the previous build ended;
for BuildKit, at a trace announcing a not-yet-started vertex after the image id or an error arrived.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..dockerfile import DockerfileModel
from ..errors import InputFormatError
from ..model import Builder
from ..steps.buildkit import BuildKitAssembler
from ..steps.classic import ClassicAssembler
from ..steps.common import ARRIVAL_KEY, strip_ansi
from ..steps.trace_proto import decode_trace_aux
from .base import Emit, ParsedBuild, ParserBase, load_json
from .detect import Format

TRACE = "moby.buildkit.trace"
IMAGE_ID = "moby.image.id"
STEP_ONE = re.compile(r"Step [01](?:/\d+)? : ")


class EngineJsonParser(ParserBase):
    fmt = Format.ENGINE_JSON

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "",
                 builder: Builder | None = None) -> None:
        super().__init__(model, emit, channel)
        self.forced = builder
        self._reset()

    def _reset(self) -> None:
        self.builder: Builder | None = self.forced
        self.asm: ClassicAssembler | BuildKitAssembler | None = None
        self.content = False
        self.ended = False
        self.timed = False
        self.lost = False  # a message of this build could not be read
        self.bad_tail = False  # the last JSON line seen did not parse (cut off mid-line, if it stays last)

    def lost_line(self) -> None:
        self.lost = True

    def feed(self, line: bytes) -> None:
        if line[:1] != b"{":
            return  # plain text between the messages (a shell prompt, curl's output)
        msg = load_json(line)
        if msg is None:
            self.bad_tail = True
            return
        if self.bad_tail:
            self.lost = True  # a broken line in the middle: a message was lost
            self.bad_tail = False
        if not isinstance(msg, dict):
            return
        detail = msg.get("errorDetail")
        if detail is not None and not isinstance(detail, dict):
            msg["errorDetail"] = {"message": str(detail)}  # the assemblers read it as an object
        t = msg.pop(ARRIVAL_KEY, None)
        arrival = float(t) if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) else None
        if self.asm is None:
            builder = self.builder or _builder_of(msg)
            if builder is None:
                return
            self.builder = builder
            self.asm = BuildKitAssembler(self.model) if builder is Builder.BUILDKIT else ClassicAssembler(self.model)
        if isinstance(self.asm, BuildKitAssembler):
            self._buildkit(self.asm, arrival, msg)
        else:
            self._classic(self.asm, arrival, msg)

    def _classic(self, asm: ClassicAssembler, arrival: float | None, msg: dict[str, Any]) -> None:
        stream = msg.get("stream")
        if isinstance(stream, str) and stream.startswith(("Step ", "\x1b")):
            plain = strip_ansi(stream)
            if plain.startswith("Step ") and (self.ended or (asm.saw_step and STEP_ONE.match(plain))):
                self._finish(ended=True)
                asm = self._fresh_classic()
        if arrival is not None:
            self.timed = True
        asm.feed_message(arrival, msg)
        self.content = self.content or asm.saw_step or asm.error is not None or asm.image_id is not None
        if asm.error is not None or asm.succeeded:
            self.ended = True

    def _fresh_classic(self) -> ClassicAssembler:
        asm = ClassicAssembler(self.model)
        self.asm, self.builder = asm, Builder.CLASSIC
        return asm

    def _buildkit(self, asm: BuildKitAssembler, arrival: float | None, msg: dict[str, Any]) -> None:
        if msg.get("id") == TRACE and isinstance(msg.get("aux"), str):
            try:
                update = decode_trace_aux(msg["aux"])
            except InputFormatError:
                self.lost = True
                return
            if self.ended and any(v.started is None for v in update.vertexes):
                self._finish(ended=True)
                asm = BuildKitAssembler(self.model)
                self.asm, self.builder = asm, Builder.BUILDKIT
            # What BuildKitAssembler.feed_message does with a trace, with the decoded update at hand.
            for v in update.vertexes:
                asm.feed_vertex(v)
            for digest in update.status_vertices:
                asm.feed_progress(digest)
            self.content = self.content or bool(update.vertexes)
            return
        asm.feed_message(arrival, msg)
        if asm.error is not None or asm.succeeded:
            self.ended = True
            self.content = True

    def close(self, *, cut: bool) -> None:
        self._finish(ended=not self.bad_tail)

    def _finish(self, *, ended: bool) -> None:
        asm = self.asm
        if asm is not None and self.content:
            outcome = asm.outcome(ended=ended and not self.lost)
            timed = isinstance(asm, BuildKitAssembler) or self.timed
            builder = Builder.BUILDKIT if isinstance(asm, BuildKitAssembler) else Builder.CLASSIC
            self.emit(ParsedBuild(outcome, builder, self.fmt, timed=timed, channel=self.channel))
        self._reset()


def _builder_of(msg: dict[str, Any]) -> Builder | None:
    if msg.get("id") in (TRACE, IMAGE_ID):
        return Builder.BUILDKIT
    if "stream" in msg or "errorDetail" in msg or "status" in msg or isinstance(msg.get("aux"), dict):
        return Builder.CLASSIC
    return None
