"""BuildKit's terminal display (the default `docker build` / `buildx` output on a tty, Docker Desktop,
hosted builders), as people copy it from their terminal:

    [+] Building 42.7s (21/21) FINISHED                                   docker:default
     => [internal] load build definition from Dockerfile                            0.0s
     => => transferring dockerfile: 1.2kB                                           0.0s
     => CACHED [builder 2/5] WORKDIR /build                                         0.0s
     => [stage-1 4/7] RUN apt-get update && apt-get install -y --no-install-rec    98.1s
     => ERROR [builder 5/5] RUN make                                                3.1s

One line per started vertex, `CACHED `/`ERROR `/`CANCELED ` before done ones, the time right-aligned, the
name cut to the terminal width; `=> =>` sub-lines are a vertex's statuses (downloads, `=> => # …` the
last output lines of a running one). A terminal recording holds every frame (each starts at the
header): the last frame wins. The header's `(done/total)` tells how many shown vertices still run when
the display stopped before FINISHED: those are UNKNOWN. compose/bake put a service in the labels
(`[web builder 2/6]`): one build per service. Durations are the printed ones; no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dockerfile import DockerfileModel
from ..model import Builder
from ..steps.buildkit import BuildKitAssembler
from ..steps.trace_proto import VertexUpdate
from .base import BUILDKIT_FAILURE, Emit, ParsedBuild, ParserBase, failure_text, pick_error, untimed
from .detect import Format
from .labels import service_of, split_service

HEADER = re.compile(rb"\s*\[\+\] Building (\d+(?:\.\d+)?)s \((\d+)/(\d+)\)(?: +(FINISHED))?")
JOB = re.compile(rb"\s*=> (?:(CACHED|ERROR|CANCELED) )?")
TIMER = re.compile(rb"\d{1,7}(?:\.\d+)?s")
SUB = re.compile(rb"\s*=> => ")
DOWNLOAD = re.compile(rb"(?:sha256:[0-9a-f]{6,}\s+\S+\s*/\s*\S+|extracting sha256:)")
CHECK = rb"(?:\xe2\x9c\x94|\xe2\x9c\x93)"  # compose's check marks
BUILT = re.compile(rb"\s*(?:" + CHECK + rb" +)?Service +(\S+) +Built\b|\s*" + CHECK + rb" +(\S+) +Built\b")
SUMMARY_RULE = b"------"
EXPORT = "exporting to "
CANCELED_ERROR = "context canceled"


@dataclass(slots=True)
class _Job:
    name: str  # the name as shown, without the status word
    seq: int
    status: str = ""
    duration: float | None = None
    progress: bool = False


STEP_KEY = re.compile(r"\[[^\]]*\d+/\d+\]")


def _key(name: str) -> str:
    """A job's identity across frames: a step's `[stage i/n]` label (the text after it may be cut at
    different widths), else its whole name."""
    m = STEP_KEY.match(name)
    return m.group(0) if m is not None else name


class TtyParser(ParserBase):
    fmt = Format.TTY

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "") -> None:
        super().__init__(model, emit, channel)
        self._reset()

    def _reset(self) -> None:
        self.jobs: dict[str, _Job] = {}
        self.frame: dict[str, None] = {}  # keys of the current frame's vertex lines, in order
        self.logging: set[str] = set()  # vertices showing output lines (`=> => # …`): still running
        self.last: str | None = None
        self.done: int | None = None  # the current frame's header `(done/total)`
        self.finished = False
        self.error: str | None = None
        self.failed_target: str | None = None
        self.built: set[str] = set()
        self.in_summary = False

    @property
    def ended(self) -> bool:
        return self.finished or self.error is not None

    def feed(self, line: bytes) -> None:
        sub = SUB.match(line)
        if sub is not None:
            job = self.jobs.get(self.last) if self.last is not None else None
            if job is not None:
                rest = line[sub.end():]
                if rest.startswith(b"#"):
                    self.logging.add(self.last)  # type: ignore[arg-type]
                elif DOWNLOAD.match(rest):
                    job.progress = True
            return
        stripped = line.lstrip()
        if stripped.startswith(b"=> "):
            self._job(line)
            return
        if stripped.startswith(b"[+]"):
            h = HEADER.match(line)
            if h is not None:
                if self.ended and self.jobs:
                    self._finish()
                self.frame, self.logging, self.last = {}, set(), None
                self.done = int(h.group(2))
                self.finished = self.finished or h.group(4) is not None
            return
        if line == SUMMARY_RULE:
            self.in_summary = not self.in_summary
            return
        if self.in_summary:
            return
        b = BUILT.match(line)
        if b is not None:
            self.built.add((b.group(1) or b.group(2)).decode("utf-8", "replace"))
            return
        m = BUILDKIT_FAILURE.search(line)
        if m is not None and line.lstrip().startswith((b"ERROR", b"error", b"failed", b"executor")):
            text = failure_text(line.lstrip())
            target = re.match(r"target (\S+): ", text)
            if target is not None:
                self.failed_target = target.group(1)
                text = text[target.end():]
            self.error = text

    def _job(self, line: bytes) -> None:
        m = JOB.match(line)
        if m is None:
            return
        # The time is the last word, right-aligned: split it off instead of a regex that backtracks.
        rest = line[m.end():].rstrip()
        head, _, last = rest.rpartition(b" ")
        took = None
        if head and TIMER.fullmatch(last):
            rest, took = head, float(last[:-1])
        name = rest.decode("utf-8", "replace").strip()
        if not name:
            return
        if name.startswith("WARN: "):
            return  # a build check's warning line: no vertex (the header does not count it)
        key = _key(name)
        job = self.jobs.get(key)
        if job is None:
            job = self.jobs[key] = _Job(name, len(self.jobs))
        job.name = name
        job.status = m.group(1).decode() if m.group(1) else ""
        if took is not None:
            job.duration = took
        self.frame[key] = None
        self.last = key

    def _running(self) -> set[str]:
        """Keys of the vertices the last frame shows still running."""
        if self.finished:
            return set()
        running = {k for k in self.logging if not self.jobs[k].status}
        if self.done is not None:
            want = len(self.frame) - self.done
            for k in reversed(self.frame):
                if len(running) >= want:
                    break
                if not self.jobs[k].status:
                    running.add(k)
        return running

    def close(self, *, cut: bool) -> None:
        if self.jobs or self.error:
            self._finish()

    def _finish(self) -> None:
        running = self._running()
        services = {s for s in (service_of(j.name) for j in self.jobs.values()) if s is not None}
        groups: dict[str | None, list[tuple[str, _Job]]] = {}
        for job in self.jobs.values():
            svc, name = split_service(job.name, services)
            groups.setdefault(svc, []).append((name, job))
        if services:
            groups.pop(None, None)  # lines outside every service (none in a compose display)
        for svc, jobs in groups.items():
            self._emit_group(svc, jobs, running)
        self._reset()

    def _emit_group(self, svc: str | None, jobs: list[tuple[str, _Job]], running: set[str]) -> None:
        asm = BuildKitAssembler(self.model)
        vertex_errors: list[str] = []
        exported = False
        for name, job in jobs:
            key = _key(job.name)
            start = float(job.seq)
            still = key in running
            error = None
            if job.status == "ERROR":
                error = "failed"
            elif job.status == "CANCELED":
                error = CANCELED_ERROR
            completed = None if still or (job.duration is None and error is None) else start + (job.duration or 0.0)
            asm.feed_vertex(VertexUpdate(key, name, job.status == "CACHED", start, completed, error))
            if job.progress:
                asm.feed_progress(key)
            if error:
                vertex_errors.append(error)
            if name.startswith(EXPORT) and not still and error is None:
                exported = True
        own_error = self.error if self.failed_target in (None, svc) else None
        error = pick_error(own_error, vertex_errors)
        asm.error = error
        built = svc is not None and svc in self.built
        asm.succeeded = error is None and (self.finished or built or exported) and not running.intersection(
            _key(j.name) for _, j in jobs)
        ended = self.finished or built or self.error is not None or asm.succeeded
        outcome = untimed(asm.outcome(ended=ended))
        self.emit(ParsedBuild(outcome, Builder.BUILDKIT, self.fmt, timed=False, channel=svc or self.channel))
