"""What a bench run tells people, as text: summary.md (for $GITHUB_STEP_SUMMARY), and exports to the
dashboards they already use: Bencher Metric Format and github-action-benchmark's customSmallerIsBetter.

Failed builds never enter a figure (the check's points hold ok builds' times only); every figure says
how many builds it stands on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..analysis.regressions import CheckResult, Finding, Verdict
from ..analysis.trends import ScenarioTrend


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _change(v: Verdict) -> str:
    c = v.change
    return "-" if c is None else f"{c * 100:+.0f}%"


def _name(benchmark: str, engine: str, engines: int) -> str:
    return f"{benchmark} [{engine}]" if engines > 1 else benchmark


def summary_markdown(check: CheckResult, *, run_uid: str, commit: str | None, dirty: bool | None,
                     failed: Sequence[str] = ()) -> str:
    """Cache regressions first, then timing regressions, then a table per benchmark."""
    engines = len({v.engine for v in check.verdicts})
    out = [f"## cacheprof bench: run {run_uid}", ""]
    where = commit[:12] if commit else "no git commit"
    out += [f"Suite at {where}{' (uncommitted changes)' if dirty else ''}.", ""]
    cache = [f for f in check.regressions if f.kind == "cache"]
    time = [f for f in check.regressions if f.kind == "time"]
    if cache:
        out += ["### Cache regressions", ""] + [f"- {_md(f.message)}" for f in cache] + [""]
    if time:
        out += ["### Timing regressions", ""] + [f"- {_md(f.message)}" for f in time] + [""]
    if failed:
        out += ["### Failed", ""] + [f"- {_md(m)}" for m in failed] + [""]
    if not check.regressions and not failed:
        out += ["No regression.", ""]
    if check.improvements:
        out += ["### Improvements", ""] + [f"- {_md(f.message)}" for f in check.improvements] + [""]
    if check.pending:
        out += ["### Watching (beyond the bars once; alarms only if it persists)", ""]
        out += [f"- {_md(f.message)}" for f in check.pending] + [""]
    if check.notices:
        out += ["### Notes", ""] + [f"- {_md(n)}" for n in check.notices] + [""]
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for v in check.verdicts:
        groups.setdefault((v.benchmark, v.engine), []).append(v)
    for (benchmark, engine), verdicts in groups.items():
        out += [f"### {_md(_name(benchmark, engine, engines))}", "",
                "| scenario | now (median) | ok | baseline | change | verdict |", "|---|---:|---:|---:|---:|---|"]
        for v in verdicts:
            base = "-" if v.baseline_s is None else f"{v.baseline_s:.2f} s (n={v.baseline_runs})"
            out.append(f"| {_md(v.scenario)} | {_s(v.now_s)} | {v.ok}/{v.builds} | {base} | {_change(v)} "
                       f"| {v.verdict} |")
        out.append("")
    return "\n".join(out)


def findings_json(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [f.to_json() for f in findings]


def _bench_name(t: ScenarioTrend, engines: int) -> str:
    base = f"{t.benchmark}/{t.scenario}"
    return f"{base}@{t.engine}" if engines > 1 else base


def export_bmf(trends: Sequence[ScenarioTrend], run_uid: str) -> dict[str, Any]:
    """Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}. The measure is
    `build-time` in seconds (median of the ok builds, with their min and max as bounds), plus `hit-rate`
    (cached work steps / work steps) where there are work steps."""
    engines = len({t.engine for t in trends})
    out: dict[str, Any] = {}
    for t in trends:
        p = next((p for p in t.points if p.run_uid == run_uid), None)
        if p is None or p.median_s is None:
            continue  # no ok build: nothing true to report
        measures: dict[str, Any] = {"build-time": {"value": p.median_s}}
        if p.min_s is not None and p.max_s is not None:
            measures["build-time"].update(lower_value=p.min_s, upper_value=p.max_s)
        if p.hit_rate is not None:
            measures["hit-rate"] = {"value": p.hit_rate}
        out[_bench_name(t, engines)] = measures
    return out


def export_gab(trends: Sequence[ScenarioTrend], run_uid: str) -> list[dict[str, Any]]:
    """github-action-benchmark `customSmallerIsBetter`: a list of {name, unit, value, range, extra}."""
    engines = len({t.engine for t in trends})
    out: list[dict[str, Any]] = []
    for t in trends:
        p = next((p for p in t.points if p.run_uid == run_uid), None)
        if p is None or p.median_s is None:
            continue
        entry: dict[str, Any] = {"name": _bench_name(t, engines), "unit": "s", "value": round(p.median_s, 4)}
        if p.min_s is not None and p.max_s is not None:
            entry["range"] = f"{p.min_s:.2f}..{p.max_s:.2f}"
        hit = "-" if p.hit_rate is None else f"{p.hit_rate:.0%}"
        entry["extra"] = f"median of {p.ok} ok build(s) of {p.builds}\nhit rate {hit}\nrun {run_uid}"
        out.append(entry)
    return out


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=1) + "\n"
