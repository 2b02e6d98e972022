"""HTML and Markdown reports from a Profile, its Analysis and its charts. Renderers return text only.

Both carry the same content in the same order: first the answer (the costliest edit and what it rebuilds,
the fix in one sentence, the key figures, failures with their log tails), then the statistics: the
per-scenario table, the edit table and invalidation map, the per-step table, critical paths, the charts
(inline SVG in HTML, PNG files beside Markdown), engine and machine.
Output is deterministic: the only date shown is the profile's own `created`, floats have fixed formats.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..analysis.profile_stats import Analysis, fmt_count
from ..model import Profile
from .answer import Failure, answer
from .charts import Chart, sized_build
from .page import answer_box, failure_box, inline_code, page, svg_figure

_DASH = "\u2013"  # en dash: no value


def _num(x: float | None, digits: int = 2, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return _DASH
    return f"{x:.{digits}f}{unit}"


def _pct(x: float | None) -> str:
    return _DASH if x is None or np.isnan(x) else f"{x:.0%}"


@dataclass(frozen=True)
class _Table:
    """A table as plain strings, rendered to both HTML and Markdown. `code` columns are monospace."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    code: frozenset[int] = frozenset()
    # Per cell CSS class (HTML only), e.g. to colour CACHED / RUN.
    classes: tuple[tuple[str, ...], ...] = ()


# --- content shared by both formats ---------------------------------------------------------------------


def _scenario_table(a: Analysis) -> _Table:
    rows = []
    for name, r in a.scenarios.iterrows():
        rows.append((
            str(name), f"{int(r['ok'])}/{int(r['builds'])}", _num(r["median_total_s"], 1), _num(r["min_total_s"], 1),
            _num(r["max_total_s"], 1), _num(r["iqr_total_s"], 2), _num(r["stdev_total_s"], 2),
            _num(r["median_step_time_s"], 1), _pct(r["hit_rate"]), _pct(r["cache_saved"]),
            _num(r["time_saved_s"], 1),
        ))
    return _Table(
        ("scenario", "ok/builds", "median wall s", "min s", "max s", "IQR s", "stdev s", "median step time s",
         "hit rate", "cache saved", "saved vs cold s"),
        tuple(rows), frozenset({0}),
    )


def _first_causes(profile: Profile) -> dict[str, str]:
    """Per edit/arg scenario, the first cause `explain` names (from recorded inputs; none in old profiles)."""
    if not any(b.inputs for b in profile.builds):
        return {}
    from ..analysis.explain import explain_all

    out: dict[str, str] = {}
    for e in explain_all(profile):
        if e.scenario.startswith(("edit:", "arg:")) and e.causes():
            out.setdefault(e.scenario, "; ".join(root.cause for root, _ in e.causes()))
    return out


def _edit_table(a: Analysis, why: Mapping[str, str] | None = None) -> _Table:
    rows = tuple(
        (e.scenario, e.first_invalidated_label or "none (all cached)",
         f"{fmt_count(e.median_steps_rebuilt)} of {e.steps_total}", _num(e.median_total_s, 1),
         _num(e.median_run_step_s, 1), "yes" if e.consistent else "no",
         *(((why.get(e.scenario) or _DASH),) if why else ()))
        for e in a.edits
    )
    return _Table(("edit", "first invalidated step", "steps rebuilt", "median wall s", "RUN step s",
                   "same in every repetition", *(("why (first cause)",) if why else ())), rows, frozenset({0, 1}))


def _map_table(a: Analysis) -> _Table:
    grid = a.invalidation_map()
    by_name = {e.scenario: e for e in a.edits}
    header = ("edit", "rebuild s", *(str(c) for c in grid.columns))
    rows, classes = [], []
    for name, row in zip(grid.index, grid.itertuples(index=False), strict=True):
        cells = [v if isinstance(v, str) else _DASH for v in row]
        rows.append((str(name), _num(by_name[name].median_total_s, 1), *cells))
        classes.append(("", "", *(c.lower() if c != _DASH else "" for c in cells)))
    return _Table(header, tuple(rows), frozenset({0}), tuple(classes))


def _step_table(a: Analysis) -> _Table:
    ps = a.per_step
    by = {(s, k): r for s, k, r in zip(ps["scenario"], ps["key"], ps.itertuples(index=False), strict=True)}
    # A profile with no steps (every build failed before its first step) has an empty frame.
    noisy = ps[ps["noisy"]].groupby("key")["scenario"].agg(list).to_dict() if len(ps) else {}
    unstable = ps[ps["unstable"]].groupby("key")["scenario"].agg(list).to_dict() if len(ps) else {}

    def med(scenario: str | None, key: tuple[str, int]) -> str:
        r = by.get((scenario, key)) if scenario else None
        if r is None:
            return _DASH
        if np.isnan(r.median_s):
            return _DASH
        if np.isnan(r.ci_low_s):
            return f"{r.median_s:.2f} (n={r.n})"
        what = f"range, {r.ci_coverage:.0%}" if r.ci_is_range else f"{r.ci_coverage:.0%}"
        return f"{r.median_s:.2f} [{r.ci_low_s:.2f}, {r.ci_high_s:.2f}] (n={r.n}, {what})"

    def saved(key: tuple[str, int]) -> str:
        r = by.get((a.warm, key)) if a.warm else None
        return _DASH if r is None else _num(r.time_saved_s, 2)

    rows = tuple(
        (a.step_labels[k], med(a.cold, k), med(a.warm, k), saved(k),
         ", ".join(noisy.get(k, [])) or _DASH, ", ".join(unstable.get(k, [])) or _DASH)
        for k in a.step_order
    )
    return _Table(("step", "cold median s [interval] (n, coverage)", "warm median s [interval] (n, coverage)",
                   "warm saves s",
                   "noisy in", "cache status unstable in"), rows, frozenset({0}))


def _path_table(a: Analysis) -> _Table:
    rows = tuple(
        (p.scenario, str(p.repeat), _num(p.wall_s, 1), _num(p.step_time_s, 1), _num(p.path_s, 1),
         "yes" if p.parallel else "no", " → ".join(p.labels))
        for p in a.critical_paths
    )
    return _Table(("scenario", "repeat", "wall s", "summed step s", "critical path s", "parallel stages",
                   "critical path"), rows, frozenset({0}))


def _mb(n: int | None) -> str:
    return _DASH if n is None else f"{n / 1e6:.3g} MB"


def _layer_table(profile: Profile, a: Analysis) -> _Table | None:
    """The layer each step of the shipped image added, from the last ok build that has sizes."""
    build = sized_build(profile)
    if build is None:
        return None
    rows = tuple((a.step_labels.get(s.key) or s.instruction, _mb(s.size_bytes), f"{s.size_bytes:,}")
                 for s in build.steps if s.size_bytes is not None)
    rows += (("whole image", _mb(build.image_size_bytes),
              _DASH if build.image_size_bytes is None else f"{build.image_size_bytes:,}"),)
    return _Table(("step", "layer size", "bytes"), rows, frozenset({0}))


def _transfer_table(profile: Profile) -> _Table | None:
    """Per scenario, the median seconds spent sending the build context, beside the median wall time."""
    rows = []
    for name in profile.scenario_names:
        ok = [b for b in profile.builds_of(name) if b.ok]
        t = [b.transfer_s for b in ok if b.transfer_s is not None]
        w = [b.duration_s for b in ok if b.duration_s is not None]
        if t:
            wall = _num(statistics.median(w), 2) if w else _DASH
            rows.append((name, str(len(t)), _num(statistics.median(t), 2), wall))
    if not rows:
        return None
    return _Table(("scenario", "n", "median transfer s", "median wall s"), tuple(rows), frozenset({0}))


_TRANSFER_NOTE = (
    "Context transfer: the seconds spent sending the build context to the engine (BuildKit's context-loading "
    "step; the classic builder's upload). It is part of the wall time and of no step. Without a session "
    "BuildKit receives the whole context on every build; docker buildx sends only changed files."
)
_LAYER_NOTE = "Layer sizes come from the engine's image history of the last ok build; metadata steps add 0 bytes."


def _info_rows(profile: Profile) -> list[tuple[str, str]]:
    rows = [("builder", profile.builder), ("Dockerfile", profile.dockerfile), ("context", profile.context),
            ("target", profile.target or _DASH),
            ("build args", ", ".join(f"{k}={v}" for k, v in sorted(profile.build_args.items())) or _DASH),
            ("profile created", profile.created or _DASH), ("data source", profile.source)]
    e = profile.engine
    if e is not None:
        rows += [("engine version", e.version), ("engine API", e.api_version),
                 ("engine OS/arch", f"{e.os}/{e.arch}".strip("/") or _DASH), ("engine host", e.host or _DASH)]
    else:
        rows.append(("engine", "not recorded"))
    rows += [(f"machine {k}", str(v)) for k, v in sorted(profile.machine.items())]
    return rows


_PATH_NOTE = (
    "Critical path: the chain of steps ending at the last-finishing step, walking back each time to the "
    "step that finished latest before the current one started (first repetition of each scenario). "
    "Steps of different stages that overlap in time ran in parallel, so summed step time can exceed wall "
    "time."
)
_STEP_NOTE = (
    "Steps are matched across builds by (stage, position); times come from ok builds only. Intervals are "
    "order-statistic intervals of the median with their exact coverage (distribution-free), shown from 3 "
    "ok repetitions: the narrowest pair of sorted values covering the median with at least 95%. Below 6 "
    "repetitions no pair reaches 95%, so [min, max] is shown as a range with its real coverage (3: 75%, "
    "4: 88%, 5: 94%). Hit rate: cached RUN/COPY/ADD steps / RUN/COPY/ADD steps. Cache saved: the cold "
    "seconds of the cached RUN/COPY/ADD steps / the cold seconds of all of them. "
    "Noisy: RUN durations with coefficient of variation > 0.5 and spread > 0.2 s."
)

# --- HTML ---------------------------------------------------------------------------------------------------


def _html_table(t: _Table) -> str:
    out = ['<div class="scroll"><table>', "<thead><tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in t.header]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        cls = t.classes[i] if i < len(t.classes) else ()
        cells = []
        for j, cell in enumerate(row):
            attr = f' class="{cls[j]}"' if j < len(cls) and cls[j] else ""
            body = f"<code>{html.escape(cell)}</code>" if j in t.code and cell != _DASH else html.escape(cell)
            cells.append(f"<td{attr}>{body}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _failure_title(f: Failure) -> str:
    at = f"line {f.line}: " if f.line is not None else ""
    step = f"`{f.instruction}`" if f.instruction else "before its first step"
    return f"{f.scenario} #{f.repeat} failed at {at}{step}"


def _not_run(profile: Profile) -> str:
    missing = [n for n in profile.scenario_names if not profile.builds_of(n)]
    return f"Not run, as they would fail the same way: {', '.join(missing)}." if missing else ""


def render_html(profile: Profile, analysis: Analysis, charts: Mapping[str, Chart]) -> str:
    """A self-contained page: the answer first, statistics below, charts as inline SVG."""
    a = analysis
    ans = answer(profile, a)
    extra = [failure_box(_failure_title(f), f.log_tail, f.error) for f in ans.failures]
    if (not_run := _not_run(profile)):
        extra.append(f'<p class="note">{html.escape(not_run)}</p>')
    body = [
        answer_box(ans.headline, ans.fix, ans.figures, extra),
        f'<p class="summary note" id="summary">{inline_code(a.summary)}</p>',
        "<h2>Scenarios</h2>", _html_table(_scenario_table(a)),
    ]
    if a.edits:
        body += ["<h2>Edits: what each change invalidates</h2>", _html_table(_edit_table(a, _first_causes(profile))),
                 "<h3>Invalidation map</h3>", _html_table(_map_table(a))]
    body += ["<h2>Steps</h2>", f'<p class="note">{html.escape(_STEP_NOTE)}</p>', _html_table(_step_table(a))]
    if a.critical_paths:
        body += ["<h2>Wall time and critical path</h2>", f'<p class="note">{html.escape(_PATH_NOTE)}</p>',
                 _html_table(_path_table(a))]
    transfer, layers = _transfer_table(profile), _layer_table(profile, a)
    if transfer is not None:
        body += ["<h2>Context transfer</h2>", f'<p class="note">{html.escape(_TRANSFER_NOTE)}</p>',
                 _html_table(transfer)]
    if layers is not None:
        body += ["<h2>Image layers</h2>", f'<p class="note">{html.escape(_LAYER_NOTE)}</p>', _html_table(layers)]
    if charts:
        body.append("<h2>Charts</h2>")
    body += [svg_figure(c.name, c.title, c.svg) for c in charts.values()]
    quiet = _quiet_scenarios(profile, charts)
    if quiet:
        body.append(f'<p class="note">No timeline for {", ".join(quiet)}: every step was cached, nothing ran.</p>')
    body += ["<h2>Engine and machine</h2>", _html_table(_Table(("what", "value"), tuple(_info_rows(profile))))]
    return page("profile", profile.dockerfile, body)


def _quiet_scenarios(profile: Profile, charts: Mapping[str, Chart]) -> list[str]:
    drawn = {c.title.removeprefix("Timeline: ") for c in charts.values() if c.name.startswith("timeline_")}
    return [n for n in profile.scenario_names if profile.builds_of(n) and n not in drawn
            and all(s.status.value == "CACHED" for b in profile.builds_of(n) for s in b.steps)]


# --- Markdown -------------------------------------------------------------------------------------------------


def _md_cell(text: str, code: bool) -> str:
    text = text.replace("\n", " ")
    if code and text != _DASH:
        # A backtick inside would end the span early; a double-backtick span with spaces holds one.
        fence = "``" if "`" in text else "`"
        pad = " " if fence == "``" else ""
        text = f"{fence}{pad}{text}{pad}{fence}"
    return text.replace("|", "\\|")


def _md_table(t: _Table) -> str:
    lines = ["| " + " | ".join(_md_cell(h, False) for h in t.header) + " |",
             "|" + "|".join(" --- " for _ in t.header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c, j in t.code) for j, c in enumerate(row)) + " |" for row in t.rows]
    return "\n".join(lines)


def markdown_answer(profile: Profile, analysis: Analysis) -> list[str]:
    """The answer as Markdown: headline, fix, key figures, failures with their log tails."""
    ans = answer(profile, analysis)
    parts = [f"**{ans.headline}**", ""]
    if ans.fix:
        parts += [f"**Fix:** {ans.fix}", ""]
    if ans.figures:
        parts += ["| " + " | ".join(_md_cell(label, False) for label, _, _ in ans.figures) + " |",
                  "|" + "|".join(" ---: " for _ in ans.figures) + "|",
                  "| " + " | ".join(f"{value}" + (f" ({note})" if note else "") for _, value, note in ans.figures)
                  + " |", ""]
    for f in ans.failures:
        parts += [f"**{_failure_title(f)}**", "", "```text", *f.log_tail, f"error: {f.error}", "```", ""]
    if (not_run := _not_run(profile)):
        parts += [not_run, ""]
    return parts


def render_markdown(profile: Profile, analysis: Analysis, charts: Mapping[str, Chart]) -> str:
    """GitHub-flavoured Markdown; charts are linked as `charts/<name>.png` beside the file."""
    a = analysis
    parts = [f"# cacheprof profile: `{profile.dockerfile}`", "", *markdown_answer(profile, a),
             f"> {a.summary}", "", "## Scenarios", "", _md_table(_scenario_table(a)), ""]
    if a.edits:
        parts += ["## Edits: what each change invalidates", "", _md_table(_edit_table(a, _first_causes(profile))), "",
                  "### Invalidation map", "", _md_table(_map_table(a)), ""]
    parts += ["## Steps", "", _STEP_NOTE, "", _md_table(_step_table(a)), ""]
    if a.critical_paths:
        parts += ["## Wall time and critical path", "", _PATH_NOTE, "", _md_table(_path_table(a)), ""]
    transfer, layers = _transfer_table(profile), _layer_table(profile, a)
    if transfer is not None:
        parts += ["## Context transfer", "", _TRANSFER_NOTE, "", _md_table(transfer), ""]
    if layers is not None:
        parts += ["## Image layers", "", _LAYER_NOTE, "", _md_table(layers), ""]
    if charts:
        parts += ["## Charts", ""]
    for c in charts.values():
        if c.png:
            parts += [f"![{c.title}](charts/{c.name}.png)", "", f"[SVG](charts/{c.name}.svg)", ""]
        else:
            parts += [f"[{c.title} (SVG)](charts/{c.name}.svg)", ""]
    quiet = _quiet_scenarios(profile, charts)
    if quiet:
        parts += [f"No timeline for {', '.join(quiet)}: every step was cached, nothing ran.", ""]
    parts += ["## Engine and machine", "", _md_table(_Table(("what", "value"), tuple(_info_rows(profile)))), ""]
    return "\n".join(parts)
