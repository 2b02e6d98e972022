"""What a Profile says about the cache: pure functions from a Profile to DataFrames and frozen records.

Steps are matched across builds by `Step.key` = (stage, position), never by digest (a digest changes
whenever anything above the step does). Internal BuildKit vertices never count as steps. Nothing here
prints, writes files or reads the clock, so the same Profile always gives the same Analysis.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..figures import ok_durations, profile_figures
from ..model import Build, Profile, Step, StepStatus

# A step's identity across builds: (stage, position).
StepKey = tuple[str, int]

COLD = "cold"
WARM = "warm"
# Scenarios that change one input and show what that change invalidates.
EDIT_PREFIXES = ("edit:", "arg:")

# The interval of a median: order statistics [x(k), x(n+1-k)] covering the true median with at least this
# probability; below 6 values no such pair exists and [min, max] is shown as a range with its real coverage.
INTERVAL_LEVEL = 0.95
INTERVAL_MIN_N = 3
# A step is noisy when its RUN durations spread this much across repetitions.
NOISY_CV = 0.5
NOISY_SPREAD_S = 0.2
# Timestamps from BuildKit are exact, the classic builder's are message arrivals: allow a little slack
# when asking "did A finish before B started".
_TIME_SLACK_S = 1e-3

STEP_COLUMNS = [
    "scenario", "repeat", "index", "stage", "position", "line", "instruction", "status",
    "started", "finished", "duration_s", "build_ok",
]


def is_edit(scenario: str) -> bool:
    return scenario.startswith(EDIT_PREFIXES)


def step_seconds(step: Step) -> float | None:
    """The step's duration as reported, else finished - started when both are known."""
    if step.duration_s is not None:
        return step.duration_s
    if step.started is not None and step.finished is not None:
        return max(0.0, step.finished - step.started)
    return None


# --- the tidy frame ------------------------------------------------------------------------------


def steps_frame(profile: Profile) -> pd.DataFrame:
    """One row per (repeat, scenario, step), in the profile's build order.

    `duration_s` is the reported duration, else finished - started (see `step_seconds`).
    """
    rows = [
        (b.scenario, b.repeat, s.index, s.stage, s.position, s.line, s.instruction, str(s.status),
         s.started, s.finished, step_seconds(s), b.ok)
        for b in profile.builds
        for s in b.steps
    ]
    df = pd.DataFrame(rows, columns=STEP_COLUMNS)
    return df.astype({
        "scenario": "object", "repeat": "int64", "index": "int64", "stage": "object",
        "position": "int64", "line": "Int64", "instruction": "object", "status": "object",
        "started": "float64", "finished": "float64", "duration_s": "float64", "build_ok": "bool",
    })


def steps_csv(profile: Profile) -> str:
    """The steps frame as CSV text (what `steps.csv` holds)."""
    return steps_frame(profile).to_csv(index=False, float_format="%.6f", lineterminator="\n")


# --- statistics helpers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MedianInterval:
    """An order-statistic interval of the median: [x(k), x(n+1-k)] of the n sorted values.

    Distribution-free: it covers the true median with probability `coverage` = 1 - 2 P(Binomial(n, 1/2) < k),
    exactly, for any continuous distribution. `is_range`: no pair reaches the level (n < 6 at 95%), so this
    is [min, max] and its coverage is below the level.
    """

    low_s: float
    high_s: float
    n: int
    coverage: float
    is_range: bool


def _order_coverage(n: int, k: int) -> float:
    """P(x(k) <= median <= x(n+1-k)) for n values: 1 - 2 P(Binomial(n, 1/2) <= k - 1)."""
    tail = sum(math.comb(n, i) for i in range(k)) / 2**n
    return 1.0 - 2.0 * tail


def median_interval(values: Sequence[float], level: float = INTERVAL_LEVEL) -> MedianInterval | None:
    """The narrowest order-statistic interval of the median with coverage >= `level`, else the range
    [min, max] with its real coverage; None below INTERVAL_MIN_N values."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    if n < INTERVAL_MIN_N:
        return None
    k = 1
    while k + 1 <= (n + 1) // 2 and _order_coverage(n, k + 1) >= level:
        k += 1
    cov = _order_coverage(n, k)
    return MedianInterval(xs[k - 1], xs[n - k], n, cov, cov < level)


def _iqr(values: Sequence[float]) -> float:
    q1, q3 = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return float(q3 - q1)


# --- records ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditImpact:
    """What one edit scenario invalidated and what rebuilding cost."""

    scenario: str
    builds: int
    # Builds that succeeded: the only ones the medians below use.
    ok: int
    # The first step (by index) with status RUN or ERROR; earliest over repetitions.
    first_invalidated: StepKey | None
    first_invalidated_label: str | None
    # False when repetitions disagree on the first invalidated step.
    consistent: bool
    median_total_s: float | None
    # Median over repetitions of the summed seconds of RUN and ERROR steps.
    median_run_step_s: float | None
    median_steps_rebuilt: float
    steps_total: int


@dataclass(frozen=True)
class CriticalPath:
    """The chain of steps that bounded one build's wall time.

    Method: take the step that finished last; its predecessor is the step that finished latest at or
    before it started (within the same build's timeline); repeat until no step finished before. Steps
    that overlap in time are parallel and never both on the chain. This ignores declared dependencies
    (the profile does not record them) and so reads the timeline only: a gap before a step (waiting on
    an internal vertex, a pull) is left out of `path_s` but inside `span_s`.
    """

    scenario: str
    repeat: int
    steps: tuple[StepKey, ...]
    labels: tuple[str, ...]
    # Summed durations of the chain's steps.
    path_s: float
    # From the first step's start to the last step's finish.
    span_s: float
    wall_s: float | None
    # Summed durations of every step in the build.
    step_time_s: float
    # True when steps of different stages overlapped in time.
    parallel: bool


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything the charts and reports show. DataFrames inside; treat them as read-only."""

    steps: pd.DataFrame
    # One row per scenario, indexed by scenario name.
    scenarios: pd.DataFrame
    # One row per (scenario, stage, position).
    per_step: pd.DataFrame
    # Ordered step keys (columns of the invalidation map) and their labels.
    step_order: tuple[StepKey, ...]
    step_labels: dict[StepKey, str]
    edits: tuple[EditImpact, ...]
    critical_paths: tuple[CriticalPath, ...]
    summary_lines: tuple[str, ...]
    cold: str | None
    warm: str | None

    @property
    def summary(self) -> str:
        return " ".join(self.summary_lines)

    def invalidation_map(self) -> pd.DataFrame:
        """Edit scenarios (rows) x step labels (columns): the status most repetitions had."""
        names = [e.scenario for e in self.edits]
        ps = self.per_step[self.per_step["scenario"].isin(names)]
        grid = ps.pivot(index="scenario", columns="key", values="status_mode")
        cols = [k for k in self.step_order if k in grid.columns]
        grid = grid.reindex(index=names, columns=cols)
        grid.columns = [self.step_labels[k] for k in cols]
        return grid


# --- labels -----------------------------------------------------------------------------------------


def truncate(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _labels(steps: pd.DataFrame, keys: Sequence[StepKey], cold: str | None) -> dict[StepKey, str]:
    """`2 COPY requirements.txt .`, prefixed by the stage when the Dockerfile has several."""
    multi = len({k[0] for k in keys}) > 1
    texts: dict[StepKey, str] = {}
    # The cold build's text first: an arg edit may change the expanded instruction.
    ordered = steps if cold is None else pd.concat([steps[steps["scenario"] == cold], steps])
    for stage, pos, instr in zip(ordered["stage"], ordered["position"], ordered["instruction"], strict=True):
        texts.setdefault((stage, int(pos)), instr)
    return {
        k: truncate(f"{k[0]}/{k[1]} {texts.get(k, '')}" if multi else f"{k[1]} {texts.get(k, '')}")
        for k in keys
    }


def _scenario_phrase(name: str) -> str:
    """`edit:src/**` -> "a change under `src/`"; `arg:VERSION=2` -> "a change of build arg `VERSION`"."""
    if name.startswith("edit:"):
        what = name[len("edit:"):] or "?"
        folder = what.rstrip("*")
        if folder.endswith("/") and "*" not in folder:
            return f"a change under `{folder}`"
        return f"a change to `{what}`"
    if name.startswith("arg:"):
        return f"a change of build arg `{name[len('arg:'):].split('=', 1)[0]}`"
    return f"scenario `{name}`"


def fmt_s(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.1f} s"


def fmt_count(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


# --- the analyses -------------------------------------------------------------------------------------


def _nan(x: float | None) -> float:
    return np.nan if x is None else float(x)


def _scenarios_frame(profile: Profile, cold: str | None) -> pd.DataFrame:
    """One row per scenario. Every time figure uses only ok builds (`ok` of `builds`); hit rate and cache
    saved are those of `cacheprof.figures`."""
    figures = profile_figures(profile, cold or "cold")
    rows = []
    for name in profile.scenario_names:
        builds = profile.builds_of(name)
        f = figures[name]
        totals = ok_durations(builds)
        step_times = [b.step_time_s for b in builds if b.ok]
        rows.append({
            "scenario": name,
            "builds": f.builds,
            "ok": f.ok,
            "median_total_s": _nan(f.median_total_s),
            "min_total_s": _nan(f.min_total_s),
            "max_total_s": _nan(f.max_total_s),
            "iqr_total_s": _iqr(totals) if totals else np.nan,
            "stdev_total_s": statistics.stdev(totals) if len(totals) >= 2 else np.nan,
            "median_step_time_s": statistics.median(step_times) if step_times else np.nan,
            "steps": f.work_steps,
            "cached_steps": f.cached_work_steps,
            "hit_rate": _nan(f.hit_rate),
            "cache_saved": _nan(f.cache_saved),
            "cache_saved_s": _nan(f.cache_saved_s),
        })
    df = pd.DataFrame(rows, columns=[
        "scenario", "builds", "ok", "median_total_s", "min_total_s", "max_total_s", "iqr_total_s",
        "stdev_total_s", "median_step_time_s", "steps", "cached_steps", "hit_rate", "cache_saved",
        "cache_saved_s",
    ]).set_index("scenario")
    cold_median = df.at[cold, "median_total_s"] if cold is not None else np.nan
    df["time_saved_s"] = cold_median - df["median_total_s"]
    return df


# Costlier first. A step cut off by the end of a log (UNKNOWN) ranks below a failure, above a run.
_STATUS_RANK = ("ERROR", "CANCELED", "UNKNOWN", "RUN", "PULLED", "CACHED")


def _per_step_frame(steps: pd.DataFrame, cold: str | None) -> pd.DataFrame:
    """Per (scenario, stage, position): median duration with its order-statistic interval, flags, time
    saved. Durations come from ok builds only (`n` of `runs`); statuses from every build, so an ERROR shows."""
    keys = ["scenario", "stage", "position"]
    cols = [
        "scenario", "stage", "position", "key", "n", "median_s", "ci_low_s", "ci_high_s", "ci_coverage",
        "ci_is_range", "mean_s",
        "stdev_s", "cv", "spread_s", "status_mode", "statuses", "runs", "noisy", "unstable",
        "time_saved_s",
    ]
    if steps.empty:
        return pd.DataFrame(columns=cols)
    g = steps.groupby(keys, sort=False)
    timed = steps["duration_s"].where(steps["build_ok"])
    tg = timed.groupby([steps[k] for k in keys], sort=False)
    df = pd.DataFrame({"n": tg.count(), "median_s": tg.median(), "runs": g.size()})
    # Spread is judged on RUN durations only: a cached step's near-zero time is not noise.
    run = steps[(steps["status"] == "RUN") & steps["build_ok"]].groupby(keys, sort=False)["duration_s"]
    run_stats = pd.DataFrame({
        "mean_s": run.mean(), "stdev_s": run.std(ddof=1), "spread_s": run.max() - run.min(),
        "run_n": run.count(),
    })
    df = df.join(run_stats, how="left")
    df["cv"] = np.where((df["run_n"] >= 2) & (df["mean_s"] > 0), df["stdev_s"] / df["mean_s"], np.nan)
    df["noisy"] = (df["cv"] > NOISY_CV) & (df["spread_s"] > NOISY_SPREAD_S)
    counts = steps.groupby([*keys, "status"], sort=False).size().unstack("status", fill_value=0)
    counts = counts.reindex(index=df.index, columns=list(_STATUS_RANK), fill_value=0)
    # Most common status; ties go to the costlier (ERROR > ... > CACHED) so nothing hides.
    df["status_mode"] = [_STATUS_RANK[i] for i in np.argmax(counts.to_numpy(), axis=1)]
    present = counts.to_numpy() > 0
    df["statuses"] = [
        ",".join(sorted(s for s, p in zip(_STATUS_RANK, row, strict=True) if p)) for row in present
    ]
    df["unstable"] = present.sum(axis=1) > 1
    groups = tg.agg(lambda v: v.dropna().tolist())
    cis = [median_interval(v) for v in groups.reindex(df.index).tolist()]
    df["ci_low_s"] = [c.low_s if c else np.nan for c in cis]
    df["ci_high_s"] = [c.high_s if c else np.nan for c in cis]
    df["ci_coverage"] = [c.coverage if c else np.nan for c in cis]
    df["ci_is_range"] = [bool(c.is_range) if c else False for c in cis]
    df = df.reset_index()
    df["position"] = df["position"].astype("int64")
    df["key"] = list(zip(df["stage"], df["position"].tolist(), strict=True))
    if cold is not None:
        cold_med = df[df["scenario"] == cold].set_index("key")["median_s"]
        df["time_saved_s"] = df["key"].map(cold_med).astype(float) - df["median_s"]
    else:
        df["time_saved_s"] = np.nan
    return df[cols]


def _step_order(steps: pd.DataFrame) -> tuple[StepKey, ...]:
    if steps.empty:
        return ()
    first = steps.groupby(["stage", "position"], sort=False)["index"].min().reset_index()
    first = first.sort_values(["index", "stage", "position"], kind="stable")
    return tuple((s, int(p)) for s, p in zip(first["stage"], first["position"], strict=True))


def edit_impacts(profile: Profile, labels: dict[StepKey, str] | None = None) -> tuple[EditImpact, ...]:
    """Per edit scenario (`edit:`/`arg:`): the first invalidated step and what rebuilding cost. Costs use
    only ok builds; the first invalidated step looks at every build (a failing step is news)."""
    out = []
    for name in profile.scenario_names:
        if not is_edit(name):
            continue
        builds = profile.builds_of(name)
        firsts: list[Step | None] = []
        run_s, rebuilt = [], []
        for b in builds:
            invalid = [s for s in b.steps if s.status is not StepStatus.CACHED]
            firsts.append(min(invalid, key=lambda s: s.index) if invalid else None)
            if b.ok:
                run_s.append(sum(step_seconds(s) or 0.0 for s in invalid))
                rebuilt.append(len(invalid))
        found = [f for f in firsts if f is not None]
        first = min(found, key=lambda s: s.index) if found else None
        totals = ok_durations(builds)
        key = first.key if first else None
        out.append(EditImpact(
            scenario=name,
            builds=len(builds),
            ok=sum(b.ok for b in builds),
            first_invalidated=key,
            first_invalidated_label=(labels or {}).get(key, truncate(f"{key[1]} {first.instruction}"))
            if first and key else None,
            consistent=len({f.key if f else None for f in firsts}) <= 1,
            median_total_s=statistics.median(totals) if totals else None,
            median_run_step_s=statistics.median(run_s) if run_s else None,
            median_steps_rebuilt=float(statistics.median(rebuilt)) if rebuilt else 0.0,
            steps_total=max((len(b.steps) for b in builds), default=0),
        ))
    return tuple(out)


def critical_path(build: Build, labels: dict[StepKey, str] | None = None) -> CriticalPath | None:
    """The chain of steps ending at the last-finishing step; see CriticalPath for the method.

    None when no step has both timestamps.
    """
    # (start, finish, step) for every step with a timeline.
    timed = [
        (s.started, s.finished, s) for s in build.steps if s.started is not None and s.finished is not None
    ]
    if not timed:
        return None
    chain: list[Step] = []
    seen: set[int] = set()
    current = max(timed, key=lambda t: (t[1], t[2].index))
    while True:
        chain.append(current[2])
        seen.add(current[2].index)
        before = [t for t in timed if t[1] <= current[0] + _TIME_SLACK_S and t[2].index not in seen]
        if not before:
            break
        current = max(before, key=lambda t: (t[1], t[2].index))
    chain.reverse()
    parallel = any(
        a[2].stage != b[2].stage and a[0] < b[1] - _TIME_SLACK_S and b[0] < a[1] - _TIME_SLACK_S
        for i, a in enumerate(timed) for b in timed[i + 1:]
    )
    return CriticalPath(
        scenario=build.scenario,
        repeat=build.repeat,
        steps=tuple(s.key for s in chain),
        labels=tuple((labels or {}).get(s.key, truncate(f"{s.position} {s.instruction}")) for s in chain),
        path_s=sum(step_seconds(s) or 0.0 for s in chain),
        span_s=max(t[1] for t in timed) - min(t[0] for t in timed),
        wall_s=build.duration_s,
        step_time_s=build.step_time_s,
        parallel=parallel,
    )


def _summary_lines(
    profile: Profile, scenarios: pd.DataFrame, per_step: pd.DataFrame, edits: Sequence[EditImpact],
    paths: Sequence[CriticalPath], cold: str | None, warm: str | None,
) -> tuple[str, ...]:
    lines: list[str] = []

    def med(name: str | None) -> float | None:
        if name is None:
            return None
        v = scenarios.at[name, "median_total_s"]
        return None if np.isnan(v) else float(v)

    def oks(name: str | None) -> str:
        """` (2 of 3 builds ok)` beside a figure when failed builds were left out of it."""
        if name is None:
            return ""
        ok, total = int(scenarios.at[name, "ok"]), int(scenarios.at[name, "builds"])
        return "" if ok == total else f" ({ok} of {total} builds ok)"

    # Costliest edits first: they are what a reader wants to fix.
    shown = sorted(edits, key=lambda e: -(e.median_total_s or 0.0))[:5]
    for e in shown:
        # The label goes inside a code span: a backtick in it would end the span.
        label = (e.first_invalidated_label or "").replace("`", "'")
        lines.append(
            f"{_scenario_phrase(e.scenario)} rebuilds {fmt_count(e.median_steps_rebuilt)} of {e.steps_total} "
            f"steps and costs {fmt_s(e.median_total_s)}{oks(e.scenario)}"
            + (f" (first invalidated: `{label}`)" if label else "")
        )
    if len(edits) > len(shown):
        more = len(edits) - len(shown)
        lines.append(f"{more} more edit scenario{'s are' if more != 1 else ' is'} in the tables below")
    cold_s, warm_s = med(cold), med(warm)
    if cold_s is not None:
        lines.append(f"cold build {fmt_s(cold_s)}{oks(cold)}")
    if cold_s is not None and warm_s is not None and warm is not None:
        lines.append(f"the cache saves {fmt_s(cold_s - warm_s)} on a warm rebuild{oks(warm)}")
    if warm is not None:
        hr = scenarios.at[warm, "hit_rate"]
        saved = scenarios.at[warm, "cache_saved"]
        if not np.isnan(hr):
            lines.append(f"a warm rebuild hits the cache on {hr:.0%} of its RUN/COPY/ADD steps"
                         + ("" if np.isnan(saved) else f", {saved:.0%} of their cold time"))
    failed = sum(not b.ok for b in profile.builds)
    if failed:
        lines.append(f"{failed} of {len(profile.builds)} builds failed")
    noisy = int(per_step["noisy"].sum()) if len(per_step) else 0
    unstable = int(per_step["unstable"].sum()) if len(per_step) else 0
    if noisy:
        lines.append(f"{noisy} step timing{'s are' if noisy != 1 else ' is'} noisy across repetitions")
    if unstable:
        lines.append(f"{unstable} step{'s change' if unstable != 1 else ' changes'} cache status between "
                     "repetitions")
    par = [p for p in paths if p.parallel and p.scenario == cold]
    if par:
        p = par[0]
        lines.append(
            f"stages ran in parallel: the cold build's steps add up to {fmt_s(p.step_time_s)} "
            f"but its critical path is {fmt_s(p.path_s)}"
        )
    if not lines:
        lines.append("no cold or edit scenarios to compare" if profile.builds else "no builds were measured")
    lines[0] = lines[0][0].upper() + lines[0][1:]
    return tuple(f"{s}." if i == len(lines) - 1 else f"{s};" for i, s in enumerate(lines))


def analyze(profile: Profile, *, cold: str = COLD, warm: str = WARM) -> Analysis:
    """Run every analysis on `profile`. Deterministic: no randomness, no clock."""
    names = profile.scenario_names
    cold_name = cold if cold in names else None
    warm_name = warm if warm in names else None
    steps = steps_frame(profile)
    order = _step_order(steps)
    labels = _labels(steps, order, cold_name)
    scenarios = _scenarios_frame(profile, cold_name)
    per_step = _per_step_frame(steps, cold_name)
    edits = edit_impacts(profile, labels)
    paths = []
    for name in names:
        # The first ok repetition with a timeline stands for the scenario (a failed one only when no
        # build succeeded: a failed build's wall time is not the scenario's).
        builds = sorted(profile.builds_of(name), key=lambda b: (not b.ok, b.repeat))
        for b in builds:
            p = critical_path(b, labels)
            if p is not None:
                paths.append(p)
                break
    return Analysis(
        steps=steps,
        scenarios=scenarios,
        per_step=per_step,
        step_order=order,
        step_labels=labels,
        edits=edits,
        critical_paths=tuple(paths),
        summary_lines=_summary_lines(profile, scenarios, per_step, edits, paths, cold_name, warm_name),
        cold=cold_name,
        warm=warm_name,
    )
