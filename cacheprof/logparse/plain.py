"""BuildKit `--progress=plain` logs.

`#N name` opens vertex N; later `#N …` lines are its output (`#N 0.123 text`), statuses (`#N sha256:…
1.2MB / 3.4MB 0.5s`, `#N resolve … done`), a switch marker (`#N ...`) or an end (`#N CACHED`,
`#N DONE 1.2s`, `#N ERROR: …`, `#N CANCELED`). Vertices are merged by N and fed to BuildKitAssembler, so
the step mapping (`[stage i/n]`, internal vertices, Dockerfile lines) is the live one. The log has no
clock: vertices get their order of first appearance as placeholder start times, which are removed again;
only `DONE` durations survive.

A new build starts at `#0 building with …`, or when numbering restarts: a used number with another
`[…]` name (statuses never start with `[`), or any used number named once the build has ended
(exported, or a failure summary printed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..dockerfile import DockerfileModel
from ..model import Builder
from ..steps.buildkit import BuildKitAssembler
from ..steps.trace_proto import VertexUpdate
from .base import BUILDKIT_FAILURE, Emit, ParsedBuild, ParserBase, failure_text, pick_error, untimed
from .detect import Format

HASH = re.compile(rb"#(\d{1,9})(?: |$)")  # bounded: int() of thousands of digits raises
LOG_RAW = re.compile(rb"#\d+ \d+\.\d+ ")  # fast path: an output line changes nothing
# The same lines inside a block, and blank lines, each with the newline before it (the literal `\n`
# prefix lets the regex engine jump from line start to line start).
LOG_BLOCK = re.compile(rb"\n(?:#\d+ \d+\.\d+ [^\n]*)?(?=\n)")
LOG_TIME = re.compile(rb"\d+\.\d+(?: |$)")
DONE = re.compile(rb"DONE(?: ([0-9.]+)s)?\s*$")
# Docker 18.09 printed vertex fields as `#N     duration: 37.5ms`, `#N       cached: true`.
OLD_FIELD = re.compile(rb"\s+(digest|name|started|completed|duration|cached|error):(?: (.*))?$")
GO_DURATION = re.compile(r"([0-9.]+)(h|ms|m|s|µs|us|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
VERTEX_DIGEST = re.compile(rb"sha256:[0-9a-f]{64}\s*$")
SUMMARY_RULE = b"------"
EXPORT_PREFIX = "exporting to "
CANCELED = "context canceled"


def seconds(text: str) -> float | None:
    """A finite, non-negative number of seconds, else None (a cut-off or garbage number)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def go_duration(text: str) -> float | None:
    parts = GO_DURATION.findall(text)
    values = [seconds(n) for n, _ in parts]
    if not parts or None in values:
        return None
    return sum(v * _UNIT[u] for v, (_, u) in zip(values, parts, strict=True))  # type: ignore[operator]


@dataclass(slots=True)
class _Vertex:
    name: str
    raw: bytes
    seq: int
    cached: bool = False
    done: bool = False
    duration: float | None = None
    error: str | None = None
    progress: bool = False


def _select(block: bytes) -> list[bytes]:
    """All lines but output and blank lines (the block's first line is left to skip_if)."""
    return LOG_BLOCK.sub(b"", block).split(b"\n")


def _is_event(rest: bytes) -> bool:
    """Output or an end marker rather than a vertex name."""
    return not rest or LOG_TIME.match(rest) is not None or rest in (b"...", b"CACHED", b"CANCELED") or (
        rest.startswith((b"DONE", b"ERROR"))
    )


class PlainParser(ParserBase):
    fmt = Format.PLAIN

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "") -> None:
        super().__init__(model, emit, channel)
        self.skip_if = LOG_RAW.match
        self.select = _select
        self._reset()

    def _reset(self) -> None:
        self.vertices: dict[int, _Vertex] = {}
        self.top = 0  # the highest vertex number of this build
        self.error: str | None = None
        self.exported = False
        self.no_output = False
        self.ended = False
        self.in_summary = False

    # --- lines ----------------------------------------------------------------------------------

    def feed(self, line: bytes) -> None:
        m = HASH.match(line)
        if m is not None:
            self._vertex_line(int(m.group(1)), line[m.end() :])
            return
        if line == SUMMARY_RULE:
            self.in_summary = not self.in_summary
        elif self.in_summary:
            pass  # the failed vertex's last output lines: program text, not the client's
        elif BUILDKIT_FAILURE.match(line):
            self.error = failure_text(line)
            self.ended = True
            self.in_summary = False
        elif line.startswith(b"WARNING: No output specified"):
            self.no_output = True  # buildx without --load/--push: nothing is exported

    def _vertex_line(self, n: int, rest: bytes) -> None:
        if n == 0:
            if rest.startswith(b"building with") and (self.vertices or self.error):
                self._finish(ended=True)
            return
        if self.in_summary:
            return  # the failure summary repeats a vertex's last output lines
        v = self.vertices.get(n)
        event = _is_event(rest)
        if not event and (
            ((self.ended or self.exported) and n <= self.top)
            or (v is not None and rest != v.raw and rest[:1] == b"[")
        ):
            # A name under a used number once the build ended, or another name under a used number
            # (statuses never start with `[`): the numbering restarted, so a new build began.
            self._finish(ended=True)
            v = None
        if v is None:
            if not event:
                self.vertices[n] = _Vertex(rest.decode("utf-8", "replace"), rest, len(self.vertices))
                self.top = max(self.top, n)
            return  # else output of a vertex whose name is not in the log (it starts mid-build)
        if LOG_TIME.match(rest):
            return
        if rest == b"CACHED":
            v.cached = True
            v.done = True
        elif rest.startswith(b"DONE"):
            d = DONE.match(rest)
            v.cached = False  # a vertex reported CACHED that later does work ran
            v.done = True
            took = seconds(d.group(1).decode()) if d is not None and d.group(1) else None
            if took is not None:
                v.duration = (v.duration or 0.0) + took
            if v.name.startswith(EXPORT_PREFIX):
                self.exported = True
        elif rest.startswith(b"ERROR"):
            v.error = rest[6:].decode("utf-8", "replace").strip() or "failed"
            v.cached = False
        elif rest == b"CANCELED":
            v.error = CANCELED
        elif rest == b"..." or rest == v.raw:
            pass  # a switch marker, or the name printed again on return
        else:
            f = OLD_FIELD.match(rest)
            if f is None:
                # A status: download, extraction, transfer. Resolving a digest fetches nothing, so a
                # FROM with only that is still a local image.
                # Docker 20.10 printed the vertex digest alone under its name: no progress either.
                if not rest.startswith(b"resolve ") and not VERTEX_DIGEST.match(rest):
                    v.progress = True
            elif f.group(1) == b"duration" and f.group(2):
                v.duration = go_duration(f.group(2).decode("utf-8", "replace"))
                v.done = True
            elif f.group(1) == b"cached" and f.group(2) == b"true":
                v.cached = True
                v.done = True
            elif f.group(1) == b"error" and f.group(2):
                v.error = f.group(2).decode("utf-8", "replace").strip().strip('"')

    # --- builds ---------------------------------------------------------------------------------

    def close(self, *, cut: bool) -> None:
        self._finish(ended=self.ended)

    def _finish(self, *, ended: bool) -> None:
        if not self.vertices and self.error is None:
            self._reset()
            return
        asm = BuildKitAssembler(self.model)
        vertex_errors: list[str] = []
        for n, v in self.vertices.items():
            start = float(v.seq)
            completed = start + v.duration if v.done and v.duration is not None else None
            digest = f"#{n}"
            asm.feed_vertex(VertexUpdate(digest, v.name, v.cached, start, completed, v.error))
            if v.progress:
                asm.feed_progress(digest)
            if v.error:
                vertex_errors.append(v.error)
        error = pick_error(self.error, vertex_errors)
        asm.error = error
        all_done = all(v.done or v.error for v in self.vertices.values())
        asm.succeeded = error is None and (self.exported or (self.no_output and all_done))
        outcome = untimed(asm.outcome(ended=ended or asm.succeeded))
        self.emit(ParsedBuild(outcome, Builder.BUILDKIT, self.fmt, timed=False, channel=self.channel))
        self._reset()
