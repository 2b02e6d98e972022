"""Charts of an Analysis, as PNG and SVG bytes. Nothing here opens a file.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, so no global figure
state and no display needed). SVG keeps text as text (`svg.fonttype = none`) so a chart's labels can be
searched, and carries no date so the same data gives the same bytes. The per-scenario timelines' SVG is
drawn without matplotlib by `timeline` (same look, a fraction of the cost); their PNG, which only the
Markdown report links, is drawn by matplotlib.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..analysis.profile_stats import Analysis, fmt_s, step_seconds, truncate
from ..model import Build, Profile, StepStatus
from .timeline import Bar, Timeline

STATUS_COLORS = {"CACHED": "#4caf50", "PULLED": "#42a5f5", "RUN": "#ff9800", "ERROR": "#e53935",
                 "CANCELED": "#8d6e63", "UNKNOWN": "#9e9e9e"}
MISSING_COLOR = "#d0d0d0"
# Scenario bar colours for grouped charts (cold first, warm second, then edits).
_PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf", "#d62728", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5")
# More edits than this would make bars too thin to read; the chart says how many it left out.
MAX_EDITS_IN_TIME_CHART = 6
FORMATS = ("png", "svg")

_RC = {"svg.fonttype": "none", "svg.hashsalt": "cacheprof", "font.size": 9, "font.family": "DejaVu Sans",
       # No hinting: faster glyph layout, and the same shapes on every FreeType build.
       "text.hinting": "no_hinting"}
# Average width of a 9 pt DejaVu Sans character, in inches: margins are sized from label lengths
# instead of by a layout engine, which would lay out every label again on each save (2-3x the cost).
_CHAR_IN = 0.072


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    png: bytes
    svg: bytes


def _frame(plot_w: float, plot_h: float, *, left: float = 0.3, right: float = 0.25, top: float = 0.45,
           bottom: float = 0.55) -> tuple[Figure, Axes]:
    """A figure whose axes are plot_w x plot_h inches with the given margins (inches)."""
    w, h = left + plot_w + right, bottom + plot_h + top
    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / w, bottom / h, plot_w / w, plot_h / h))
    return fig, ax


def _text_in(labels: Iterable[str]) -> float:
    """Inches the longest label needs."""
    return max((len(s) for s in labels), default=0) * _CHAR_IN


def _empty(message: str) -> Figure:
    fig, ax = _frame(6, 1.0, top=0.2, bottom=0.2)
    ax.text(0.5, 0.5, message, ha="center", va="center")
    ax.set_axis_off()
    return fig


def render(fig: Figure | Timeline, fmt: str) -> bytes:
    """The figure (or timeline) as PNG or SVG bytes, without timestamps."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}")
    if isinstance(fig, Timeline):
        if fmt == "svg":
            return fig.render("svg")
        fig = timeline_png_figure(fig)  # a PNG only for Markdown, drawn by matplotlib
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context(_RC):
        # A tight box grows the canvas to every label: nothing is clipped, whatever the label lengths.
        fig.savefig(buf, format=fmt, metadata=meta, bbox_inches="tight", pad_inches=0.1)
    return buf.getvalue()


def _row_labels(ax: Axes, labels: Sequence[str]) -> None:
    """Row labels left of the axes, row i at y=i, as plain texts.

    Cheaper than tick labels: no Tick objects, and no passes over their boxes to place axis labels.
    """
    ax.set_yticks([])
    tr = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for y, text in enumerate(labels):
        ax.text(-0.01, y, text, transform=tr, ha="right", va="center")


def _titles(ax: Axes, title: str, xlabel: str | None = None) -> None:
    # A fixed title y skips matplotlib's search for a place above the tick labels.
    ax.set_title(title, y=1.0, pad=6)
    if xlabel:
        fig = ax.get_figure()
        assert fig is not None
        pos = ax.get_position()
        fig.text((pos.x0 + pos.x1) / 2, 0.06 / fig.get_figheight(), xlabel, ha="center", va="bottom")


def _status_legend(ax: Axes, where: str = "upper right", extra: Iterable[Patch] = (),
                   anchor: tuple[float, float] | None = None) -> None:
    handles = [Patch(color=c, label=s) for s, c in STATUS_COLORS.items()]
    ax.legend(handles=[*handles, *extra], loc=where, fontsize=8, framealpha=0.9, bbox_to_anchor=anchor)


def slug(name: str, limit: int = 80) -> str:
    """A file-name-safe stem: ASCII only (undecodable names included), and a long one shortened with a hash
    of the whole name so two long names stay apart (a file name over 255 bytes fails to be written)."""
    import hashlib

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "scenario"
    if len(stem) <= limit:
        return stem
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{stem[: limit - 11]}-{digest}"


# --- timeline -----------------------------------------------------------------------------------------


def pick_build(profile: Profile, scenario: str, repeat: int | None = None) -> Build | None:
    """The scenario's first repetition, or the one `repeat` names."""
    builds = sorted(profile.builds_of(scenario), key=lambda b: b.repeat)
    if repeat is not None:
        builds = [b for b in builds if b.repeat == repeat]
    return builds[0] if builds else None


def is_noop(build: Build | None) -> bool:
    """A build in which no step did work (every step cached): its timeline would draw slivers as if work."""
    return build is None or all(s.status is StepStatus.CACHED for s in build.steps)


def timeline_figure(build: Build | None, labels: Mapping[tuple[str, int], str] | None = None,
                    scenario: str = "", xmax: float | None = None) -> Timeline:
    """Gantt chart of one build: steps on y, seconds on x, coloured by cache status.

    Steps of parallel stages overlap on the time axis. Without timestamps (some classic-builder logs)
    the steps are laid end to end from their durations, and the axis says so. Drawn by fast_timeline,
    not matplotlib: a report has one per scenario, and matplotlib's text layout made them most of its cost.
    """
    # An explicit scenario wins: compare_report titles its two timelines "BEFORE: ..." and "AFTER: ...".
    scenario = scenario or (build.scenario if build else "")
    steps = sorted(build.steps, key=lambda s: s.index) if build else []
    if build is None or not steps:
        return Timeline(message=f"no steps recorded for {scenario}")
    names = [(labels or {}).get(s.key) or truncate(f"{s.position} {s.instruction}") for s in steps]
    spans: list[tuple[float, float]] = []
    starts = [s.started for s in steps]
    ends = [s.finished for s in steps]
    timed = all(t is not None for t in (*starts, *ends))
    if timed:
        origin = min(t for t in starts if t is not None)
        spans = [(a - origin, e - a) for a, e in zip(starts, ends, strict=True)
                 if a is not None and e is not None]
    else:
        t = 0.0
        for s in steps:
            d = step_seconds(s) or 0.0
            spans.append((t, d))
            t += d
    total = max((a + d for a, d in spans), default=0.0) or 1.0
    # A shared axis (compare's BEFORE and AFTER) is passed in; else the build's own span.
    axis = max(xmax, total * 1.02) if xmax else total * 1.02
    # A cached step takes ~0 s; give it a sliver of width so it stays visible.
    bars = tuple(Bar(i, a, max(d, total * 0.004), STATUS_COLORS[str(s.status)])
                 for i, (s, (a, d)) in enumerate(zip(steps, spans, strict=True)))
    return Timeline(
        title=f"Timeline: {scenario} (repeat {build.repeat}, wall {fmt_s(build.duration_s)})",
        rows=tuple(names), bars=bars, xmax=axis,
        legend=tuple((s, c) for s, c in STATUS_COLORS.items() if s in {str(x.status) for x in steps}),
        xlabel="seconds since the first step started" if timed else "seconds (steps laid end to end)")


def timeline_png_figure(t: Timeline) -> Figure:
    """The same timeline drawn by matplotlib (for the PNG that Markdown links)."""
    with matplotlib.rc_context(_RC):
        if not t.rows:
            return _empty(t.message)
        fig, ax = _frame(7.5, 0.26 * len(t.rows) + 0.2, left=_text_in(t.rows) + 0.3, right=1.4)
        for b in t.bars:
            ax.broken_barh([(b.start, b.width)], (b.row - 0.35, 0.7), facecolors=b.color, edgecolor="#333333",
                           linewidth=0.5)
        _row_labels(ax, t.rows)
        ax.set_ylim(len(t.rows) - 0.5, -0.5)
        ax.set_xlim(0, t.xmax)
        _titles(ax, t.title, t.xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(handles=[Patch(color=c, label=s) for s, c in t.legend], loc="upper left", bbox_to_anchor=(1.01, 1),
                  fontsize=8)
        return fig


# --- scenario times ---------------------------------------------------------------------------------


def scenario_times_figure(profile: Profile) -> Figure:
    """Median wall seconds per scenario (ok builds), whiskers from the fastest to the slowest build: both
    ends are measured times, so a whisker never goes below zero."""
    with matplotlib.rc_context(_RC):
        rows = []
        for name in profile.scenario_names:
            walls = sorted(b.duration_s for b in profile.builds_of(name) if b.ok and b.duration_s is not None)
            if walls:
                rows.append((name, float(np.median(walls)), walls[0], walls[-1], len(walls)))
        if not rows:
            return _empty("no successful builds to time")
        names = [f"{n} (n={k})" for n, _, _, _, k in rows]
        fig, ax = _frame(6.0, 0.3 * len(rows) + 0.2, left=_text_in(names) + 0.3, right=0.6)
        ys = np.arange(len(rows))
        meds = np.array([m for _, m, _, _, _ in rows])
        lo = meds - np.array([a for _, _, a, _, _ in rows])
        hi = np.array([b for _, _, _, b, _ in rows]) - meds
        ax.barh(ys, meds, height=0.6, color=_PALETTE[0], xerr=[lo, hi], capsize=3, ecolor="#333333")
        for y, (_, m, _, top, _) in zip(ys, rows, strict=True):
            ax.text(top, y, f"  {m:.2f} s", va="center", fontsize=8)
        _row_labels(ax, names)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(0, max(b for _, _, _, b, _ in rows) * 1.2)
        _titles(ax, "Wall time per scenario: median, whiskers fastest to slowest build", "seconds")
        ax.grid(axis="x", alpha=0.3)
        return fig


# --- per-step time ----------------------------------------------------------------------------------


def time_saved_figure(analysis: Analysis) -> Figure:
    """Per step, median seconds in cold, warm and each edit scenario: the gap to cold is the saving."""
    with matplotlib.rc_context(_RC):
        edits = sorted(analysis.edits, key=lambda e: -(e.median_total_s or 0.0))
        shown_edits = [e.scenario for e in edits[:MAX_EDITS_IN_TIME_CHART]]
        names = [n for n in (analysis.cold, analysis.warm) if n] + sorted(
            shown_edits, key=[e.scenario for e in analysis.edits].index)
        keys = list(analysis.step_order)
        if not names or not keys:
            return _empty("no cold, warm or edit scenarios to compare")
        step_names = [analysis.step_labels[k] for k in keys]
        fig, ax = _frame(6.5, len(keys) * (0.08 * len(names) + 0.14), left=_text_in(step_names) + 0.3,
                         right=_text_in(names) * 0.85 + 0.7, top=0.6)
        indexed = analysis.per_step.set_index(["scenario", "key"])
        ps, mode = indexed["median_s"], indexed["status_mode"]
        group = 0.8
        bar = group / len(names)
        ys = np.arange(len(keys))
        for i, name in enumerate(names):
            # Only steps that did work get a bar: a cached step's ~0 s bar would stand for nothing.
            worked = [(y, float(ps[(name, k)])) for y, k in zip(ys, keys, strict=True)
                      if (name, k) in ps.index and mode[(name, k)] != "CACHED" and not np.isnan(ps[(name, k)])]
            ax.barh([y - group / 2 + bar * (i + 0.5) for y, _ in worked], [v for _, v in worked], height=bar,
                    label=name, color=_PALETTE[i % len(_PALETTE)])
        _row_labels(ax, step_names)
        ax.set_ylim(len(keys) - 0.5, -0.5)
        left_out = len(edits) - len(shown_edits)
        more = f" ({left_out} cheaper edits not shown)" if left_out else ""
        _titles(ax, f"Per-step median time of the steps that ran: cold vs warm vs each edit{more}\n"
                "no bar: the step was cached", "median seconds per step")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)
        return fig


# --- invalidation map -------------------------------------------------------------------------------


def invalidation_figure(analysis: Analysis) -> Figure:
    """Edit scenarios (rows) x steps (columns): the status most repetitions had; rows carry rebuild s."""
    with matplotlib.rc_context(_RC):
        grid = analysis.invalidation_map()
        rows, cols = grid.shape
        if rows == 0 or cols == 0:
            return _empty("no edit scenarios: nothing to map")
        by_name = {e.scenario: e for e in analysis.edits}
        row_names = [f"{n}: {fmt_s(by_name[n].median_total_s)}" for n in grid.index]
        col_names = [str(c) for c in grid.columns]
        # Column labels are turned 60 degrees: their height is sin(60) of their length.
        fig, ax = _frame(max(0.3 * cols, 3.0), 0.3 * rows, left=_text_in(row_names) + 0.3, right=1.3,
                         top=0.45, bottom=_text_in(col_names) * 0.87 + 0.3)
        codes = {s: i for i, s in enumerate(STATUS_COLORS)}
        missing = len(codes)
        data = np.array([[codes.get(v, missing) if isinstance(v, str) else missing for v in row]
                         for row in grid.itertuples(index=False)], dtype=float)
        cmap = ListedColormap([*STATUS_COLORS.values(), MISSING_COLOR])
        ax.imshow(data, cmap=cmap, vmin=-0.5, vmax=missing + 0.5, aspect="auto", interpolation="nearest")
        _row_labels(ax, row_names)
        ax.set_xticks([])
        tr = ax.get_xaxis_transform()  # x in data, y in axes fraction
        for x, text in enumerate(col_names):
            ax.text(x, -0.02, text, transform=tr, rotation=60, ha="right", va="top", rotation_mode="anchor")
        # Cell borders as two line collections (grid lines would need a Tick object per line).
        ax.hlines(np.arange(0.5, rows - 1, 1), -0.5, cols - 0.5, color="white", linewidth=1)
        ax.vlines(np.arange(0.5, cols - 1, 1), -0.5, rows - 0.5, color="white", linewidth=1)
        _titles(ax, "Invalidation map: which steps each edit rebuilds\n(row label: median rebuild time)")
        _status_legend(ax, "upper left", [Patch(color=MISSING_COLOR, label="not run")], anchor=(1.01, 1.0))
        return fig


# --- layer sizes ------------------------------------------------------------------------------------


def sized_build(profile: Profile) -> Build | None:
    """The last ok build whose steps carry layer sizes (the image a user would ship), or None."""
    for b in reversed(profile.builds):
        if b.ok and any(s.size_bytes is not None for s in b.steps):
            return b
    return None


def layer_size_figure(build: Build | None, labels: Mapping[tuple[str, int], str] | None = None) -> Figure:
    """Per step of the image, the size of the layer it added (the engine's image history)."""
    with matplotlib.rc_context(_RC):
        steps = [s for s in (build.steps if build else ()) if s.size_bytes is not None]
        if build is None or not steps:
            return _empty("no layer sizes recorded")
        names = [(labels or {}).get(s.key) or truncate(f"{s.position} {s.instruction}") for s in steps]
        fig, ax = _frame(5.5, 0.28 * len(steps) + 0.2, left=_text_in(names) + 0.3, right=0.9)
        mb = [(s.size_bytes or 0) / 1e6 for s in steps]
        ys = np.arange(len(steps))
        ax.barh(ys, mb, color=_PALETTE[0], height=0.6)
        top = max(mb) or 1.0
        for y, v in zip(ys, mb, strict=True):
            ax.text(v + top * 0.01, y, f"{v:.3g} MB", va="center", fontsize=8)
        _row_labels(ax, names)
        ax.set_ylim(len(steps) - 0.5, -0.5)
        ax.set_xlim(0, top * 1.25)
        image = f", image {build.image_size_bytes / 1e6:.3g} MB" if build.image_size_bytes is not None else ""
        _titles(ax, f"Layer size per step ({build.scenario}{image})", "MB added to the image")
        ax.grid(axis="x", alpha=0.3)
        return fig


# --- the set a report shows -----------------------------------------------------------------------------

# (stem, title, figure builder name, builder arguments): plain data, so a worker process can render it.
_Job = tuple[str, str, str, tuple[Any, ...]]
_BUILDERS: dict[str, Callable[..., Figure | Timeline]] = {
    "scenario_times": scenario_times_figure,
    "time_saved": time_saved_figure,
    "invalidation": invalidation_figure,
    "timeline": timeline_figure,
    "timeline_svg": timeline_figure,
    "layer_sizes": layer_size_figure,
}
# Below this many charts a process pool costs more than it saves.
_POOL_MIN_JOBS = 8
# Pool submission order, dearest first, so the matplotlib charts (hundreds of ms each) start at once and
# the timelines (milliseconds each) fill the gaps instead of leaving one worker idle at the end.
_COST_RANK = {"invalidation": 0, "time_saved": 1, "scenario_times": 2, "layer_sizes": 2, "timeline": 3,
              "timeline_svg": 4}
# Timelines the Markdown report shows as PNG: cold and the costliest scenarios; the others link their SVG.
MAX_PNG_TIMELINES = 3


def _render_job(job: _Job) -> Chart:
    stem, title, kind, args = job
    fig = _BUILDERS[kind](*args)
    # A timeline's PNG (matplotlib, ~0.6 s) is drawn only for those Markdown shows; the rest are SVG only.
    png = b"" if kind == "timeline_svg" else render(fig, "png")
    return Chart(stem, title, png, render(fig, "svg"))


def _worker_init() -> None:
    """A chart worker dies with its parent (also a SIGKILLed one) and leaves signals to the parent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def build_charts(profile: Profile, analysis: Analysis, *, workers: int | None = None) -> dict[str, Chart]:
    """Every chart of the report, by file name stem, in display order.

    matplotlib's text rendering is what costs (tens of ms per label on a slow machine), so with many
    charts they are rendered in `workers` processes (default: one per CPU); workers=1 renders here.
    """
    jobs: list[_Job] = []
    # Picked for what they show: a chart of one row would repeat the table above it.
    if len(profile.scenario_names) > 1:
        jobs.append(("scenario_times", "Wall time per scenario", "scenario_times", (profile,)))
    if len(analysis.step_order) > 1 and not analysis.per_step.empty:
        jobs.append(("time_saved", "Per-step time: cold vs warm vs each edit", "time_saved", (analysis,)))
    if len(analysis.edits) > 1:  # one edit: its row is the invalidation map table already
        jobs.append(("invalidation", "Invalidation map", "invalidation", (analysis,)))
    sized = sized_build(profile)
    if sized is not None:
        jobs.append(("layer_sizes", "Layer size per step", "layer_sizes", (sized, analysis.step_labels)))
    used: set[str] = set()
    drawn = [(name, b) for name in profile.scenario_names
             if (b := pick_build(profile, name)) is not None and not is_noop(b) and len(b.steps) >= 2]
    # (Every step cached: nothing ran, so no timeline drawn as if it were work.)
    by_cost = sorted(drawn, key=lambda nb: (nb[0] != "cold", -(nb[1].duration_s or 0.0)))
    with_png = {name for name, _ in by_cost[:MAX_PNG_TIMELINES]}
    for name, build in drawn:
        stem = f"timeline_{slug(name)}"
        while stem in used:
            stem += "_"
        used.add(stem)
        jobs.append((stem, f"Timeline: {name}", "timeline" if name in with_png else "timeline_svg",
                     (build, analysis.step_labels, name)))
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers > 1 and len(jobs) >= _POOL_MIN_JOBS:
        # fork: workers inherit the loaded modules, so nothing is imported twice.
        ctx = multiprocessing.get_context("fork")
        ordered = sorted(jobs, key=lambda j: _COST_RANK[j[2]])  # stable: timelines keep their order
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx,
                                 initializer=_worker_init) as pool:
            done = {c.name: c for c in pool.map(_render_job, ordered)}
        charts = [done[j[0]] for j in jobs]
    else:
        charts = [_render_job(j) for j in jobs]
    return {c.name: c for c in charts}
