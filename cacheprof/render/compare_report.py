"""The comparison's report (compare, and advise --measure): the verdict first, then the table, the ranked
step changes, the image check, failures with their log tails, for advise the finding, proposed Dockerfile
and diff, then charts (inline SVG in HTML, PNG files beside Markdown). Renderers return text or bytes;
`write_compare_report` writes them. Same page style as the profile report (render.page)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis.compare import Comparison, ScenarioComparison
from ..store import atomic
from .answer import failures
from .compare_sizes import size_lines, transfer_lines
from .compare_table import ranked_changes
from .page import answer_box, esc, failure_box, inline_code, page, svg_figure
from .verdict import TIMES, compare_verdict_lines

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class AdviceSection:
    """What `advise --measure` proposes: the findings, the proposed Dockerfile and its diff."""

    dockerfile: str
    findings: tuple[str, ...]  # one line each, e.g. "[problem] line 3: COPY . . before ..."
    proposed: str
    diff: str


def most_telling(c: Comparison) -> ScenarioComparison | None:
    """The scenario with the largest absolute difference between the sides."""
    scored = [s for s in c.scenarios if s.diff_s is not None]
    return max(scored, key=lambda s: abs(s.diff_s or 0.0)) if scored else None


def side_by_side_chart(c: Comparison, fmt: str) -> bytes:
    from .charts import render

    return render(side_by_side_figure(c), fmt)


def side_by_side_figure(c: Comparison) -> Figure:
    """All scenarios in one chart: median bars, BEFORE beside AFTER, whiskers from the fastest to the
    slowest round (measured times, so never below zero: a median with its range, one description), the
    verdict above each pair."""
    from matplotlib.figure import Figure

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
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    for i, s in enumerate(c.scenarios):
        top = max([*s.before.runs_s, *s.after.runs_s, 0.0])
        ax.annotate(s.verdict, (i, top), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8)
    ax.set_ylim(bottom=0)
    ax.margins(y=0.15)
    ax.set_ylabel("seconds (median, whiskers: fastest to slowest round)")
    ax.set_title("BEFORE vs AFTER per scenario")
    ax.legend()
    return fig


def all_charts(c: Comparison, fmt: str) -> dict[str, bytes]:
    """A side-by-side chart when there are several scenarios (one pair would repeat the table), and the two
    timelines of the most telling scenario on one time axis."""
    out: dict[str, bytes] = {}
    if len(c.scenarios) > 1:
        out["side_by_side"] = side_by_side_chart(c, fmt)
    out.update(timelines(c, fmt))
    return out


def timelines(c: Comparison, fmt: str) -> dict[str, bytes]:
    from .charts import is_noop, pick_build, render, slug, timeline_figure

    s = most_telling(c)
    if s is None:
        return {}
    builds = {side: pick_build(p, s.scenario) for side, p in (("before", c.before), ("after", c.after))}
    if all(is_noop(b) for b in builds.values()):
        return {}
    # One time axis for both: the same second is the same width on either side.
    spans = [timeline_figure(b).xmax for b in builds.values() if b is not None and b.steps]
    shared = max(spans, default=1.0)
    out: dict[str, bytes] = {}
    for side, build in builds.items():
        fig = timeline_figure(build, scenario=f"{side.upper()}: {s.scenario}", xmax=shared)
        out[f"timeline_{side}_{slug(s.scenario)}"] = render(fig, fmt)
    return out


def _fmt(x: float | None, spec: str = "{:.2f}") -> str:
    return "-" if x is None else spec.format(x)


def _ci(s: ScenarioComparison) -> str:
    return f"[{s.ci95_s[0]:+.2f}, {s.ci95_s[1]:+.2f}] n={s.n}" if s.ci95_s else f"- (n={s.n})"


ESTIMATOR_NOTE = ("before/after s: mean of the ok rounds; diff s: mean of the paired differences (AFTER - BEFORE, "
                  "same round) with its Student-t 95% interval and n pairs; the verdict reads that interval.")


def _ratio(s: ScenarioComparison) -> str:
    b, a = s.before.mean_s, s.after.mean_s
    if not b or not a:
        return "-"
    return f"{b / a:.1f}{TIMES}" if a < b else f"{b / a:.2f}{TIMES}"


def summary_lines(c: Comparison) -> list[str]:
    return compare_verdict_lines(c)


def _after_label(c: Comparison, advice: AdviceSection | None) -> str:
    # advise's proposal lives in a temporary file that is gone by now: point at the section instead.
    return "the proposed Dockerfile (below)" if advice is not None else c.after.dockerfile


def _failures(c: Comparison) -> list[tuple[str, str, tuple[str, ...], str]]:
    out = []
    for side, profile in (("BEFORE", c.before), ("AFTER", c.after)):
        for f in failures(profile):
            at = f"line {f.line}: " if f.line is not None else ""
            out.append((side, f"{side} {f.scenario} #{f.repeat} failed at {at}`{f.instruction}`", f.log_tail,
                        f.error))
    return out


def _title(c: Comparison, advice: AdviceSection | None) -> tuple[str, str]:
    if advice is not None:
        return "advise", advice.dockerfile
    return "compare", f"{c.before.dockerfile} vs {c.after.dockerfile}"


def render_markdown(c: Comparison, chart_names: list[str], advice: AdviceSection | None = None) -> str:
    kind, title = _title(c, advice)
    verdicts = summary_lines(c)
    lines = [f"# cacheprof {kind}: `{title}`", ""]
    if verdicts:
        lines += [f"**{verdicts[0]}**", ""] + [f"- {x}" for x in verdicts[1:]] + [""]
    lines += [f"- BEFORE: `{c.before.dockerfile}`", f"- AFTER: {_md_path(_after_label(c, advice), advice)}",
              f"- context: `{c.before.context}`, builder: {c.before.builder}", ""]
    lines += ["| scenario | before s | after s | diff s | speed-up | 95% CI of diff, n | verdict |",
              "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for s in c.scenarios:
        lines.append(f"| `{s.scenario}` | {_fmt(s.before.mean_s)} | {_fmt(s.after.mean_s)} | "
                     f"{_fmt(s.diff_s, '{:+.2f}')} | {_ratio(s)} | {_ci(s)} | {s.verdict} |")
    lines += ["", ESTIMATOR_NOTE]
    changes = ranked_changes(c)
    if changes:
        lines += ["", "## Steps whose cache status changed (costliest first)", ""]
        lines += [f"- {x}" for x in changes]
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
    for _, head, tail, error in _failures(c):
        lines += ["", f"**{head}**", "", "```text", *tail, f"error: {error}", "```"]
    if advice is not None:
        lines += ["", "## The advice", ""] + [f"- {f}" for f in advice.findings]
        lines += ["", "### Proposed Dockerfile", "", "```dockerfile", advice.proposed.rstrip("\n"), "```",
                  "", "### Diff", "", "```diff", advice.diff.rstrip("\n"), "```"]
    if chart_names:
        lines += ["", "## Charts", ""] + [f"![{n}](charts/{n}.png)" for n in chart_names]
    lines += ["", "Per-side reports: [before](before/report.md), [after](after/report.md)", ""]
    return "\n".join(lines)


def _md_path(label: str, advice: AdviceSection | None) -> str:
    return label if advice is not None else f"`{label}`"


def render_html(c: Comparison, charts_svg: dict[str, bytes], advice: AdviceSection | None = None) -> str:
    kind, title = _title(c, advice)
    verdicts = summary_lines(c)
    figures = [(s.scenario, f"mean {_fmt(s.before.mean_s)} → {_fmt(s.after.mean_s)} s",
                f"{_ratio(s)}, n={s.n}") for s in c.scenarios]
    rest = "".join(f"<li>{inline_code(x)}</li>" for x in verdicts[1:])
    extra = [f"<ul class='summary'>{rest}</ul>"] if rest else []
    extra += [failure_box(head, tail, error) for _, head, tail, error in _failures(c)]
    body = [answer_box(verdicts[0] if verdicts else "No scenarios were compared.", "", figures, extra)]
    after = (f"<a href=\"#advice\">{esc(_after_label(c, advice))}</a>" if advice is not None
             else f"<code>{esc(c.after.dockerfile)}</code>")
    body.append(f"<p>BEFORE <code>{esc(c.before.dockerfile)}</code><br>AFTER {after}<br>"
                f"context <code>{esc(c.before.context)}</code>, builder {esc(c.before.builder)}</p>")
    rows = "".join(
        f"<tr><td><code>{esc(s.scenario)}</code></td><td class='num'>{_fmt(s.before.mean_s)}</td>"
        f"<td class='num'>{_fmt(s.after.mean_s)}</td><td class='num'>{_fmt(s.diff_s, '{:+.2f}')}</td>"
        f"<td class='num'>{_ratio(s)}</td><td>{_ci(s)}</td><td>{esc(s.verdict)}</td></tr>"
        for s in c.scenarios
    )
    body += ["<h2>Scenarios</h2>", "<div class='scroll'><table><thead><tr><th>scenario</th><th>before s</th>"
             "<th>after s</th><th>diff s</th><th>speed-up</th><th>95% CI of diff, n</th><th>verdict</th></tr></thead>"
             f"<tbody>{rows}</tbody></table></div>", f"<p class='note'>{esc(ESTIMATOR_NOTE)}</p>"]
    changes = ranked_changes(c)
    if changes:
        body += ["<h2>Steps whose cache status changed (costliest first)</h2>",
                 "<ul>" + "".join(f"<li>{inline_code(x)}</li>" for x in changes) + "</ul>"]
    if transfer_lines(c):
        body += ["<h2>Context transfer</h2>",
                 "<ul>" + "".join(f"<li>{inline_code(x)}</li>" for x in transfer_lines(c)) + "</ul>"]
    if size_lines(c):
        head, *steps = size_lines(c, limit=None)
        body += ["<h2>Image size</h2>", f"<p>{inline_code(head)}</p>",
                 "<ul>" + "".join(f"<li>{inline_code(x.strip())}</li>" for x in steps) + "</ul>"]
    if c.equivalence is not None:
        diffs = "".join(f"<li>{esc(d)}</li>" for d in c.equivalence.get("differences", []))
        notes = "".join(f"<li class='note'>{esc(n)}</li>" for n in c.equivalence.get("notes", []))
        body += ["<h2>Final images</h2>",
                 f"<p>Equivalent: <b>{'yes' if c.equivalence.get('equivalent') else 'no'}</b> "
                 f"({int(c.equivalence.get('files_compared', 0))} paths compared)</p><ul>{diffs}{notes}</ul>"]
    if advice is not None:
        body += ["<h2 id='advice'>The advice</h2>",
                 "<ul>" + "".join(f"<li>{inline_code(f)}</li>" for f in advice.findings) + "</ul>",
                 "<h3>Proposed Dockerfile</h3>", f"<pre>{esc(advice.proposed)}</pre>",
                 "<h3>Diff</h3>", f"<pre>{esc(advice.diff)}</pre>"]
    if charts_svg:
        body.append("<h2>Charts</h2>")
        body += [svg_figure(name, name.replace("_", " "), svg) for name, svg in charts_svg.items()]
    body.append("<p class='note'>Per-side reports: <a href='before/report.html'>before</a>, "
                "<a href='after/report.html'>after</a></p>")
    return page(kind, title, body)


def write_compare_report(out: Path, c: Comparison, advice: AdviceSection | None = None) -> list[Path]:
    charts_dir = out / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    png = all_charts(c, "png")
    svg = all_charts(c, "svg")
    written = []
    for name in png:
        for ext, data in (("png", png[name]), ("svg", svg[name])):
            p = charts_dir / f"{name}.{ext}"
            atomic.write_bytes(p, data)
            written.append(p)
    # Pages for people: an undecodable file name is shown escaped, never written raw (nor raising).
    atomic.write_bytes(out / "compare.md", render_markdown(c, list(png), advice).encode("utf-8", "backslashreplace"))
    atomic.write_bytes(out / "compare.html", render_html(c, svg, advice).encode("utf-8", "backslashreplace"))
    return [*written, out / "compare.md", out / "compare.html"]
