"""The trend over a history, per benchmark, engine and scenario: what the trend report and summary.md
draw. Pure: it takes the points that analysis.regressions builds from the history's rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .regressions import DEFAULT_THRESHOLDS, ResultPoint, ScenarioPoint, Thresholds, check_series

COLD = "cold"


def shows_cache_grid(scenario: str) -> bool:
    """Warm and edit scenarios are where a cache regression shows as a step turning from CACHED to RUN."""
    return scenario == "warm" or scenario.startswith("edit:")


@dataclass(frozen=True)
class TrendPoint:
    run_uid: str
    created_utc: str
    commit: str | None
    median_s: float | None
    min_s: float | None
    max_s: float | None
    ok: int
    builds: int
    hit_rate: float | None
    cache_saved: float | None
    baseline_s: float | None
    # "cache regression", "time regression", "cache improvement", "time improvement"
    marks: tuple[str, ...] = ()
    # The machine, engine version or builder changed here: a new baseline starts with this run.
    new_baseline: bool = False


@dataclass(frozen=True)
class GridRow:
    label: str
    # One per run of the trend: "CACHED", "RUN" or None (the step was not there, or no ok build).
    states: tuple[str | None, ...]


@dataclass(frozen=True)
class ScenarioTrend:
    benchmark: str
    engine: str
    scenario: str
    points: tuple[TrendPoint, ...]
    grid: tuple[GridRow, ...] = ()


def cache_saved(now: ScenarioPoint, cold: ScenarioPoint | None) -> float | None:
    """Cold seconds of the work steps the cache spared over the cold seconds of all the same work steps
    (the definition of `cacheprof.figures`: a step counts as spared when it was CACHED in every ok build)."""
    if cold is None or now is cold:
        return None
    cold_total = saved = 0.0
    for key, cold_s in cold.step_seconds.items():
        state = now.steps.get(key)
        if state is not None:
            cold_total += cold_s
            saved += cold_s if state.status == "CACHED" else 0.0
    return saved / cold_total if cold_total > 0 else None


def trends(series_by_result: Mapping[tuple[str, str], Sequence[ResultPoint]], t: Thresholds = DEFAULT_THRESHOLDS,
           *, last: int = 60) -> list[ScenarioTrend]:
    """Per benchmark, engine and scenario: the last `last` runs, each with its spread, baseline and marks
    (the check each run would have got), and for warm/edit scenarios the step x run grid."""
    engines = len({e for _, e in series_by_result})
    out: list[ScenarioTrend] = []
    for (benchmark, engine), series in sorted(series_by_result.items()):
        start = max(0, len(series) - last)
        marks: dict[tuple[int, str], list[str]] = {}
        baselines: dict[tuple[int, str], float | None] = {}
        for i in range(start, len(series)):
            if series[i].error is not None:
                continue
            regs, imps, _, verdicts, _ = check_series(series[: i + 1], t, engines=engines)
            for f in (*regs, *imps):
                marks.setdefault((i, f.scenario), []).append(f"{f.kind} {f.direction}")
            for v in verdicts:
                baselines[(i, v.scenario)] = v.baseline_s
        scenarios = list(dict.fromkeys(s for p in series[start:] for s in p.scenarios))
        for scenario in scenarios:
            points = []
            for i in range(start, len(series)):
                p = series[i]
                sp = p.scenarios.get(scenario)
                if sp is None:
                    continue
                d = sp.durations_ok_s
                points.append(TrendPoint(
                    run_uid=p.run_uid, created_utc=p.created_utc, commit=p.commit, median_s=sp.median_s,
                    min_s=min(d) if d else None, max_s=max(d) if d else None, ok=sp.ok, builds=sp.builds,
                    hit_rate=sp.hit_rate, cache_saved=cache_saved(sp, p.scenarios.get(COLD)),
                    baseline_s=baselines.get((i, scenario)), marks=tuple(marks.get((i, scenario), ())),
                    new_baseline=i > 0 and series[i - 1].key != p.key,
                ))
            grid: tuple[GridRow, ...] = ()
            if shows_cache_grid(scenario):
                grid = _grid([series[i].scenarios.get(scenario) for i in range(start, len(series))
                              if scenario in series[i].scenarios])
            out.append(ScenarioTrend(benchmark, engine, scenario, tuple(points), grid))
    return out


def _grid(points: Sequence[ScenarioPoint | None]) -> tuple[GridRow, ...]:
    # Rows in the order of the newest run that has the step; steps gone since then follow.
    order: dict[tuple[str, str, int], tuple[int, int, str]] = {}
    for age, sp in enumerate(reversed(points)):
        if sp is None:
            continue
        for key, st in sp.steps.items():
            if key not in order:
                line = f"L{st.line} " if st.line is not None else ""
                order[key] = (age, st.order, f"{line}{st.instruction}")
    rows = []
    for key, (_, _, label) in sorted(order.items(), key=lambda kv: kv[1][:2]):
        rows.append(GridRow(label=label, states=tuple(
            (sp.steps[key].status if sp is not None and key in sp.steps else None) for sp in points)))
    return tuple(rows)
