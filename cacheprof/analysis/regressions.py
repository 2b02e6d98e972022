"""Regression checks of a bench run against its history: pure functions of hand-buildable records.

Cache regressions come first: a work step (RUN, COPY, ADD) that was CACHED in a scenario in every
baseline run and now RUNs is deterministic evidence, reported however small the time change. A timing
regression must clear three bars at once (a noise band from the baseline's own spread, a relative
threshold and an absolute floor) and must persist for `persistence` consecutive runs against the same
baseline. Improvements are the mirror image. A baseline holds only earlier runs with the same machine,
engine version and builder on the same engine: any change starts a new baseline, and the check says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..model import WORK_INSTRUCTIONS  # the one definition of the steps a hit rate counts (issue 8)

# MAD x 1.4826 estimates the standard deviation of normal noise; k of those make the noise band.
MAD_TO_SD = 1.4826


def is_work_step(instruction: str) -> bool:
    """Steps that do work; FROM, WORKDIR, ENV... are bookkeeping whose CACHED flag differs by builder."""
    return instruction.split(None, 1)[0].upper() in WORK_INSTRUCTIONS if instruction.strip() else False


@dataclass(frozen=True)
class Thresholds:
    ratio: float = 0.10
    min_seconds: float = 0.5
    noise_k: float = 3.0
    noise_floor_s: float = 0.1
    window: int = 10
    persistence: int = 2


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class BaselineKey:
    machine: str
    engine_version: str
    builder: str

    def differences(self, other: BaselineKey) -> list[str]:
        names = (("machine", self.machine, other.machine), ("engine version", self.engine_version,
                 other.engine_version), ("builder", self.builder, other.builder))
        return [f"{name} {b or '?'} -> {a or '?'}" for name, a, b in names if a != b]


@dataclass(frozen=True)
class StepState:
    """A work step's state in one run of a scenario: RUN if it ran in any ok build, else CACHED."""

    instruction: str
    line: int | None
    status: Literal["CACHED", "RUN"]
    order: int


@dataclass(frozen=True)
class ScenarioPoint:
    builds: int
    ok: int
    durations_ok_s: tuple[float, ...]
    # Keyed by (stage, instruction, occurrence): a step inserted above does not rename the ones below.
    steps: Mapping[tuple[str, str, int], StepState] = field(default_factory=dict)
    # Over the ok builds: work steps seen and how many were CACHED (the hit rate), and each work step's
    # median seconds (for "cache saved" against the cold builds of the same run).
    work_steps: int = 0
    cached_steps: int = 0
    step_seconds: Mapping[tuple[str, str, int], float] = field(default_factory=dict)

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.durations_ok_s) if self.durations_ok_s else None

    @property
    def hit_rate(self) -> float | None:
        return self.cached_steps / self.work_steps if self.work_steps else None


@dataclass(frozen=True)
class ResultPoint:
    """One benchmark on one engine in one run."""

    run_uid: str
    created_utc: str
    commit: str | None
    benchmark: str
    engine: str
    key: BaselineKey
    scenarios: Mapping[str, ScenarioPoint]
    error: str | None = None


@dataclass(frozen=True)
class Finding:
    benchmark: str
    engine: str
    scenario: str
    kind: Literal["cache", "time"]
    direction: Literal["regression", "improvement"]
    message: str
    step: str | None = None
    line: int | None = None
    baseline_s: float | None = None
    now_s: float | None = None
    baseline_runs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "engine": self.engine, "scenario": self.scenario, "kind": self.kind,
                "step": self.step, "line": self.line, "baseline_s": _r(self.baseline_s), "now_s": _r(self.now_s),
                "message": self.message}


@dataclass(frozen=True)
class Verdict:
    """One row of the summary table: a scenario now, against its baseline."""

    benchmark: str
    engine: str
    scenario: str
    now_s: float | None
    baseline_s: float | None
    baseline_runs: int
    ok: int
    builds: int
    verdict: str  # regression, improvement, slower?, faster?, same, no baseline, failed

    @property
    def change(self) -> float | None:
        if self.now_s is None or not self.baseline_s:
            return None
        return self.now_s / self.baseline_s - 1


@dataclass(frozen=True)
class CheckResult:
    regressions: tuple[Finding, ...]
    improvements: tuple[Finding, ...]
    # Beyond every bar once, not yet for `persistence` runs: shown, never alarmed on.
    pending: tuple[Finding, ...]
    verdicts: tuple[Verdict, ...]
    notices: tuple[str, ...]

    @property
    def confirmed_regression(self) -> bool:
        return bool(self.regressions)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


# --- building points from rows -------------------------------------------------------------------


StepTuple = tuple[str, str, int | None, str, float | None]  # stage, instruction, line, status, duration_s


def _work_steps(build_steps: Sequence[StepTuple]) -> Iterator[tuple[tuple[str, str, int], StepTuple]]:
    seen: dict[tuple[str, str], int] = {}
    for st in build_steps:
        stage, instruction, _, status, _ = st
        if not is_work_step(instruction) or status not in ("CACHED", "RUN"):
            continue
        n = seen.get((stage, instruction), 0)
        seen[(stage, instruction)] = n + 1
        yield (stage, instruction, n), st


def scenario_point(builds: Sequence[tuple[bool, float | None, Sequence[StepTuple]]]) -> ScenarioPoint:
    """From (ok, duration_s, steps) of every build of one scenario in one run. Failed builds count in
    `builds` only: their times and step states say where they stopped, not what the cache did."""
    states: dict[tuple[str, str, int], StepState] = {}
    seconds: dict[tuple[str, str, int], list[float]] = {}
    work = cached = 0
    for ok, _, build_steps in builds:
        if not ok:
            continue
        for order, (key, (_, instruction, line, status, duration)) in enumerate(_work_steps(build_steps)):
            work += 1
            cached += status == "CACHED"
            if duration is not None:
                seconds.setdefault(key, []).append(duration)
            prev = states.get(key)
            ran = status == "RUN" or (prev is not None and prev.status == "RUN")
            states[key] = StepState(instruction=instruction, line=line if prev is None else prev.line,
                                    status="RUN" if ran else "CACHED", order=order if prev is None else prev.order)
    return ScenarioPoint(
        builds=len(builds), ok=sum(ok for ok, _, _ in builds),
        durations_ok_s=tuple(d for ok, d, _ in builds if ok and d is not None), steps=states,
        work_steps=work, cached_steps=cached, step_seconds={k: statistics.median(v) for k, v in seconds.items()},
    )


def series_from_rows(metas: Iterable[Any], builds: Iterable[Any], steps: Iterable[Any]
                     ) -> dict[tuple[str, str], list[ResultPoint]]:
    """Points per (benchmark, engine), oldest first, from the history's rows (store.history_db's
    ResultMeta, BuildRow and StepRow, read by attribute)."""
    steps_of: dict[int, list[StepTuple]] = {}
    for s in steps:
        steps_of.setdefault(s.build_id, []).append((s.stage, s.instruction, s.line, s.status, s.duration_s))
    builds_of: dict[int, dict[str, list[tuple[bool, float | None, Sequence[StepTuple]]]]] = {}
    for b in builds:
        builds_of.setdefault(b.result_id, {}).setdefault(b.scenario, []).append(
            (b.ok, b.duration_s, steps_of.get(b.build_id, [])))
    out: dict[tuple[str, str], list[ResultPoint]] = {}
    for m in metas:
        out.setdefault((m.benchmark, m.engine_name), []).append(ResultPoint(
            run_uid=m.run_uid, created_utc=m.created_utc, commit=m.suite_commit, benchmark=m.benchmark,
            engine=m.engine_name, key=BaselineKey(m.machine_key, m.engine_version, m.builder),
            scenarios={name: scenario_point(bs) for name, bs in builds_of.get(m.result_id, {}).items()},
            error=m.error,
        ))
    return out


# --- the checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Band:
    median_s: float
    band_s: float
    runs: int


def baseline_band(medians: Sequence[float], t: Thresholds) -> _Band:
    centre = statistics.median(medians)
    mad = statistics.median(abs(m - centre) for m in medians)
    return _Band(centre, max(t.noise_k * MAD_TO_SD * mad, t.noise_floor_s), len(medians))


def beyond(now_s: float, base: _Band, t: Thresholds) -> int:
    """+1 slower, -1 faster beyond all three bars; 0 otherwise."""
    delta = now_s - base.median_s
    if abs(delta) > base.band_s and abs(delta) > t.ratio * base.median_s and abs(delta) > t.min_seconds:
        return 1 if delta > 0 else -1
    return 0


def _label(benchmark: str, engine: str, scenario: str, engines: int) -> str:
    return f"{benchmark} [{engine}] {scenario}" if engines > 1 else f"{benchmark} {scenario}"


def _medians(points: Sequence[ResultPoint], scenario: str) -> list[float]:
    out = []
    for p in points:
        s = p.scenarios.get(scenario)
        if s is not None and s.median_s is not None:
            out.append(s.median_s)
    return out


def _cache_findings(label: str, point: ResultPoint, scenario: str, base: Sequence[ResultPoint]) -> list[Finding]:
    now = point.scenarios[scenario]
    if not now.ok:
        return []
    olds = [p.scenarios[scenario] for p in base if scenario in p.scenarios and p.scenarios[scenario].ok]
    if not olds:
        return []
    out: list[Finding] = []
    for flipped_to, direction in (("RUN", "regression"), ("CACHED", "improvement")):
        was = "CACHED" if flipped_to == "RUN" else "RUN"
        flipped = sorted(
            (st.order, key, st) for key, st in now.steps.items()
            if st.status == flipped_to and all(key in o.steps and o.steps[key].status == was for o in olds)
        )
        by_stage: dict[str, list[tuple[int, tuple[str, str, int], StepState]]] = {}
        for item in flipped:
            by_stage.setdefault(item[1][0], []).append(item)
        for items in by_stage.values():
            _, _, first = items[0]
            where = f"line {first.line}" if first.line is not None else "a step"
            verb = "now runs" if flipped_to == "RUN" else "is now cached"
            more = f"; {len(items) - 1} later step(s) followed it" if len(items) > 1 else ""
            out.append(Finding(
                benchmark=point.benchmark, engine=point.engine, scenario=scenario, kind="cache", direction=direction,
                step=first.instruction, line=first.line, baseline_s=_median_or_none(_medians(base, scenario)),
                now_s=now.median_s, baseline_runs=len(olds),
                message=f"{label}: {where} `{first.instruction}` {verb}; it was {was} in all {len(olds)} baseline "
                        f"run(s){more}",
            ))
    return out


def _median_or_none(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def check_series(series: Sequence[ResultPoint], t: Thresholds = DEFAULT_THRESHOLDS, *, engines: int = 1
                 ) -> tuple[list[Finding], list[Finding], list[Finding], list[Verdict], list[str]]:
    """Check the last point of one benchmark-on-engine series (oldest first) against the ones before it."""
    current = series[-1]
    label0 = f"{current.benchmark} [{current.engine}]" if engines > 1 else current.benchmark
    notices: list[str] = []
    # The baseline: the trailing run of points with the current key. A change of key starts a new one.
    seg_start = len(series) - 1
    while seg_start > 0 and series[seg_start - 1].key == current.key:
        seg_start -= 1
    if seg_start > 0:
        changed = current.key.differences(series[seg_start - 1].key)
        if seg_start == len(series) - 1:
            notices.append(f"{label0}: new baseline ({'; '.join(changed)}); earlier runs are not compared")
    usable = [p for p in series[seg_start:-1] if p.error is None]
    regressions: list[Finding] = []
    improvements: list[Finding] = []
    pending: list[Finding] = []
    verdicts: list[Verdict] = []
    for scenario, now in current.scenarios.items():
        label = _label(current.benchmark, current.engine, scenario, engines)
        base_pts = usable[-t.window:] if t.window > 0 else []
        base_medians = _medians(base_pts, scenario)
        base_med = _median_or_none(base_medians)
        n_base = len(base_medians)
        verdict = "no baseline" if not base_medians else "same"
        if now.ok < now.builds:
            verdict = "failed"
        for f in _cache_findings(label, current, scenario, base_pts):
            (regressions if f.direction == "regression" else improvements).append(f)
            if verdict not in ("failed",):
                verdict = f"cache {f.direction}"
        # Timing: the last `persistence` points (a streak) each beyond the bars of the baseline before it.
        if now.median_s is not None and base_medians:
            band_now = baseline_band(base_medians, t)
            sign_now = beyond(now.median_s, band_now, t)
            if sign_now:
                streak = [*usable, current][-t.persistence:] if t.persistence > 1 else [current]
                before = usable[: len(usable) - (len(streak) - 1)][-t.window:]
                streak_base = _medians(before, scenario)
                confirmed = False
                band = band_now
                if len(streak) == max(t.persistence, 1) and streak_base:
                    streak_band = baseline_band(streak_base, t)
                    confirmed = all(
                        p.scenarios.get(scenario) is not None and p.scenarios[scenario].median_s is not None
                        and beyond(p.scenarios[scenario].median_s, streak_band, t) == sign_now  # type: ignore[arg-type]
                        for p in streak
                    )
                    if confirmed:
                        band = streak_band  # the baseline the whole streak was measured against
                ref = band.median_s
                pct = (now.median_s / ref - 1) * 100 if ref > 0 else float("inf")
                word = "slower" if sign_now > 0 else "faster"
                runs = f"{len(streak)} consecutive runs" if confirmed and len(streak) > 1 else "this run"
                f = Finding(
                    benchmark=current.benchmark, engine=current.engine, scenario=scenario, kind="time",
                    direction="regression" if sign_now > 0 else "improvement", baseline_s=ref, now_s=now.median_s,
                    baseline_runs=band.runs,
                    message=f"{label}: {word}, median {now.median_s:.2f} s vs baseline {ref:.2f} s "
                            f"({pct:+.0f}%, baseline of {band.runs} run(s), noise band ±{band.band_s:.2f} s) "
                            f"in {runs}" + ("" if confirmed else f"; alarms after {t.persistence} consecutive runs"),
                )
                if confirmed:
                    (regressions if sign_now > 0 else improvements).append(f)
                    base_med, n_base = band.median_s, band.runs  # the table shows what the alarm compared with
                    if verdict in ("same",):
                        verdict = "regression" if sign_now > 0 else "improvement"
                else:
                    pending.append(f)
                    if verdict == "same":
                        verdict = f"{word}?"
        verdicts.append(Verdict(
            benchmark=current.benchmark, engine=current.engine, scenario=scenario, now_s=now.median_s,
            baseline_s=base_med, baseline_runs=n_base, ok=now.ok, builds=now.builds, verdict=verdict,
        ))
    return regressions, improvements, pending, verdicts, notices


def check_run(series_by_result: Mapping[tuple[str, str], Sequence[ResultPoint]], current_uid: str,
              t: Thresholds = DEFAULT_THRESHOLDS) -> CheckResult:
    """Check every benchmark-on-engine of run `current_uid`. Each series is that pair's points, oldest
    first, ending at (or before) the current run; series whose last point is not from this run are
    skipped (the benchmark was not part of it)."""
    engines = len({engine for _, engine in series_by_result})
    regs: list[Finding] = []
    imps: list[Finding] = []
    pend: list[Finding] = []
    verdicts: list[Verdict] = []
    notices: list[str] = []
    for (benchmark, engine), series in sorted(series_by_result.items()):
        if not series or series[-1].run_uid != current_uid:
            continue
        if series[-1].error is not None:
            label = f"{benchmark} [{engine}]" if engines > 1 else benchmark
            notices.append(f"{label}: not measured ({series[-1].error})")
            verdicts.append(Verdict(benchmark=benchmark, engine=engine, scenario="-", now_s=None, baseline_s=None,
                                    baseline_runs=0, ok=0, builds=0, verdict="failed"))
            continue
        r, i, p, v, n = check_series(series, t, engines=engines)
        regs += r
        imps += i
        pend += p
        verdicts += v
        notices += n
    # Cache regressions first: they are the deterministic signal.
    regs.sort(key=lambda f: (f.kind != "cache", f.benchmark, f.engine, f.scenario))
    imps.sort(key=lambda f: (f.kind != "cache", f.benchmark, f.engine, f.scenario))
    return CheckResult(tuple(regs), tuple(imps), tuple(pend), tuple(verdicts), tuple(notices))
