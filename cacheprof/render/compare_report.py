"""The comparison's report: side-by-side chart per scenario, the two timelines of the most telling
scenario, and Markdown/HTML pages. Renderers return text or bytes; `write_compare_report` writes them."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..analysis.compare import Comparison, ScenarioComparison
from .compare_sizes import size_lines, transfer_lines


def most_telling(c: Comparison) -> ScenarioComparison | None:
    """The scenario with the largest absolute difference between the sides."""
    scored = [s for s in c.scenarios if s.diff_s is not None]
    return max(scored, key=lambda s: abs(s.diff_s or 0.0)) if scored else None


def side_interval(runs: tuple[float, ...]) -> tuple[float, float] | None:
    """Student-t 95% interval of one side's mean seconds (None with fewer than 2 rounds)."""
    import statistics

    from ..analysis.compare import t975

    if len(runs) < 2:
        return None
    mean = statistics.fmean(runs)
    half = t975(len(runs) - 1) * statistics.stdev(runs) / len(runs) ** 0.5
    return (mean - half, mean + half)


def scenario_chart(s: ScenarioComparison, fmt: str) -> bytes:
    """BEFORE and AFTER side by side for one scenario: median bars, whiskers of each side's 95% interval,
    and the rounds as dots."""
    from matplotlib.figure import Figure

    from .charts import render

    fig = Figure(figsize=(4.2, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for x, side, color in ((0, s.before, "#8c8c8c"), (1, s.after, "#2b7bba")):
        m = side.median_s or 0.0
        ci = side_interval(side.runs_s)
        err = [[max(0.0, m - ci[0])], [max(0.0, ci[1] - m)]] if ci else None
        ax.bar([x], [m], 0.6, yerr=err, capsize=6, color=color)
        ax.plot([x] * len(side.runs_s), side.runs_s, "o", color="black", markersize=3)
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["BEFORE", "AFTER"])
    ax.set_ylabel("seconds")
    title = s.scenario if len(s.scenario) <= 36 else s.scenario[:33] + "..."
    diff = f"{s.diff_s:+.2f} s" if s.diff_s is not None else "-"
    ax.set_title(f"{title}\n{s.verdict} ({diff})", fontsize=10)
    ax.margins(y=0.15)
    fig.tight_layout()
    return render(fig, fmt)


def side_by_side_chart(c: Comparison, fmt: str) -> bytes:
    """All scenarios in one chart: median bars, BEFORE beside AFTER, whiskers from the fastest to the
    slowest round, the verdict above each pair."""
    from matplotlib.figure import Figure

    from .charts import render

    names = [s.scenario for s in c.scenarios]
    fig = Figure(figsize=(max(6.0, 1.2 * len(names) + 2), 4.0))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.38
    for offset, side, color in ((-width / 2, "before", "#8c8c8c"), (width / 2, "after", "#2b7bba")):
        meds, lo, hi = [], [], []
        for s in c.scenarios:
            sd = getattr(s, side)
            m = sd.median_s or 0.0
            meds.append(m)
            lo.append(m - min(sd.runs_s) if sd.runs_s else 0.0)
            hi.append(max(sd.runs_s) - m if sd.runs_s else 0.0)
        xs = [i + offset for i in range(len(names))]
        ax.bar(xs, meds, width, yerr=[lo, hi], capsize=4, color=color, label=side.upper())
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n if len(n) <= 24 else n[:21] + "..." for n in names], rotation=20, ha="right", fontsize=8)
    for i, s in enumerate(c.scenarios):
        top = max([*s.before.runs_s, *s.after.runs_s, 0.0])
        ax.annotate(s.verdict, (i, top), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8)
    ax.margins(y=0.15)
    ax.set_ylabel("seconds (median, whiskers: fastest to slowest round)")
    ax.set_title("BEFORE vs AFTER per scenario")
    ax.legend()
    fig.tight_layout()
    return render(fig, fmt)


def all_charts(c: Comparison, fmt: str) -> dict[str, bytes]:
    from .charts import slug

    out = {"side_by_side": side_by_side_chart(c, fmt)}
    for s in c.scenarios:
        out[f"side_by_side_{slug(s.scenario)}"] = scenario_chart(s, fmt)
    out.update(timelines(c, fmt))
    return out


def timelines(c: Comparison, fmt: str) -> dict[str, bytes]:
    from .charts import pick_build, render, slug, timeline_figure

    s = most_telling(c)
    if s is None:
        return {}
    out: dict[str, bytes] = {}
    for side, profile in (("before", c.before), ("after", c.after)):
        fig = timeline_figure(pick_build(profile, s.scenario), scenario=f"{side.upper()}: {s.scenario}")
        out[f"timeline_{side}_{slug(s.scenario)}"] = render(fig, fmt)
    return out


def _fmt(x: float | None, spec: str = "{:.2f}") -> str:
    return "-" if x is None else spec.format(x)


def _ci(s: ScenarioComparison) -> str:
    return f"[{s.ci95_s[0]:+.2f}, {s.ci95_s[1]:+.2f}]" if s.ci95_s else "-"


def summary_lines(c: Comparison) -> list[str]:
    out = []
    for s in c.scenarios:
        if s.verdict in ("faster", "slower") and s.diff_s is not None:
            out.append(f"AFTER is {s.verdict} on {s.scenario}: {abs(s.diff_s):.2f} s "
                       f"({_fmt(s.before.median_s)} s to {_fmt(s.after.median_s)} s)")
        else:
            out.append(f"{s.scenario}: {s.verdict}")
    return out


def render_markdown(c: Comparison, chart_names: list[str]) -> str:
    lines = ["# cacheprof compare", "", f"- BEFORE: `{c.before.dockerfile}`", f"- AFTER: `{c.after.dockerfile}`",
             f"- context: `{c.before.context}`, builder: {c.before.builder}", ""]
    lines += [f"- {x}" for x in summary_lines(c)]
    lines += ["", "| scenario | before s | after s | diff s | ratio | 95% CI of diff | verdict |",
              "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for s in c.scenarios:
        lines.append(f"| `{s.scenario}` | {_fmt(s.before.median_s)} | {_fmt(s.after.median_s)} | "
                     f"{_fmt(s.diff_s, '{:+.2f}')} | {_fmt(s.ratio)} | {_ci(s)} | {s.verdict} |")
    if c.changes:
        lines += ["", "## Steps whose cache status changed", ""]
        lines += [f"- {ch.message}" for ch in c.changes]
    if transfer_lines(c):
        lines += ["", "## Context transfer", ""] + [f"- {x}" for x in transfer_lines(c)]
    if size_lines(c):
        head, *steps = size_lines(c, limit=None)
        lines += ["", "## Image size", "", head, ""] + [f"- {x.strip()}" for x in steps]
    if c.equivalence is not None:
        lines += ["", "## Final images", "",
                  f"Equivalent: **{'yes' if c.equivalence.get('equivalent') else 'no'}** "
                  f"({c.equivalence.get('files_compared', 0)} paths compared)"]
        lines += [f"- {d}" for d in c.equivalence.get("differences", [])]
        lines += [f"- note: {n}" for n in c.equivalence.get("notes", [])]
    lines += ["", "## Charts", ""] + [f"![{n}](charts/{n}.png)" for n in chart_names]
    lines += ["", "Per-side reports: [before](before/report.md), [after](after/report.md)", ""]
    return "\n".join(lines)


def render_html(c: Comparison, charts_png: dict[str, bytes]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s.scenario)}</td><td>{_fmt(s.before.median_s)}</td><td>{_fmt(s.after.median_s)}</td>"
        f"<td>{_fmt(s.diff_s, '{:+.2f}')}</td><td>{_fmt(s.ratio)}</td><td>{_ci(s)}</td><td>{s.verdict}</td></tr>"
        for s in c.scenarios
    )
    changes = "".join(f"<li>{html.escape(ch.message)}</li>" for ch in c.changes)
    imgs = "".join(
        f'<figure><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}"></figure>'
        for n, b in charts_png.items()
    )
    summary = "".join(f"<li>{html.escape(x)}</li>" for x in summary_lines(c))
    eq = ""
    if transfer_lines(c):
        items = "".join(f"<li>{html.escape(x)}</li>" for x in transfer_lines(c))
        eq += f"<h2>Context transfer</h2><ul>{items}</ul>"
    if size_lines(c):
        head, *steps = size_lines(c, limit=None)
        eq += (f"<h2>Image size</h2><p>{html.escape(head)}</p><ul>"
               + "".join(f"<li>{html.escape(x.strip())}</li>" for x in steps) + "</ul>")
    if c.equivalence is not None:
        diffs = "".join(f"<li>{html.escape(d)}</li>" for d in c.equivalence.get("differences", []))
        eq += (f"<h2>Final images</h2><p>Equivalent: <b>{'yes' if c.equivalence.get('equivalent') else 'no'}</b></p>"
              f"<ul>{diffs}</ul>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>cacheprof compare</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}img{max-width:100%}</style></head><body>"
        f"<h1>cacheprof compare</h1><p>BEFORE <code>{html.escape(c.before.dockerfile)}</code><br>"
        f"AFTER <code>{html.escape(c.after.dockerfile)}</code></p><ul class='summary'>{summary}</ul>"
        "<table><tr><th>scenario</th><th>before s</th><th>after s</th><th>diff s</th><th>ratio</th>"
        f"<th>95% CI of diff</th><th>verdict</th></tr>{rows}</table>"
        f"<h2>Steps whose cache status changed</h2><ul>{changes}</ul>{eq}<h2>Charts</h2>{imgs}</body></html>\n"
    )


def write_compare_report(out: Path, c: Comparison) -> list[Path]:
    charts_dir = out / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    png = all_charts(c, "png")
    svg = all_charts(c, "svg")
    written = []
    for name in png:
        for ext, data in (("png", png[name]), ("svg", svg[name])):
            p = charts_dir / f"{name}.{ext}"
            p.write_bytes(data)
            written.append(p)
    (out / "compare.md").write_text(render_markdown(c, list(png)))
    (out / "compare.html").write_text(render_html(c, png))
    return [*written, out / "compare.md", out / "compare.html"]
