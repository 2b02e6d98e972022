"""Makes the parse corpus (tests/data/logs/real/*.log) and each log's truth file, from real builds.

Run once (`python tests/data/logs/real/make_corpus.py`); its outputs are kept in git. It never runs the
parser: each truth file is written from what the engine itself reported (the BuildKit trace of a real
build: vertex names, cached flags, intervals, errors) or, for the classic builder, from the build's
known Dockerfile and cache state, together with the figure the log prints.

Sources (src/, made by src/capture.sh on the local daemon): BuildKit Engine API streams
(`POST /build?version=2`) and the classic CLI's own text. The docker CLI here has no buildx, so the
BuildKit client formats (`--progress=plain`, the tty display, rawjson) are rendered from those traces
following the shapes of moby/buildkit's progressui printers (plain: `#N name` ... `#N DONE 1.2s`; tty:
`[+] Building …` and ` => [stage i/n] … 1.2s` right-aligned at the terminal width, names cut to fit).
Then CI wrappers are applied: timestamps, Go log prefixes, a tool's `name ──  ` prefix, console
wrapping, CRLF, UTF-16, interleaving of parallel jobs, secret masking, cuts.

Truth conventions (the step model's): stage is the stage name, `N` for `stage-N`, `0` for an unlabelled
single stage; classic stages are the AS name, else the stage index. Status: CACHED, RUN, ERROR,
CANCELED (the error ends with `context canceled`), PULLED (a FROM with download progress or a
non-trivial time), UNKNOWN (started, and the log ends before it does). A FROM of a local image
(done in ~0 s, no downloads) is CACHED. duration_s: the figure the log prints for the step, None when
it prints none. instruction: the text the log shows (cut where the terminal cut it).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
sys.path.insert(0, str(HERE.parents[3]))

from cacheprof.steps.trace_proto import _status_response_class  # noqa: E402  (decoding only, not parsing)

STEP_NAME = re.compile(r"^\[(?:(\S+) )?\s*(\d+)/(\d+)\] (.*)$", re.S)
PREFIXED_NAME = re.compile(r"^\[(\S+) (?:(\S+) )?\s*(\d+)/(\d+)\] (.*)$", re.S)


def split_name(name: str) -> tuple[str | None, str | None, int, str] | None:
    """(service or target, stage label, i, instruction) of a step vertex; compose/bake names carry a
    service: `[web builder 2/6]`, `[web 2/6]` (they are told apart by `[web internal]`, made here only
    for names this script relabelled, which always have a service)."""
    m = PREFIXED_NAME.match(name) if name.startswith(tuple(f"[{s} " for s in SERVICES)) else None
    if m is not None:
        return m.group(1), m.group(2), int(m.group(3)), m.group(5)
    m = STEP_NAME.match(name)
    if m is None:
        return None
    return None, m.group(1), int(m.group(2)), m.group(4)


SERVICES = ("web", "api", "frontend", "backend")
EPOCH = dt.datetime(2024, 3, 29, 14, 3, 30, tzinfo=dt.UTC).timestamp()


# --- the engine's own account of a BuildKit build ----------------------------------------------


@dataclass
class Vtx:
    digest: str
    name: str
    order: int
    cached: bool = False
    intervals: list[list[float | None]] = field(default_factory=list)
    error: str = ""
    statuses: dict[str, list] = field(default_factory=dict)  # id -> [current, total, started, completed]

    @property
    def started(self) -> float | None:
        s = [i[0] for i in self.intervals if i[0] is not None]
        return min(s) if s else None

    @property
    def completed(self) -> float | None:
        if not self.intervals or any(i[1] is None for i in self.intervals):
            return None
        return max(i[1] for i in self.intervals)

    def done_by(self, t: float) -> bool:
        c = self.completed
        return c is not None and c <= t


@dataclass
class Event:
    t: float
    kind: str  # start, end, log, status, restart
    v: Vtx
    text: str = ""


def load_trace(path: Path) -> tuple[list[Event], dict[str, Vtx], str | None, float]:
    """Events in arrival order (times rebased onto EPOCH), vertices, the build error, the end time."""
    cls = _status_response_class()
    vs: dict[str, Vtx] = {}
    events: list[Event] = []
    error = None
    base = None
    last = 0.0

    def ts(x) -> float:
        nonlocal base
        t = x.seconds + x.nanos / 1e9
        if base is None:
            base = t
        return EPOCH + (t - base)

    for line in path.read_text().splitlines():
        m = json.loads(line)
        if "errorDetail" in m:
            error = m["errorDetail"]["message"]
            continue
        if m.get("id") != "moby.buildkit.trace":
            continue
        r = cls()
        r.ParseFromString(base64.b64decode(m["aux"]))
        for u in r.vertexes:
            v = vs.get(u.digest)
            if v is None:
                v = vs[u.digest] = Vtx(u.digest, u.name, len(vs))
            v.cached = u.cached
            if u.error:
                v.error = u.error
            if u.HasField("started"):
                s = ts(u.started)
                iv = next((i for i in v.intervals if i[0] == s), None)
                if iv is None:
                    iv = [s, None]
                    v.intervals.append(iv)
                    events.append(Event(s, "start", v))
                if u.HasField("completed") and iv[1] is None:
                    iv[1] = ts(u.completed)
                    events.append(Event(iv[1], "end", v))
                last = max(last, iv[1] or s)
        for s in r.statuses:
            v = vs.get(s.vertex)
            if v is None:
                continue
            st = v.statuses.setdefault(s.ID, [0, 0, None, None])
            st[0], st[1] = s.current, s.total
            if s.HasField("started") and st[2] is None:
                st[2] = ts(s.started)
            if s.HasField("completed") and st[3] is None:
                st[3] = ts(s.completed)
                events.append(Event(st[3], "status", v, s.ID))
        for lg in r.logs:
            v = vs.get(lg.vertex)
            if v is None:
                continue
            t = ts(lg.timestamp)
            for text in bytes(lg.msg).decode("utf-8", "replace").splitlines():
                events.append(Event(t, "log", v, text))
    events.sort(key=lambda e: e.t)  # stable: arrival order among equal times
    return events, vs, error, last


def canceled(v: Vtx) -> bool:
    return v.error.endswith("context canceled")


# --- synthetic variations of a trace (documented shapes, not seen on this daemon) ------------------


def add_pull(vs: dict[str, Vtx], events: list[Event], step: str, seconds: float, size_mb: float) -> None:
    """A FROM that pulls: its interval grows to `seconds`, later vertices move later, download statuses."""
    v = next(x for x in vs.values() if x.name.startswith(step))
    s = v.intervals[0][0]
    shift = seconds - (v.intervals[0][1] - s)
    for x in vs.values():
        for iv in x.intervals:
            if x is not v and iv[0] > s:
                iv[0] += shift
                iv[1] = None if iv[1] is None else iv[1] + shift
    v.intervals[0][1] += shift
    v.cached = False
    for e in events:
        if e.t > s and e.v is not v:
            e.t += shift
        elif e.v is v and e.kind == "end":
            e.t = v.intervals[0][1]
    layers = [("sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8", size_mb * 0.8),
              ("sha256:9f4e3f2e1d3c0b6e1a7e4b2c9d8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f", size_mb * 0.2)]
    for n, (dg, mb) in enumerate(layers):
        st = v.statuses[dg] = [int(mb * 1e6), int(mb * 1e6), s + 0.1, s + seconds * (0.6 + 0.1 * n)]
        events.append(Event(st[3], "status", v, dg))
        ex = f"extracting {dg}"
        st = v.statuses[ex] = [0, 0, s + seconds * 0.7, s + seconds * (0.85 + 0.05 * n)]
        events.append(Event(st[3], "status", v, ex))
    events.sort(key=lambda e: e.t)


def reopen(vs: dict[str, Vtx], events: list[Event], step: str, gap: float, again: float) -> None:
    """The step starts a second time later in the build (BuildKit re-runs it for another consumer)."""
    v = next(x for x in vs.values() if x.name.startswith(step))
    end = max(e.t for e in events)
    s2 = end - 0.05 - again if gap <= 0 else v.intervals[0][1] + gap
    iv = [s2, s2 + again]
    v.intervals.append(iv)
    events.append(Event(iv[0], "restart", v))
    events.append(Event(iv[1], "end", v))
    events.sort(key=lambda e: e.t)


# --- BuildKit --progress=plain ------------------------------------------------------------------


def size(n: int) -> str:
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.2f}{unit}"
    return f"{n}B"


def plain_done_figure(v: Vtx, upto: float) -> float:
    """The plain printer's DONE figure: from the first start to this completion (the issue's reading)."""
    ends = [i[1] for i in v.intervals if i[1] is not None and i[1] <= upto]
    return max(ends) - v.started


def render_plain(events: list[Event], vs: dict[str, Vtx], error: str | None, *, first: int = 1,
                 header: bool = True, until: float | None = None, label=lambda name: name,
                 summary: bool = True) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    index: dict[int, int] = {}
    cur: list[Vtx | None] = [None]
    done: set[int] = set()
    nxt = [first]
    if header and events:
        out.append((events[0].t, '#0 building with "default" instance using docker driver'))

    def emit(t: float, v: Vtx, text: str) -> None:
        out.append((t, f"#{index[id(v)]} {text}"))

    def switch(t: float, v: Vtx) -> None:
        c = cur[0]
        if c is not None and c is not v and id(c) not in done:
            emit(t, c, "...")
            out.append((t, ""))
        if c is not v and id(v) in index and id(v) not in done:
            emit(t, v, label(v.name))
        cur[0] = v

    for e in events:
        if until is not None and e.t > until:
            break
        v = e.v
        if e.kind in ("start", "restart"):
            if id(v) not in index or e.kind == "restart":
                if id(v) not in index:
                    index[id(v)] = nxt[0]
                    nxt[0] += 1
                done.discard(id(v))
                c = cur[0]
                if c is not None and c is not v and id(c) not in done:
                    emit(e.t, c, "...")
                    out.append((e.t, ""))
                emit(e.t, v, label(v.name))
                cur[0] = v
        elif e.kind == "log":
            switch(e.t, v)
            emit(e.t, v, f"{e.t - v.started:.3f} {e.text}")
        elif e.kind == "status":
            switch(e.t, v)
            st = v.statuses[e.text]
            amount = f" {size(st[0])} / {size(st[1])}" if st[1] else (f" {size(st[0])}" if st[0] else "")
            took = st[3] - st[2] if st[2] is not None else 0.0
            emit(e.t, v, f"{e.text}{amount} {took:.1f}s done" if st[1] else f"{e.text}{amount} done")
        elif e.kind == "end":
            switch(e.t, v)
            if v.error and v.done_by(e.t):
                emit(e.t, v, "CANCELED" if canceled(v) else f"ERROR: {v.error}")
            elif v.cached:
                emit(e.t, v, "CACHED")
            else:
                emit(e.t, v, f"DONE {plain_done_figure(v, e.t):.1f}s")
            done.add(id(v))
            out.append((e.t, ""))
            cur[0] = None
    if error and summary and until is None:
        t = out[-1][0]
        failed = next((v for v in vs.values() if v.error and not canceled(v)), None)
        if failed is not None:
            out += [(t, "------"), (t, f" > {label(failed.name)}:")]
            out += [(t, f"{e.t - failed.started:.3f} {e.text}") for e in events if e.v is failed and e.kind == "log"]
            out.append((t, "------"))
        out.append((t, f"ERROR: failed to solve: {error}"))
    return out


def done_figure(v: Vtx, upto: float = 1e18) -> float | None:
    """What the plain printer prints as `#N DONE x.xs` for this vertex (None: CACHED/ERROR/CANCELED)."""
    if v.cached or v.error or not v.done_by(upto):
        return None
    return round(plain_done_figure(v, upto), 1)


def plain_truth(vs: dict[str, Vtx], *, until: float | None = None, service: str | None = None) -> list[dict]:
    steps = []
    for v in sorted(vs.values(), key=lambda x: (x.started or 0, x.order)):
        parts = split_name(v.name)
        if parts is None or v.started is None or (until is not None and v.started > until):
            continue
        if service is not None and parts[0] != service:
            continue
        upto = until if until is not None else 1e18
        status = step_status(v, v.done_by(upto), parts[3])
        steps.append(truth_step(parts, status, done_figure(v, upto)))
    return steps


def step_status(v: Vtx, finished: bool, instruction: str) -> str:
    if not finished:
        return "UNKNOWN"
    if v.error:
        return "CANCELED" if canceled(v) else "ERROR"
    if v.cached:
        return "CACHED"
    if instruction.startswith("FROM"):
        pulled = any(not k.startswith("resolve") for k in v.statuses) or (v.completed - v.started) >= 1.0
        return "PULLED" if pulled else "CACHED"
    return "RUN"


def stage_of(label: str | None) -> str:
    if label is None:
        return "0"
    return label[6:] if label.startswith("stage-") and label[6:].isdigit() else label


def truth_step(parts, status: str, took: float | None, instruction: str | None = None) -> dict:
    return {"stage": stage_of(parts[1]), "position": parts[2],
            "instruction": instruction if instruction is not None else parts[3], "status": status,
            "duration_s": took}


# --- BuildKit's tty display (the last frame, or every frame as `script` records it) -----------------


def tty_frame(vs: dict[str, Vtx], t: float, width: int, *, finished: bool, label=lambda n: n,
              new_style: bool = True, total_start: float) -> tuple[list[str], list[dict]]:
    """The display at time t: the header and one line per started vertex, statuses under it; the
    truth of every step line shown (what a reader of this frame can know)."""
    shown = sorted((v for v in vs.values() if v.started is not None and v.started <= t),
                   key=lambda x: (x.started, x.order))
    done_n = sum(1 for v in vs.values() if v.done_by(t))
    head = f"[+] Building {t - total_start:.1f}s ({done_n}/{len(vs)})"
    if finished and done_n == len(vs):  # progressui: only when every vertex completed (never after a failure
        head += " FINISHED"              # that left vertices unstarted)
    if new_style:
        head = head.ljust(width - len("docker:default")) + "docker:default"
    lines = [head]
    truths = []
    pfx = " => " if new_style else "=> "  # older pastes lose the leading space
    for v in shown:
        end = v.completed if v.done_by(t) else t
        took = end - v.started
        took = 0.0 if took < 0.05 else took
        timer = f" {took:3.1f}s"
        name = label(v.name)
        if v.done_by(t) and v.error:
            name = ("CANCELED " if canceled(v) else "ERROR ") + name
        elif v.done_by(t) and v.cached:
            name = "CACHED " + name
        left = width - len(pfx) - len(timer) - 1
        shown_name = name[:left]
        lines.append((pfx + shown_name).ljust(width - len(timer)) + timer)
        parts = split_name(label(v.name))
        if parts is not None:
            status = step_status(v, v.done_by(t), parts[3])
            ins = shown_name[shown_name.index("] ") + 2:].rstrip() if "] " in shown_name else ""
            truths.append((parts, status, None if status == "UNKNOWN" else round(took, 1), ins))
        for sid, st in v.statuses.items():
            if st[2] is None or st[2] > t:
                continue
            sdone = st[3] is not None and st[3] <= t
            stook = (st[3] if sdone else t) - st[2]
            amount = f" {size(st[0])} / {size(st[1])}" if st[1] else ""
            stimer = f" {max(0.0, stook):3.1f}s"
            sname = f"=> {sid}{amount}"[: width - len(pfx) - len(stimer) - 1]
            lines.append((pfx + sname).ljust(width - len(stimer)) + stimer)
        if not v.done_by(t):
            for e in running_logs(v, t):
                lines.append(f"{pfx}=> # {e}"[:width])
    return lines, truths


_LOGS: dict[str, list[tuple[float, str]]] = {}


def running_logs(v: Vtx, t: float) -> list[str]:
    return [text for lt, text in _LOGS.get(v.digest, []) if lt <= t][-6:]


def index_logs(events: list[Event]) -> None:
    _LOGS.clear()
    for e in events:
        if e.kind == "log":
            _LOGS.setdefault(e.v.digest, []).append((e.t, e.text))


def tty_truth(truths, service: str | None = None) -> list[dict]:
    return [truth_step(parts, status, took, text) for parts, status, took, text in truths
            if service is None or parts[0] == service]


def tty_failure_tail(vs: dict[str, Vtx], events: list[Event], error: str, label=lambda n: n) -> list[str]:
    failed = next(v for v in vs.values() if v.error and not canceled(v))
    lines = ["------", f" > {label(failed.name)}:"]
    lines += [f"{e.t - failed.started:.3f} {e.text}" for e in events if e.v is failed and e.kind == "log"]
    lines += ["------", f"ERROR: failed to solve: {error}"]
    return lines


# --- wrappers that CI systems and terminals add --------------------------------------------------


def gh_stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z "


def go_stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y/%m/%d %H:%M:%S ")


def wrap(lines: list[str], width: int) -> list[str]:
    out = []
    for line in lines:
        while len(line) > width:
            out.append(line[:width])
            line = line[width:]
        out.append(line)
    return out


# --- writing -----------------------------------------------------------------------------------

MADE: list[str] = []


def write(name: str, lines: list[str], truth: dict, *, crlf: bool = False, utf16: bool = False,
          cut_mid_line: bool = False) -> None:
    text = ("\r\n" if crlf else "\n").join(lines) + ("" if cut_mid_line else ("\r\n" if crlf else "\n"))
    data = ("\ufeff" + text).encode("utf-16-le") if utf16 else text.encode("utf-8")
    (HERE / name).write_bytes(data)
    truth = {"log": name, **truth}
    (HERE / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    MADE.append(name)


def build(steps: list[dict], *, ok: bool, complete: bool, name: str | None = None) -> dict:
    return {"name": name, "ok": ok, "complete": complete, "steps": steps}


# --- the corpus --------------------------------------------------------------------------------


def bk(name: str):
    events, vs, error, last = load_trace(SRC / f"{name}.jsonl")
    index_logs(events)
    return events, vs, error, last


def tty_log(events, vs, error, last, width: int, *, new_style=True, label=lambda n: n, service=None,
            cut: float | None = None):
    start = events[0].t
    t = last if cut is None else cut
    lines, truths = tty_frame(vs, t, width, finished=cut is None, label=label, new_style=new_style,
                              total_start=start)
    return lines, tty_truth(truths, service)


def make_tty() -> None:
    # 1. A warm rebuild after an edit, terminal 120 wide, buildx >= 0.11 header.
    ev, vs, err, last = bk("bk-app-edit")
    lines, steps = tty_log(ev, vs, err, last, 120)
    write("tty_edit_w120.log", lines, {"format": "tty", "cause": "tty",
                                       "builds": [build(steps, ok=True, complete=True)]})
    # 2. A cold build in an 80-column terminal: instructions cut to fit.
    ev, vs, err, last = bk("bk-app-cold")
    lines, steps = tty_log(ev, vs, err, last, 80)
    write("tty_cold_w80.log", lines, {"format": "tty", "cause": "tty truncated instructions",
                                      "builds": [build(steps, ok=True, complete=True)]})
    # 3. A failure: ERROR and CANCELED lines, then the failure summary.
    ev, vs, err, last = bk("bk-fail")
    lines, steps = tty_log(ev, vs, err, last, 100)
    write("tty_fail_canceled.log", lines + tty_failure_tail(vs, ev, err),
          {"format": "tty", "cause": "tty, CANCELED", "builds": [build(steps, ok=False, complete=True)]})
    # 4. All cached, pasted into a Markdown issue from an older buildx (no driver column), CRLF.
    ev, vs, err, last = bk("bk-app-warm")
    lines, steps = tty_log(ev, vs, err, last, 96, new_style=False)
    body = ["I get this on every build, is the cache working?", "", "```console",
            "$ docker build -t myapp .", *lines, "```", "", "Docker Desktop 4.28 on macOS."]
    write("tty_issue_paste.md", body, {"format": "tty", "cause": "tty in markdown",
                                       "builds": [build(steps, ok=True, complete=True)]}, crlf=True)
    # 5. Every frame, as `script` records a terminal: cursor moves, erased lines, CRLF.
    ev, vs, err, last = bk("bk-app-edit")
    start = ev[0].t
    frames = []
    prev = 0
    times = sorted({round(e.t, 1) for e in ev} | {round(start + k * 0.2, 1) for k in range(int((last - start) / 0.2))})
    for t in [x for x in times if x < last] + [last]:
        lines, truths = tty_frame(vs, t, 110, finished=t >= last, total_start=start)
        up = f"\x1b[{prev}A\x1b[0G" if prev else ""
        frames.append(up + "\r\n".join(f"\x1b[2K{x}" for x in lines))
        prev = len(lines)
    data = ("\x1b[?25l" + "\r\n".join(frames) + "\r\n\x1b[?25h").split("\n")
    write("tty_script_frames.log", [x.rstrip("\r") for x in data[:-1]],
          {"format": "tty", "cause": "tty frames (script capture)",
           "builds": [build(tty_truth(truths), ok=True, complete=True)]}, crlf=True)
    # 6. The log ends while a step runs (the user copied the display mid-build).
    ev, vs, err, last = bk("bk-app-edit")
    running = next(v for v in vs.values() if v.name.startswith("[stage-1 4/6]"))
    cut = running.started + 0.4
    lines, steps = tty_log(ev, vs, err, last, 120, cut=cut)
    write("tty_cut_running.log", lines, {"format": "tty", "cause": "tty cut: UNKNOWN",
                                         "builds": [build(steps, ok=False, complete=False)]})
    # 7. A FROM that pulls (23.6 s, download sub-lines): PULLED, not CACHED.
    ev, vs, err, last = bk("bk-app-cold")
    add_pull(vs, ev, "[builder 1/6] FROM", 23.6, 49.56)
    last = max(v.completed or 0 for v in vs.values())
    lines, steps = tty_log(ev, vs, err, last, 120)
    write("tty_pull.log", lines, {"format": "tty", "cause": "FROM pull",
                                  "builds": [build(steps, ok=True, complete=True)]})
    # 8. docker compose (bake): two services in one display, `[svc stage i/n]` labels, `Service x Built`.
    evw, vsw, _, lastw = bk("bk-app-edit")
    _eva, vsa, _, lasta = bk("bk-app-warm")
    shift = 0.3
    for v in vsa.values():
        for iv in v.intervals:
            iv[0] += shift
            iv[1] = None if iv[1] is None else iv[1] + shift
        for st in v.statuses.values():
            st[2] = None if st[2] is None else st[2] + shift
            st[3] = None if st[3] is None else st[3] + shift
    merged = {**{"w" + k: v for k, v in vsw.items()}, **{"a" + k: v for k, v in vsa.items()}}
    svc = {id(v): "web" for v in vsw.values()} | {id(v): "api" for v in vsa.values()}

    def compose_label(v: Vtx) -> str:
        s = svc[id(v)]
        if v.name.startswith("[internal] "):
            return f"[{s} internal] {v.name[11:]}"
        m = STEP_NAME.match(v.name)
        if m is not None:
            return f"[{s} {m.group(1) or ''} {m.group(2)}/{m.group(3)}] {m.group(4)}".replace("  ", " ")
        return f"[{s}] {v.name}"

    for v in merged.values():
        v.name = compose_label(v)
    last = max(lastw, lasta + shift)
    lines, truths = tty_frame(merged, last, 130, finished=True, total_start=evw[0].t)
    per = {svc_name: tty_truth(truths, svc_name) for svc_name in ("web", "api")}
    lines += ["[+] Building 2/2", " ✔ Service web  Built" + " " * 90 + "2.5s",
              " ✔ Service api  Built" + " " * 90 + "0.2s"]
    write("tty_compose_two_services.log", lines, {"format": "tty", "cause": "compose labels",
          "builds": [build(per["web"], ok=True, complete=True, name="web"),
                     build(per["api"], ok=True, complete=True, name="api")]})


def make_plain() -> None:
    # 9. A step re-opened later in the build: `#N DONE` twice, the last figure counts; GitHub timestamps.
    ev, vs, err, _ = bk("bk-app-edit")
    reopen(vs, ev, "[builder 6/6]", 0.0, 0.6)
    out = render_plain(ev, vs, err)
    write("plain_reopened_gha.log", [gh_stamp(t) + x for t, x in out],
          {"format": "plain", "cause": "re-opened step, last DONE wins",
           "builds": [build(plain_truth(vs), ok=True, complete=True)]})
    # 10. Two parallel CI jobs in one log: numbers collide, lines interleave.
    eva, vsa, erra, _ = bk("bk-app-edit")
    evf, vsf, errf, _ = bk("bk-fail")
    a = render_plain(eva, vsa, erra)
    f = [(t + 0.25, x) for t, x in render_plain(evf, vsf, errf)]
    both = sorted(a + f, key=lambda x: x[0])
    write("plain_interleaved_jobs.log", [x for _, x in both],
          {"format": "plain", "cause": "interleaved builds, colliding numbers",
           "builds": [build(plain_truth(vsa), ok=True, complete=True),
                      build(plain_truth(vsf), ok=False, complete=True)]})
    # 11. The same with a secret that equals a vertex number: GitHub masks `#12` as `#***`.
    eva, vsa, erra, _ = bk("bk-app-cold")
    evw, vsw, errw, _ = bk("bk-app-warm")
    a = render_plain(eva, vsa, erra, header=False)
    w = [(t + 0.6, x) for t, x in render_plain(evw, vsw, errw, header=False)]
    both = sorted(a + w, key=lambda x: x[0])
    masked = [re.sub(r"^#12 ", "#*** ", x) for _, x in both]
    write("plain_interleaved_masked.log", [gh_stamp(EPOCH) + x for x in masked],
          {"format": "plain", "cause": "interleaved, #*** masked numbers",
           "builds": [build(plain_truth(vsa), ok=True, complete=True),
                      build(plain_truth(vsw), ok=True, complete=True)]})
    # 12. A tool that prefixes every line with its own `name ──  `.
    ev, vs, err, _ = bk("bk-app-edit")
    write("plain_tool_prefix.log", ["myapp ──  " + x for _, x in render_plain(ev, vs, err)],
          {"format": "plain", "cause": "unknown repeating prefix",
           "builds": [build(plain_truth(vs), ok=True, complete=True)]})
    # 13. Go's log package timestamps.
    ev, vs, err, _ = bk("bk-app-warm")
    write("plain_go_log.log", [go_stamp(t) + x for t, x in render_plain(ev, vs, err)],
          {"format": "plain", "cause": "Go log timestamps",
           "builds": [build(plain_truth(vs), ok=True, complete=True)]})
    # 14. Console wrapping at 80 columns: long vertex names continue on the next line.
    ev, vs, err, _ = bk("bk-app-cold")
    write("plain_wrapped80.log", wrap([x for _, x in render_plain(ev, vs, err)], 80),
          {"format": "plain", "cause": "wrapped header lines",
           "builds": [build(plain_truth(vs), ok=True, complete=True)]})
    # 15. The log ends while a RUN runs: that step is UNKNOWN, the build incomplete.
    ev, vs, err, _ = bk("bk-app-cold")
    running = next(v for v in vs.values() if v.name.startswith("[builder 6/6]"))
    cut = running.started + 0.5
    write("plain_cut_running.log", [x for _, x in render_plain(ev, vs, err, until=cut)],
          {"format": "plain", "cause": "truncated log: UNKNOWN",
           "builds": [build(plain_truth(vs, until=cut), ok=False, complete=False)]})
    # 16. A failure that cancels a parallel stage.
    ev, vs, err, _ = bk("bk-fail")
    write("plain_fail_canceled.log", [x for _, x in render_plain(ev, vs, err)],
          {"format": "plain", "cause": "CANCELED",
           "builds": [build(plain_truth(vs), ok=False, complete=True)]})
    # 17. A FROM that pulls: download lines, DONE 23.6s.
    ev, vs, err, _ = bk("bk-app-cold")
    add_pull(vs, ev, "[builder 1/6] FROM", 23.6, 27.1)
    write("plain_pull.log", [gh_stamp(t) + x for t, x in render_plain(ev, vs, err)],
          {"format": "plain", "cause": "FROM pull",
           "builds": [build(plain_truth(vs), ok=True, complete=True)]})
    # 18. PowerShell `docker build . *> build.log`: UTF-16 with CRLF.
    ev, vs, err, _ = bk("bk-app-warm")
    write("plain_powershell_utf16.log", [x for _, x in render_plain(ev, vs, err)],
          {"format": "plain", "cause": "UTF-16 CRLF",
           "builds": [build(plain_truth(vs), ok=True, complete=True)]}, crlf=True, utf16=True)
    # 19. docker buildx bake: two targets in one solve, one numbering, `[target stage i/n]` labels.
    make_bake_plain()
    # 20. A cut plain log that ends mid-line inside a long output, with ANSI colour.
    ev, vs, err, _last = bk("bk-app-edit")
    running = next(v for v in vs.values() if v.name.startswith("[stage-1 6/6]"))
    cut = next(e.t for e in ev if e.v is running and e.kind == "log")  # its first output line, cut mid-way
    lines = [x for _, x in render_plain(ev, vs, err, until=cut)]
    while not lines[-1]:
        lines.pop()
    assert re.match(r"#\d+ \d+\.\d+ ", lines[-1]), lines[-1]
    lines[-1] = lines[-1][: max(3, len(lines[-1]) // 2)]
    write("plain_cut_midline.log", [f"\x1b[34m{x}\x1b[0m" if " DONE " in x else x for x in lines],
          {"format": "plain", "cause": "truncated mid-line",
           "builds": [build(plain_truth(vs, until=cut), ok=False, complete=False)]}, cut_mid_line=True)


def make_bake_plain() -> None:
    evw, vsw, _, _ = bk("bk-app-edit")
    evf, vsf, errf, _ = bk("bk-fail")
    for v in vsf.values():
        for iv in v.intervals:
            iv[0] += 0.2
            iv[1] = None if iv[1] is None else iv[1] + 0.2
    for e in evf:
        e.t += 0.2
    svc = {id(v): "frontend" for v in vsw.values()} | {id(v): "backend" for v in vsf.values()}

    def bake_label(v: Vtx) -> str:
        s = svc[id(v)]
        if v.name.startswith("[internal] "):
            return f"[{s} internal] {v.name[11:]}"
        m = STEP_NAME.match(v.name)
        if m is not None:
            return f"[{s} {m.group(1) or ''} {m.group(2)}/{m.group(3)}] {m.group(4)}".replace("  ", " ")
        return f"[{s}] {v.name}"

    merged = {**{"w" + k: v for k, v in vsw.items()}, **{"f" + k: v for k, v in vsf.items()}}
    for v in merged.values():
        v.name = bake_label(v)
    events = sorted(evw + evf, key=lambda e: e.t)
    out = render_plain(events, merged, errf, summary=False)
    failed = next(v for v in vsf.values() if v.error and not canceled(v))
    t = out[-1][0]
    out += [(t, "------"), (t, f" > {failed.name}:"), (t, "------"),
            (t, f"ERROR: target backend: failed to solve: {errf}")]
    lines = [x for _, x in out]

    write("plain_bake_two_targets.log", lines,
          {"format": "plain", "cause": "bake three-part labels",
           "builds": [build(plain_truth(merged, service="frontend"), ok=True, complete=True, name="frontend"),
                      build(plain_truth(merged, service="backend"), ok=False, complete=True, name="backend")]})


def make_rawjson_engine() -> None:
    # 21. rawjson of the failing build: the canceled stage.
    ev, vs, err, _ = bk("bk-fail")
    lines = []
    for e in ev:
        v = e.v
        if e.kind == "start":
            vert = {"digest": v.digest, "name": v.name,
                    "started": iso(e.t)}
            if v.cached:
                vert["cached"] = True
                vert["completed"] = iso(v.completed)
            lines.append(json.dumps({"vertexes": [vert]}))
        elif e.kind == "end":
            vert = {"digest": v.digest, "name": v.name, "started": iso(v.started), "completed": iso(e.t)}
            if v.cached:
                vert["cached"] = True
            if v.error:
                vert["error"] = v.error
            lines.append(json.dumps({"vertexes": [vert]}))
        elif e.kind == "log":
            lines.append(json.dumps({"logs": [{"vertex": v.digest, "stream": 1, "timestamp": iso(e.t),
                                                "data": base64.b64encode((e.text + "\n").encode()).decode()}]}))
    lines.append(f"ERROR: failed to solve: {err}")
    write("rawjson_fail_canceled.log", lines, {"format": "rawjson", "cause": "CANCELED in rawjson",
          "builds": [build(rawjson_truth(vs), ok=False, complete=True)]})
    # 22-23. The Engine API streams themselves (curl captures).
    for src, name, ok in (("bk-fail", "engine_bk_fail_canceled.jsonl", False),
                          ("bk-app-edit", "engine_bk_edit.jsonl", True)):
        ev, vs, err, _last = bk(src)
        write(name, (SRC / f"{src}.jsonl").read_text().splitlines(),
              {"format": "engine-json", "cause": "engine stream",
               "builds": [build(rawjson_truth(vs), ok=ok, complete=True)]})


def rawjson_truth(vs: dict[str, Vtx]) -> list[dict]:
    """Timed formats: the duration is the vertex's own (sum of its intervals), not a printed figure."""
    steps = []
    for v in sorted(vs.values(), key=lambda x: (x.started or 0, x.order)):
        parts = split_name(v.name)
        if parts is None or v.started is None:
            continue
        status = step_status(v, v.completed is not None, parts[3])
        took = sum(i[1] - i[0] for i in v.intervals)
        steps.append(truth_step(parts, status, round(took, 1)))
    return steps


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


# --- classic -----------------------------------------------------------------------------------

APP_STEPS = [  # (stage, position, instruction) of src/app/Dockerfile as the classic builder numbers it
    ("builder", 1, "FROM busybox:1.36 AS builder"), ("builder", 2, "WORKDIR /build"),
    ("builder", 3, "COPY deps.txt ."),
    ("builder", 4, 'RUN sleep 1.2 && echo "installing deps" && cat deps.txt > /build/deps.out'),
    ("builder", 5, "COPY src/ ./src/"),
    ("builder", 6, 'RUN sleep 0.8 && echo "compiling" && cat src/* > /build/app.bin && echo "Successfully built gast"'),
    ("1", 1, "FROM busybox:1.36"), ("1", 2, "ARG NONCE=0"), ("1", 3, "WORKDIR /srv"),
    ("1", 4, "COPY --from=builder /build/app.bin /srv/app.bin"),
    ("1", 5, 'RUN echo "Successfully built gast" && echo "Successfully tagged nothing" && sleep 0.5'),
    ("1", 6, "COPY config.txt /srv/"), ("1", 7, "RUN sleep 0.3 && ls -l /srv"),
]
FAIL_STEPS = [
    ("slow", 1, "FROM busybox:1.36 AS slow"),
    ("slow", 2, 'RUN echo "slow stage starting" && sleep 4 && echo "slow done"'),
    ("fast", 1, "FROM busybox:1.36 AS fast"), ("fast", 2, "WORKDIR /work"),
    ("fast", 3, 'RUN echo "failing soon" && sleep 1 && echo "boom" >&2 && exit 3'),
]


def classic_steps(table, statuses: str) -> list[dict]:
    names = {"C": "CACHED", "R": "RUN", "E": "ERROR", "U": "UNKNOWN", "P": "PULLED"}
    return [{"stage": s, "position": p, "instruction": i, "status": names[c], "duration_s": None}
            for (s, p, i), c in zip(table, statuses, strict=False)]


def make_classic() -> None:
    cold = (SRC / "classic-app-cold.txt").read_text().splitlines()
    edit = (SRC / "classic-app-edit.txt").read_text().splitlines()
    fail = (SRC / "classic-fail.txt").read_text().splitlines()
    # 24. A RUN step that prints `Successfully built gast` (and `Successfully tagged`): the build goes on.
    # Cold: every step ran (FROM local: CACHED; ARG runs a container).
    write("classic_pip_successfully_built.log", cold,
          {"format": "classic", "cause": "step output mimics the engine's end",
           "builds": [build(classic_steps(APP_STEPS, "CRRRRRCRRRRRR"), ok=True, complete=True)]})
    # 25. Go log timestamps on a warm rebuild after an edit (src/ changed: from step 5 on).
    write("classic_go_log.log", [go_stamp(EPOCH + n * 0.01) + x for n, x in enumerate(edit)],
          {"format": "classic", "cause": "Go log timestamps",
           "builds": [build(classic_steps(APP_STEPS, "CCCCRRCCCRRRR"), ok=True, complete=True)]})
    # 26. A build tool's `app ──  ` prefix on the failing build (every stage is built in turn).
    write("classic_tool_prefix.log", ["ci-build ──  " + x for x in fail],
          {"format": "classic", "cause": "unknown repeating prefix",
           "builds": [build(classic_steps(FAIL_STEPS, "CRCRE"), ok=False, complete=True)]})
    # 27. Cut in the middle of step 6's output: UNKNOWN.
    n = next(i for i, x in enumerate(cold) if x.startswith("compiling"))
    write("classic_cut.log", cold[: n + 1],
          {"format": "classic", "cause": "truncated log: UNKNOWN",
           "builds": [build(classic_steps(APP_STEPS[:6], "CRRRRU"), ok=False, complete=False)]})
    # 28. compose v1 `docker-compose build`: `Building web`, then each service's classic build.
    lines = ["Building web", *cold[4:], "Building worker", *edit[4:]]
    write("classic_compose_v1.log", lines,
          {"format": "classic", "cause": "two builds, step output mimics the end",
           "builds": [build(classic_steps(APP_STEPS, "CRRRRRCRRRRRR"), ok=True, complete=True),
                      build(classic_steps(APP_STEPS, "CCCCRRCCCRRRR"), ok=True, complete=True)]})
    # 29. Windows PowerShell, console 80 wide: a pulled base image whose FROM wraps after `FROM `;
    # UTF-16 transcript. (Made from the documented classic shape: nothing can be pulled here.)
    ps = [
        "**********************", "Windows PowerShell transcript start", "**********************",
        "PS C:\\src\\api> docker build -t api .",
        "Sending build context to Docker daemon  48.13kB",
        "Step 1/6 : ARG REGISTRY=mcr.microsoft.com",
        "Step 2/6 : FROM ${REGISTRY}/dotnet/sdk:8.0.204-jammy-amd64-with-long-variant AS build-env-stage".ljust(0),
        "8.0.204-jammy-amd64-with-long-variant: Pulling from dotnet/sdk",
        "a2318d6c47ec: Pulling fs layer", "5e3d2b4a1c0f: Pulling fs layer",
        "a2318d6c47ec: Download complete", "5e3d2b4a1c0f: Verifying Checksum", "5e3d2b4a1c0f: Download complete",
        "a2318d6c47ec: Pull complete", "5e3d2b4a1c0f: Pull complete",
        "Digest: sha256:1c3a2a0ab4d23b5d1a7bb4eb5e2d7e3f3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f",
        "Status: Downloaded newer image for mcr.microsoft.com/dotnet/sdk:8.0.204-jammy-amd64-with-long-variant",
        " ---> 6e2f1ad2f8c1",
        "Step 3/6 : WORKDIR /app", " ---> Running in 3f2e1d0c9b8a", "Removing intermediate container 3f2e1d0c9b8a",
        " ---> 0a9b8c7d6e5f",
        "Step 4/6 : COPY *.csproj ./", " ---> 1b2c3d4e5f60",
        "Step 5/6 : RUN dotnet restore --runtime linux-x64 --configfile ./nuget.config --no-cache",
        " ---> Running in 4e5f60718293", "  Determining projects to restore...",
        "  Restored /app/api.csproj (in 4.21 sec).", "Removing intermediate container 4e5f60718293",
        " ---> 2c3d4e5f6071",
        "Step 6/6 : COPY . ./", " ---> 3d4e5f607182",
        "Successfully built 3d4e5f607182", "Successfully tagged api:latest",
        "PS C:\\src\\api> Stop-Transcript",
    ]
    from_text = "FROM ${REGISTRY}/dotnet/sdk:8.0.204-jammy-amd64-with-long-variant AS build-env-stage"
    ps_steps = [("build-env-stage", 1, from_text), ("build-env-stage", 2, "WORKDIR /app"),
                ("build-env-stage", 3, "COPY *.csproj ./"),
                ("build-env-stage", 4, "RUN dotnet restore --runtime linux-x64 --configfile ./nuget.config "
                                       "--no-cache"),
                ("build-env-stage", 5, "COPY . ./")]
    write("classic_powershell_wrapped.log", wrap(ps, 80),
          {"format": "classic", "cause": "wrapped header lines, PULLED, UTF-16",
           "builds": [build(classic_steps(ps_steps, "PRRRR"), ok=True, complete=True)]}, crlf=True, utf16=True)
    # 30. GitHub Actions on the classic failing build, with the stderr colour codes left in.
    write("classic_gha_fail.log", [gh_stamp(EPOCH + n * 0.5) + x for n, x in enumerate(fail)],
          {"format": "classic", "cause": "CI timestamps, failure",
           "builds": [build(classic_steps(FAIL_STEPS, "CRCRE"), ok=False, complete=True)]})
    # 31. The classic Engine API stream whose RUN prints `Successfully built gast`.
    write("engine_classic_gast.jsonl", (SRC / "classic-app-api.jsonl").read_text().splitlines(),
          {"format": "engine-json", "cause": "step output mimics the engine's end (Engine API)",
           "builds": [build(classic_steps(APP_STEPS, "CRRRRRCRRRRRR"), ok=True, complete=True)]})


def make_more_tty() -> None:
    # 32. tty with the older buildx layout, a GitHub-style timestamp on each line of a hosted builder log.
    ev, vs, err, last = bk("bk-app-cold")
    lines, steps = tty_log(ev, vs, err, last, 140, new_style=False)
    write("tty_hosted_timestamps.log", [gh_stamp(EPOCH + 30) + x for x in lines],
          {"format": "tty", "cause": "tty with CI timestamps",
           "builds": [build(steps, ok=True, complete=True)]})
    # 33. tty with a tool's prefix, failing build, UTF-16.
    ev, vs, err, last = bk("bk-fail")
    lines, steps = tty_log(ev, vs, err, last, 120)
    write("tty_tool_prefix_utf16.log", ["deploy ──  " + x for x in lines + tty_failure_tail(vs, ev, err)],
          {"format": "tty", "cause": "tty, unknown prefix, UTF-16",
           "builds": [build(steps, ok=False, complete=True)]}, utf16=True, crlf=True)


def main() -> None:
    make_tty()
    make_more_tty()
    make_plain()
    make_rawjson_engine()
    make_classic()
    print(f"{len(MADE)} logs")


if __name__ == "__main__":
    main()
