"""Steps from BuildKit's vertex stream (the Engine API trace, or a rawjson log).

A vertex is re-sent whenever its state changes: merge by digest, later wins. Its name carries the
Dockerfile position as `[stage i/n] INSTRUCTION`, where i counts only vertex-making instructions of the
stage; anything else (`[internal] …`, `exporting to image`, context copy) is internal work, never a step.
Times are BuildKit's own clock.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..dockerfile import DockerfileModel, Instruction, Stage
from ..model import LOG_TAIL_LINES, BuildOutcome, InternalVertex, ProgressCallback, Step, StepEvent, StepStatus
from .common import strip_ansi
from .trace_proto import VertexUpdate, decode_trace_aux

# `[ 4/13] RUN …`, `[stage-0 4/5] COPY …`, `[build  2/3] …`
NAME_RE = re.compile(r"^\[(?:([^\s\]]+)\s+)?\s*(\d+)/(\d+)\]\s+(.*)$", re.DOTALL)
CANCELED_RE = re.compile(r"context canceled|\bcanceled\b", re.IGNORECASE)
# BuildKit's clients call a vertex canceled when its error ends so (`…: exit code: 137: context canceled`).
CANCELED_END = re.compile(r"\bcanceled\s*$", re.IGNORECASE)
# A FROM that took this long fetched something even when the log shows no download lines.
PULL_MIN_S = 1.0


def parse_vertex_name(name: str) -> tuple[str | None, int, int, str] | None:
    """(stage label or None, i, n, instruction text) for a Dockerfile step vertex, else None."""
    m = NAME_RE.match(name)
    if not m:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)


@dataclass
class _Vertex:
    digest: str
    name: str
    first_seen: int
    cached: bool = False
    intervals: list[list[float | None]] = field(default_factory=list)  # [started, completed]
    error: str | None = None
    progress: bool = False  # statuses (downloads, extraction) were reported under it
    announced: bool = False
    done_announced: bool = False
    # The last lines of its output (kept for a failing step's log tail) and an unfinished last line.
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    partial: str = ""

    def add_log(self, data: bytes) -> None:
        text = self.partial + data.decode("utf-8", "replace")
        *lines, self.partial = text.split("\n")
        for line in lines:
            line = strip_ansi(line).rstrip("\r")
            if line.strip():
                self.log.append(line)

    def log_tail(self) -> tuple[str, ...]:
        rest = strip_ansi(self.partial).rstrip("\r")
        return (*self.log, rest)[-LOG_TAIL_LINES:] if rest.strip() else tuple(self.log)

    @property
    def started(self) -> float | None:
        starts = [i[0] for i in self.intervals if i[0] is not None]
        return min(starts) if starts else None

    @property
    def finished(self) -> float | None:
        if any(i[1] is None for i in self.intervals):
            return None
        ends = [i[1] for i in self.intervals if i[1] is not None]
        return max(ends) if ends else None

    @property
    def duration_s(self) -> float | None:
        total = 0.0
        for s, c in self.intervals:
            if s is None or c is None:
                return None
            total += max(0.0, c - s)
        return total if self.intervals else None


@dataclass
class BuildKitAssembler:
    """Feed vertex updates (and trace messages) of one build; `outcome()` gives its steps."""

    model: DockerfileModel | None = None
    on_progress: ProgressCallback | None = None
    _vertices: dict[str, _Vertex] = field(default_factory=dict)
    error: str | None = None
    image_id: str | None = None
    succeeded: bool = False
    first_t: float | None = None
    last_t: float | None = None

    def feed_message(self, arrival: float | None, message: dict[str, Any]) -> None:
        """One Engine API message of a BuildKit build (`POST /build?version=2`)."""
        if message.get("id") == "moby.buildkit.trace" and isinstance(message.get("aux"), str):
            upd = decode_trace_aux(message["aux"])
            for v in upd.vertexes:
                self.feed_vertex(v)
            for digest in upd.status_vertices:
                self.feed_progress(digest)
            for digest, _, data in upd.logs:
                self.feed_log(digest, data)
        elif message.get("id") == "moby.image.id" and isinstance(message.get("aux"), dict):
            self.image_id = str(message["aux"].get("ID") or "") or None
            self.succeeded = True
        elif "errorDetail" in message or "error" in message:
            detail = message.get("errorDetail") or {}
            self.error = strip_ansi(str(detail.get("message") or message.get("error") or "build failed"))
        elif isinstance(message.get("stream"), str) and message["stream"].startswith("Successfully tagged"):
            self.succeeded = True

    def feed_log(self, digest: str, data: bytes) -> None:
        v = self._vertices.get(digest)
        if v is None:  # a log can come before the vertex's first state
            v = _Vertex(digest, "", len(self._vertices))
            self._vertices[digest] = v
        v.add_log(data)

    def feed_progress(self, digest: str) -> None:
        v = self._vertices.get(digest)
        if v is not None:
            v.progress = True

    def feed_vertex(self, u: VertexUpdate) -> None:
        v = self._vertices.get(u.digest)
        if v is None:
            v = _Vertex(u.digest, u.name, len(self._vertices))
            self._vertices[u.digest] = v
        v.name = u.name or v.name
        v.cached = u.cached
        if u.error:
            v.error = strip_ansi(u.error)
        if u.started is not None:
            for t in (u.started, u.completed):
                if t is not None:
                    self.first_t = t if self.first_t is None else min(self.first_t, t)
                    self.last_t = t if self.last_t is None else max(self.last_t, t)
            match = next((i for i in v.intervals if i[0] == u.started), None)
            if match is None:
                match = [u.started, None]
                v.intervals.append(match)
            if u.completed is not None:
                match[1] = u.completed
        self._announce(v)

    # --- progress -------------------------------------------------------------------------------

    def _announce(self, v: _Vertex) -> None:
        if self.on_progress is None:
            return
        parsed = parse_vertex_name(v.name)
        if parsed is None or v.started is None:
            return
        stage, i, _, text = parsed
        label = stage or "0"
        # As written in the Dockerfile (BuildKit's vertex name may differ): the live view, the tables and the
        # reports show one text per step.
        text = self._written(stage, i) or text
        if not v.announced:
            v.announced = True
            self.on_progress(StepEvent(label, i, text, None))
        if (v.finished is not None or v.error) and not v.done_announced:
            v.done_announced = True
            self.on_progress(StepEvent(label, i, text, str(self._status(v, text)), v.duration_s))

    def _written(self, stage_label: str | None, i: int) -> str | None:
        if self.model is None:
            return None
        st = self.model.stage(stage_label) if stage_label else self.model.stages[-1]
        label = stage_label or (st.buildkit_label if st else None)
        ins = self.model.buildkit_step(label, i) if label else None
        return ins.original if ins is not None else None

    # --- output ---------------------------------------------------------------------------------

    @staticmethod
    def _status(v: _Vertex, text: str) -> StepStatus:
        if v.error:
            return StepStatus.CANCELED if CANCELED_END.search(v.error) else StepStatus.ERROR
        if v.cached:
            return StepStatus.CACHED
        if v.finished is None:
            return StepStatus.UNKNOWN  # started; the stream ended before it did
        if text.upper().startswith("FROM"):
            # A local base image: BuildKit shows it done, not cached, yet nothing was built or fetched.
            took = v.duration_s or 0.0
            return StepStatus.PULLED if v.progress or took >= PULL_MIN_S else StepStatus.CACHED
        return StepStatus.RUN

    def outcome(self, *, ended: bool = True) -> BuildOutcome:
        raw: list[tuple[tuple[float, int, int], Step]] = []
        internal: list[InternalVertex] = []
        for v in self._vertices.values():
            parsed = parse_vertex_name(v.name)
            if parsed is None:
                if v.started is not None:
                    internal.append(
                        InternalVertex(v.name, v.cached, v.started, v.finished, v.duration_s, v.error)
                    )
                continue
            if v.started is None:
                continue  # never started (e.g. after a failure): not executed
            stage_label, i, _, text = parsed
            stage = _stage_from_label(stage_label)
            position, line, instruction, stage_order = i, None, text, 0
            if self.model is not None:
                st = self.model.stage(stage_label) if stage_label else self.model.stages[-1]
                ins = self.model.buildkit_step(stage_label, i) if stage_label else (
                    self.model.buildkit_step(st.buildkit_label, i) if st else None
                )
                if ins is None or not _same_text(ins.original, text):
                    ins = _by_text(self.model, text, st) or ins
                    st = self.model.stages[ins.stage_index] if ins is not None else st
                if st is not None and ins is not None:
                    stage, position, line, instruction, stage_order = (
                        ins.stage, ins.position, ins.line, ins.original, st.index
                    )
            error = v.error
            if error and CANCELED_RE.search(error) and not re.search(r"exit code|did not complete", error):
                error = "canceled"
            status = self._status(v, text)
            step = Step(
                index=0,
                stage=stage,
                position=position,
                line=line,
                instruction=instruction,
                status=status,
                started=v.started,
                finished=v.finished,
                duration_s=v.duration_s,
                error=error,
                log_tail=v.log_tail() if status is StepStatus.ERROR else (),
            )
            raw.append(((v.started, stage_order, position), step))
        raw.extend(self._collapsed_from_steps([s for _, s in raw]))
        raw.sort(key=lambda x: x[0])
        steps = tuple(
            Step(**{**s.__dict__, "index": n}) for n, (_, s) in enumerate(raw, 1)
        )
        ok = self.succeeded and self.error is None
        error = self.error
        if error is None and not ok:
            error = "the build output ended before the build finished"
        return BuildOutcome(
            ok=ok,
            error=error,
            steps=steps,
            internal=tuple(internal),
            image_id=self.image_id,
            complete=ended and (self.succeeded or self.error is not None),
            started=self.first_t,
            finished=self.last_t,
        )

    def _collapsed_from_steps(self, steps: list[Step]) -> list[tuple[tuple[float, int, int], Step]]:
        """BuildKit merges identical FROMs of several stages into one vertex, labelled with one of them
        (which one can change between builds). Give every stage that ran a FROM step of its own, so steps
        match across builds."""
        if self.model is None:
            return []
        have = {(s.stage, s.position) for s in steps}
        used = {s.stage for s in steps}
        froms = {s.instruction.split()[1] if len(s.instruction.split()) > 1 else "": s
                 for s in steps if s.position == 1 and s.instruction.upper().startswith("FROM")}
        extra: list[tuple[tuple[float, int, int], Step]] = []
        for st in self.model.stages:
            first = st.instructions[0] if st.instructions else None
            if first is None or st.label not in used or (st.label, 1) in have:
                continue
            source = froms.get(st.base)
            if source is None:
                continue
            s = Step(**{**source.__dict__, "stage": st.label, "position": 1, "line": first.line,
                        "instruction": first.original})
            extra.append(((s.started or 0.0, st.index, 1), s))
        return extra


def _norm(text: str) -> str:
    return re.sub(r"\\\s*\n|\s+", "", text).lower()


def _same_text(original: str, vertex_text: str) -> bool:
    return _norm(original) == _norm(vertex_text)


def _by_text(model: DockerfileModel, text: str, prefer: Stage | None) -> Instruction | None:
    """The instruction a vertex names when its `[stage i/n]` does not point at it: BuildKit numbers a
    stage built `FROM <another stage>` without that FROM, and labels a vertex several stages share with
    one of them (or none). Matched by text: in the labelled stage first, else the only such instruction."""
    hits = [i for i in model.instructions if _same_text(i.original, text)]
    own = [i for i in hits if prefer is not None and i.stage_index == prefer.index]
    if own:
        return own[0]
    return hits[0] if len(hits) == 1 else None


def _stage_from_label(label: str | None) -> str:
    if label is None:
        return "0"
    if label.startswith("stage-") and label[6:].isdigit():
        return label[6:]
    return label
