"""The trend report: one self-contained HTML page (charts inline as PNG data) over a bench history.

Per benchmark and scenario: the median build time per run with the spread of its repetitions as a band,
the baseline each run was checked against, and regressions marked; hit rate and cache saved over time;
and for warm and edit scenarios a step x run grid of CACHED/RUN in which a cache regression shows as a
colour change. Commits are in the runs table and in each point's hover text of the grid.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..analysis.regressions import CheckResult
from ..analysis.trends import ScenarioTrend, TrendPoint

_RC_FONT = 9
RUN_COLOR = "#ff9800"
CACHED_COLOR = "#4caf50"


@dataclass(frozen=True)
class RunRow:
    uid: str
    created_utc: str
    commit: str | None
    dirty: bool | None
    hostname: str
    failed_builds: int
    builds: int


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _short_date(created: str) -> str:
    return created[5:16].replace("T", " ") if len(created) >= 16 else created


def duration_chart(t: ScenarioTrend) -> str:
    pts = t.points
    xs = list(range(len(pts)))
    fig = Figure(figsize=(7.5, 2.9), dpi=96)
    ax = fig.add_subplot(1, 1, 1)
    med = [p.median_s for p in pts]
    lo = [p.min_s if p.min_s is not None else float("nan") for p in pts]
    hi = [p.max_s if p.max_s is not None else float("nan") for p in pts]
    ax.fill_between(xs, lo, hi, color="#1f77b4", alpha=0.18, step=None, label="min-max of repetitions")
    ax.plot(xs, [m if m is not None else float("nan") for m in med], "o-", color="#1f77b4", ms=3, lw=1.2,
            label="median")
    base = [p.baseline_s if p.baseline_s is not None else float("nan") for p in pts]
    ax.plot(xs, base, "--", color="#555555", lw=1, label="baseline")
    for marks, color, sym, name in ((("time regression", "cache regression"), "#d62728", "v", "regression"),
                                    (("time improvement", "cache improvement"), "#2ca02c", "^", "improvement")):
        sel = [(x, p.median_s) for x, p in zip(xs, pts, strict=True)
               if p.median_s is not None and any(m in marks for m in p.marks)]
        if sel:
            ax.plot([s[0] for s in sel], [s[1] for s in sel], sym, color=color, ms=9, ls="none", label=name)
    failed = [(x, p) for x, p in zip(xs, pts, strict=True) if p.ok < p.builds]
    if failed:
        ax.plot([x for x, _ in failed], [0 for _ in failed], "x", color="#e53935", ms=7, ls="none",
                label="failed builds")
    changes = [x for x, p in zip(xs, pts, strict=True) if p.new_baseline]
    for n, x in enumerate(changes):
        ax.axvline(x - 0.5, color="#9c27b0", ls=":", lw=1.2, label="new baseline" if n == 0 else None)
    ax.set_ylabel("seconds", fontsize=_RC_FONT)
    ax.set_ylim(bottom=0)
    _run_ticks(ax, pts)
    ax.tick_params(axis="y", labelsize=_RC_FONT - 1)
    ax.legend(fontsize=_RC_FONT - 2, loc="upper left", ncols=3, frameon=False)
    ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.08, right=0.99, top=0.95, bottom=0.3)
    return _png(fig)


def _run_ticks(ax: Any, pts: Sequence[TrendPoint]) -> None:
    # Runs are numbered as in the grid and the runs table below; the date is on every few.
    step = max(1, len(pts) // 10)
    xs = list(range(len(pts)))[::step]
    ax.set_xticks(xs, [f"{i + 1}\n{_short_date(pts[i].created_utc)}" for i in xs], fontsize=_RC_FONT - 2)
    ax.set_xlabel("run", fontsize=_RC_FONT - 1)


def cache_chart(trends: Sequence[ScenarioTrend]) -> str:
    fig = Figure(figsize=(7.5, 2.8), dpi=96)
    ax1 = fig.add_subplot(1, 2, 1)
    ax2 = fig.add_subplot(1, 2, 2)
    for t in trends:
        xs = list(range(len(t.points)))
        ax1.plot(xs, [p.hit_rate * 100 if p.hit_rate is not None else float("nan") for p in t.points], "o-",
                 ms=3, lw=1, label=t.scenario)
        if any(p.cache_saved is not None for p in t.points):
            ax2.plot(xs, [p.cache_saved * 100 if p.cache_saved is not None else float("nan") for p in t.points],
                     "o-", ms=3, lw=1, label=t.scenario)
    for ax, title in ((ax1, "hit rate (RUN/COPY/ADD), %"), (ax2, "cache saved vs cold, %")):
        ax.set_title(title, fontsize=_RC_FONT)
        ax.set_ylim(-5, 105)
        ax.tick_params(labelsize=_RC_FONT - 2)
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=_RC_FONT - 2, frameon=False)
    longest = max(trends, key=lambda t: len(t.points))
    for ax in (ax1, ax2):
        _run_ticks(ax, longest.points)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.3, wspace=0.2)
    return _png(fig)


def _grid_html(t: ScenarioTrend) -> str:
    if not t.grid:
        return ""
    head = "".join(f'<th title="{html.escape(p.run_uid)} {html.escape(p.commit or "")}">{i + 1}</th>'
                   for i, p in enumerate(t.points))
    rows = []
    for row in t.grid:
        cells = []
        for p, st in zip(t.points, row.states, strict=False):
            cls = {"CACHED": "c", "RUN": "r"}.get(st or "", "n")
            tip = f"{p.run_uid} {p.commit or ''}: {st or 'absent'}"
            cells.append(f'<td class="{cls}" title="{html.escape(tip)}">{(st or "")[:1]}</td>')
        rows.append(f'<tr><th class="step">{html.escape(row.label)}</th>{"".join(cells)}</tr>')
    return (f'<table class="grid" data-scenario="{html.escape(t.scenario)}"><thead><tr><th>step \\ run</th>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _point_row(p: TrendPoint) -> str:
    def s(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    hit = "-" if p.hit_rate is None else f"{p.hit_rate:.0%}"
    saved = "-" if p.cache_saved is None else f"{p.cache_saved:.0%}"
    return (f"<tr><td>{html.escape(p.run_uid)}</td><td>{html.escape((p.commit or '-')[:12])}</td>"
            f"<td>{s(p.median_s)}</td><td>{s(p.min_s)}..{s(p.max_s)}</td><td>{p.ok}/{p.builds}</td>"
            f"<td>{s(p.baseline_s)}</td><td>{hit}</td><td>{saved}</td>"
            f"<td>{html.escape(', '.join((*p.marks, *(['new baseline'] if p.new_baseline else []))))}</td></tr>")


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1100px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1em}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 5px}
table.grid td{width:1.4em;text-align:center;font-size:.75em}td.c{background:#4caf50;color:#fff}
td.r{background:#ff9800}td.n{background:#eee}th.step{text-align:left;font-weight:normal;font-family:monospace}
.alarm{color:#b71c1c}.ok{color:#1b5e20}details{margin:.4em 0}img{max-width:100%}
"""


def render_trend_html(trends: Sequence[ScenarioTrend], runs: Sequence[RunRow], check: CheckResult | None,
                      *, title: str = "cacheprof bench history") -> str:
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if check is not None:
        if check.regressions:
            parts.append('<section id="regressions"><h2 class="alarm">Regressions in the latest run</h2><ul>')
            parts += [f"<li>{html.escape(f.message)}</li>" for f in check.regressions]
            parts.append("</ul></section>")
        else:
            parts.append('<p id="regressions" class="ok">No confirmed regression in the latest run.</p>')
        if check.notices:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in check.notices) + "</ul>")
    groups: dict[tuple[str, str], list[ScenarioTrend]] = {}
    for t in trends:
        groups.setdefault((t.benchmark, t.engine), []).append(t)
    engines = len({e for _, e in groups})
    for (benchmark, engine), ts in groups.items():
        name = f"{benchmark} [{engine}]" if engines > 1 else benchmark
        parts.append(f'<section class="benchmark"><h2>{html.escape(name)}</h2>')
        parts.append(f'<figure><img alt="hit rate and cache saved of {html.escape(name)}" '
                     f'src="data:image/png;base64,{cache_chart(ts)}"></figure>')
        for t in ts:
            parts.append(f"<h3>{html.escape(t.scenario)}</h3>")
            parts.append(f'<figure><img alt="duration of {html.escape(name)} {html.escape(t.scenario)} over time" '
                         f'src="data:image/png;base64,{duration_chart(t)}"></figure>')
            parts.append(_grid_html(t))
            parts.append("<details><summary>per run</summary><table><tr><th>run</th><th>commit</th>"
                         "<th>median s</th><th>range s</th><th>ok</th><th>baseline s</th><th>hit rate</th>"
                         "<th>cache saved</th><th>marks</th></tr>")
            parts += [_point_row(p) for p in t.points]
            parts.append("</table></details>")
        parts.append("</section>")
    parts.append('<section id="runs"><h2>Runs</h2><table><tr><th>#</th><th>run</th><th>UTC</th><th>commit</th>'
                 "<th>host</th><th>failed / builds</th></tr>")
    for i, r in enumerate(runs, 1):
        commit = (r.commit or "-")[:12] + (" (dirty)" if r.dirty else "")
        parts.append(f"<tr><td>{i}</td><td>{html.escape(r.uid)}</td><td>{html.escape(r.created_utc)}</td>"
                     f"<td>{html.escape(commit)}</td><td>{html.escape(r.hostname)}</td>"
                     f"<td>{r.failed_builds}/{r.builds}</td></tr>")
    parts.append("</table></section></body></html>\n")
    return "".join(parts)
