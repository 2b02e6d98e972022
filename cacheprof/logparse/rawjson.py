"""BuildKit `--progress=rawjson`: one JSON SolveStatus per line, mixed with the client's plain lines.

Vertices become VertexUpdate objects for BuildKitAssembler; times are BuildKit's own (RFC 3339 with
nanoseconds and any offset; Go's zero time means unset). The build ends when an `exporting to …` vertex
completes or the client prints its failure line; after that, an `[internal] load …` vertex (or, after a
failure, any vertex) the build never had begins the next build.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

from ..dockerfile import DockerfileModel
from ..model import Builder
from ..steps.buildkit import BuildKitAssembler
from ..steps.trace_proto import VertexUpdate
from .base import BUILDKIT_FAILURE, Emit, ParsedBuild, ParserBase, failure_text, load_json, pick_error
from .detect import RAWJSON_KEYS, Format

RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9})\d*)?(?:([Zz])|([+-])(\d\d):(\d\d))")
EXPORT_PREFIX = "exporting to "
NEW_BUILD_PREFIX = "[internal] load"


def rfc3339(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time, None for missing, malformed or Go's zero time."""
    if not isinstance(value, str):
        return None
    m = RFC3339.match(value)
    if m is None:
        return None
    year, month, day, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    try:
        seconds = calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        seconds -= offset if m.group(9) == "+" else -offset
    if seconds <= 0:  # the zero time (year 1), as in the protobuf decoder
        return None
    frac = m.group(7) or ""
    # Same arithmetic as a protobuf Timestamp (seconds + nanos / 1e9), so both sources agree.
    return seconds + int(frac.ljust(9, "0")) / 1e9 if frac else float(seconds)


class RawJsonParser(ParserBase):
    fmt = Format.RAWJSON

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "") -> None:
        super().__init__(model, emit, channel)
        self._reset()

    def _reset(self) -> None:
        self.asm = BuildKitAssembler(self.model)
        self.seen: dict[str, list[Any]] = {}  # digest -> [name, started, completed]
        self.vertex_errors: list[str] = []
        self.error: str | None = None
        self.exported = False
        self.no_output = False
        self.ended = False
        self.lost = False
        self.bad_tail = False

    def lost_line(self) -> None:
        self.lost = True

    def feed(self, line: bytes) -> None:
        if line[:1] == b"{":
            obj = load_json(line)
            if obj is None:
                self.bad_tail = True
                return
            if self.bad_tail:
                self.lost = True
                self.bad_tail = False
            if isinstance(obj, dict) and not RAWJSON_KEYS.isdisjoint(obj):
                self._status(obj)
            return
        if BUILDKIT_FAILURE.match(line):
            self.error = failure_text(line)
            self.ended = True
        elif line.startswith(b"WARNING: No output specified"):
            self.no_output = True

    def _status(self, obj: dict[str, Any]) -> None:
        for raw in _dicts(obj.get("vertexes")):
            digest = raw.get("digest")
            if not isinstance(digest, str) or not digest:
                continue
            started = rfc3339(raw.get("started"))
            completed = rfc3339(raw.get("completed"))
            name = raw.get("name") if isinstance(raw.get("name"), str) else ""
            known = self.seen.get(digest)
            if known is None and (
                (self.error is not None and self.ended) or (self.exported and name.startswith(NEW_BUILD_PREFIX))
            ):
                # Unknown work after a failure, or a build's first vertices after an export (a cache
                # export after the image export is still the same build).
                self._finish(ended=True)
            if known is None:
                known = self.seen[digest] = [name, False, False]
            name = name or known[0]
            known[0] = name
            known[1] = known[1] or started is not None
            known[2] = completed is not None
            error = raw.get("error") if isinstance(raw.get("error"), str) and raw.get("error") else None
            listed = raw.get("inputs") if isinstance(raw.get("inputs"), list) else []
            inputs = tuple(i for i in listed if isinstance(i, str))
            self.asm.feed_vertex(VertexUpdate(digest, name, raw.get("cached") is True, started, completed,
                                              error, inputs))
            if error:
                self.vertex_errors.append(error)
            elif completed is not None and name.startswith(EXPORT_PREFIX):
                self.exported = True
        for s in _dicts(obj.get("statuses")):
            # Resolving a base image's digest fetches nothing: as in plain logs, not progress.
            if isinstance(s.get("vertex"), str) and not str(s.get("id") or "").startswith("resolve "):
                self.asm.feed_progress(s["vertex"])

    def close(self, *, cut: bool) -> None:
        self._finish(ended=(self.ended or self.exported) and not self.bad_tail)

    def _finish(self, *, ended: bool) -> None:
        if self.seen or self.error:
            asm = self.asm
            asm.error = pick_error(self.error, self.vertex_errors)
            asm.succeeded = asm.error is None and (
                self.exported or (self.no_output and all(done for _, started, done in self.seen.values() if started))
            )
            outcome = asm.outcome(ended=(ended or asm.succeeded) and not self.lost)
            self.emit(ParsedBuild(outcome, Builder.BUILDKIT, self.fmt, timed=True, channel=self.channel))
        self._reset()


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
