"""BuildKit `--progress=plain` logs.

`#N name` opens vertex N; later `#N …` lines are its output (`#N 0.123 text`), statuses (`#N sha256:…
1.2MB / 3.4MB 0.5s`, `#N resolve … done`), a switch marker (`#N ...`) or an end (`#N CACHED`,
`#N DONE 1.2s`, `#N ERROR: …`, `#N CANCELED`). Vertices are merged by N and fed to BuildKitAssembler, so
the step mapping (`[stage i/n]`, internal vertices, Dockerfile lines) is the live one. The log has no
clock: vertices get their order of first appearance as placeholder start times, which are removed again;
only `DONE` durations survive.

Several builds may be open at once (parallel CI jobs writing one log, their numbers colliding). A line
goes to the build BuildKit's printer would have written it for: numbers are handed out in order of first
print, so a new vertex continues some build's count (a `#***` one, masked by CI, too); a name is printed
again only on return to a running vertex after its build printed another one; events go to the build
whose vertex of that number is still open. A new build starts at `#0 building with …`, at `#1 …` once
every open `#1` is done, or when a `[…]` name fits no open build. A re-opened vertex prints DONE again,
counted from its first start: the last figure wins. compose/bake labels (`[web builder 2/6]`) split a
build into one per service when it ends.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..dockerfile import DockerfileModel
from ..model import Builder
from ..steps.buildkit import BuildKitAssembler
from ..steps.trace_proto import VertexUpdate
from .base import BUILDKIT_FAILURE, Emit, ParsedBuild, ParserBase, failure_text, pick_error, untimed
from .detect import Format
from .labels import service_of, split_service

# `#***`: a CI masked the number as a secret. Bounded: int() of thousands of digits raises.
HASH = re.compile(rb"#(\d{1,9}|\*\*\*)(?: |$)")
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
EXPORT_LABEL = re.compile(r"\[[^\]\s]+\] exporting to ")  # compose/bake: `[web] exporting to image`
TARGET = re.compile(rb"ERROR: target ([^\s:]+): ")  # bake names the target that failed
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


@dataclass(slots=True)
class _Build:
    """One build's vertices; several may be open at once (parallel CI jobs writing one log)."""

    order: int
    vertices: dict[int, _Vertex] = field(default_factory=dict)
    top: int = 0  # the highest vertex number of this build
    current: int | None = None  # the vertex its last line was about
    active: int = 0  # when its last line came (a line counter)
    error: str | None = None
    target: str | None = None  # bake: the target a failure line named
    exported: bool = False
    no_output: bool = False

    @property
    def ended(self) -> bool:
        return self.exported or self.error is not None


MASKED = -1  # `#***`: CI secret masking replaced the number


class PlainParser(ParserBase):
    fmt = Format.PLAIN

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "") -> None:
        super().__init__(model, emit, channel)
        self.skip_if = LOG_RAW.match
        self.select = _select
        self.builds: list[_Build] = []
        self.count = 0
        self.made = 0
        # Finished builds wait here so they come out in the order they began, not in the order they ended.
        self.finished: list[tuple[int, ParsedBuild]] = []
        self.in_summary = False

    # --- lines ----------------------------------------------------------------------------------

    def feed(self, line: bytes) -> None:
        self.count += 1
        m = HASH.match(line)
        if m is not None:
            n = MASKED if m.group(1) == b"***" else int(m.group(1))
            self._vertex_line(n, line[m.end() :])
            return
        if line == SUMMARY_RULE:
            self.in_summary = not self.in_summary
        elif self.in_summary:
            pass  # the failed vertex's last output lines: program text, not the client's
        else:
            target = TARGET.match(line)
            rest = line[target.end():] if target is not None else line
            if BUILDKIT_FAILURE.match(rest):
                b = self._failed_build()
                if b is not None:
                    b.error = failure_text(rest)
                    b.target = target.group(1).decode("utf-8", "replace") if target is not None else None
            elif line.startswith(b"WARNING: No output specified") and self.builds:
                self._latest().no_output = True  # buildx without --load/--push: nothing is exported

    def _latest(self) -> _Build:
        return max(self.builds, key=lambda b: b.active)

    def _failed_build(self) -> _Build | None:
        """The build a client failure line is about: one with a failed vertex and no error yet."""
        if not self.builds:
            b = self._new()
            return b
        for b in sorted(self.builds, key=lambda b: -b.active):
            if b.error is None and any(v.error and not v.error.endswith("canceled") for v in b.vertices.values()):
                return b
        pending = [b for b in self.builds if b.error is None]
        return max(pending, key=lambda b: b.active) if pending else self._latest()

    def _new(self) -> _Build:
        for b in [b for b in self.builds if b.ended]:
            self._finish(b)  # ended builds take no new numbering
        b = _Build(self.made)
        self.made += 1
        self.builds.append(b)
        return b

    def _pick(self, n: int, rest: bytes, event: bool) -> _Build | None:
        """The open build a `#N …` line belongs to; None when it starts a new one (or, for an event of a
        vertex never named, belongs to none)."""
        if len(self.builds) == 1:  # the common case, decided without the general search below
            b = self.builds[0]
            v = b.vertices.get(n)
            if v is None:
                return None if event or (n <= b.top and n != MASKED) else b
            if event or rest[:1] != b"[" or (v.raw == rest and not (n == 1 and v.done)):
                return b
            return None
        having = [b for b in self.builds if n in b.vertices]

        def is_open(b: _Build) -> bool:
            v = b.vertices[n]
            return not (v.done or v.error)

        if event:
            if not having:
                return None  # output of a vertex whose name is not in the log (it starts mid-build)
            return max([b for b in having if is_open(b)] or having, key=lambda b: (b.current == n, b.active))
        # The name printed again on return to a running vertex: only after the build printed another one.
        same = [b for b in having if b.vertices[n].raw == rest]
        back = [b for b in same if is_open(b) and b.current != n]
        if back:
            return max(back, key=lambda b: b.active)
        # A status of a running vertex (`transferring context: 2B done`): vertex names start with `[`,
        # except a few internal ones (`copy /context /`, `exporting to image`) that are never statuses.
        if rest[:1] != b"[" and any(is_open(b) for b in having):
            return max((b for b in having if is_open(b)), key=lambda b: b.active)
        # A new vertex: numbers are handed out in order of first print, so it continues some build's count.
        free = [b for b in self.builds if n not in b.vertices and (n > b.top or n == MASKED)]
        exact = [b for b in free if n == b.top + 1 or n == MASKED]
        if exact:
            return max(exact, key=lambda b: (not b.ended, b.active))
        # A done vertex started again (re-opened) before its build ended, except `#1`: that is how every
        # build starts.
        again = [b for b in same if not b.ended and not (n == 1 and b.vertices[n].done)]
        if again:
            return max(again, key=lambda b: b.active)
        if free:
            return min(free, key=lambda b: (b.ended, n - b.top, -b.active))  # numbers skipped
        if rest[:1] != b"[" and having:
            return max(having, key=lambda b: b.active)  # a late status of a done vertex
        return None

    def _vertex_line(self, n: int, rest: bytes) -> None:
        if n == 0:
            if rest.startswith(b"building with"):
                self._new()
            return
        if self.in_summary:
            return  # the failure summary repeats a vertex's last output lines
        event = _is_event(rest)
        b = self._pick(n, rest, event)
        if b is None:
            if event:
                return
            b = self._new()  # numbering restarted: a new build began
        b.current, b.active = n, self.count
        v = b.vertices.get(n)
        if v is None:
            b.vertices[n] = _Vertex(rest.decode("utf-8", "replace"), rest, len(b.vertices))
            # A masked number is the next one of its build: numbers are handed out in order of first print.
            b.top = b.top + 1 if n == MASKED else max(b.top, n)
            return
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
                # A re-opened vertex prints its figure again, counted from its first start: the last wins.
                v.duration = took
            if v.name.startswith(EXPORT_PREFIX) or EXPORT_LABEL.match(v.name):
                b.exported = True
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
        for b in sorted(self.builds, key=lambda b: b.order):
            self._finish(b)
        for _, pb in sorted(self.finished, key=lambda x: x[0]):  # stable: a build's services keep their order
            self.emit(pb)
        self.finished = []

    def _finish(self, b: _Build) -> None:
        self.builds.remove(b)
        if not b.vertices and b.error is None:
            return
        services = {s for s in (service_of(v.name) for v in b.vertices.values()) if s is not None}
        groups: dict[str | None, list[tuple[int, _Vertex, str]]] = {}
        for n, v in b.vertices.items():
            svc, name = split_service(v.name, services)
            groups.setdefault(svc, []).append((n, v, name))
        if services:
            groups.pop(None, None)
        elif not groups:
            groups[None] = []
        for svc, vertices in groups.items():
            self._emit(b, svc, vertices)

    def _emit(self, b: _Build, svc: str | None, vertices: list[tuple[int, _Vertex, str]]) -> None:
        asm = BuildKitAssembler(self.model)
        vertex_errors: list[str] = []
        exported = False
        for n, v, name in vertices:
            start = float(v.seq)
            # A CACHED vertex prints no time: no completion (its duration stays unknown, its status is CACHED).
            completed = start + v.duration if v.done and v.duration is not None else (
                start if v.done and not v.cached else None)
            digest = f"#{n}"
            asm.feed_vertex(VertexUpdate(digest, name, v.cached, start, completed, v.error))
            if v.progress:
                asm.feed_progress(digest)
            if v.error:
                vertex_errors.append(v.error)
            if v.done and name.startswith(EXPORT_PREFIX):
                exported = True
        own = b.error if b.target in (None, svc) else None
        if own is not None and svc is not None and b.target is None and not vertex_errors:
            own = None  # another service's failure (its vertex failed): this one is judged by its own
        error = pick_error(own, vertex_errors)
        asm.error = error
        all_done = all(v.done or v.error for _, v, _ in vertices)
        asm.succeeded = error is None and (exported or (b.no_output and all_done))
        ended = b.error is not None or asm.succeeded
        outcome = untimed(asm.outcome(ended=ended))
        pb = ParsedBuild(outcome, Builder.BUILDKIT, self.fmt, timed=False, channel=svc or self.channel)
        self.finished.append((b.order, pb))
