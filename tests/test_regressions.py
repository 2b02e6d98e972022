"""Regression checks on hand-built histories: every expected answer is written here, not computed."""

from __future__ import annotations

from cacheprof.analysis.regressions import (
    DEFAULT_THRESHOLDS,
    BaselineKey,
    ResultPoint,
    Thresholds,
    baseline_band,
    beyond,
    check_run,
    is_work_step,
    scenario_point,
)

DF = ("FROM busybox:1.36", "WORKDIR /app", "COPY deps.txt .", "RUN install deps", "COPY . .", "RUN build app")
KEY = BaselineKey(machine="vm/2/x86_64", engine_version="26.1.0", builder="buildkit")


def steps(statuses: str, instructions: tuple[str, ...] = DF):
    return [("0", ins, line, {"C": "CACHED", "R": "RUN"}[st], 1.0 if st == "R" else 0.0)
            for line, (ins, st) in enumerate(zip(instructions, statuses, strict=True), 1)]


def point(n: int, *, warm=(0.5, 0.5), warm_st="CCCCCC", cold=(5.0, 5.0), key=KEY, warm_ok=(True, True),
          instructions=DF, engine="default", benchmark="app", error=None) -> ResultPoint:
    return ResultPoint(
        run_uid=f"r{n}", created_utc=f"2026-01-{n:02d}", commit=f"c{n}", benchmark=benchmark, engine=engine, key=key,
        scenarios={
            "cold": scenario_point([(True, d, steps("CRRRRR", DF)) for d in cold]),
            "warm": scenario_point([(ok, d, steps(warm_st, instructions))
                                    for d, ok in zip(warm, warm_ok, strict=True)]),
        }, error=error,
    )


def check(points, t=DEFAULT_THRESHOLDS):
    series: dict[tuple[str, str], list[ResultPoint]] = {}
    for p in points:
        series.setdefault((p.benchmark, p.engine), []).append(p)
    return check_run(series, points[-1].run_uid, t)


def test_work_steps_are_run_copy_add():
    assert [is_work_step(i) for i in ("RUN x", "copy a b", "ADD u /", "FROM a", "WORKDIR /", "ENV A=1", "")] == [
        True, True, True, False, False, False, False]


def test_unchanged_runs_raise_nothing():
    r = check([point(1), point(2), point(3, warm=(0.52, 0.49))])
    assert r.regressions == () and r.improvements == () and r.pending == ()
    assert {(v.scenario, v.verdict) for v in r.verdicts} == {("cold", "same"), ("warm", "same")}


def test_first_run_has_no_baseline():
    r = check([point(1)])
    assert r.regressions == () and {v.verdict for v in r.verdicts} == {"no baseline"}


def test_cache_regression_names_the_first_step_that_stopped_hitting():
    # Steps 4 (RUN install deps) and 5, 6 run again; the time change is small (0.5 -> 0.6 s).
    r = check([point(1), point(2), point(3), point(4, warm=(0.6, 0.6), warm_st="CCCRRR")])
    assert len(r.regressions) == 1
    f = r.regressions[0]
    assert (f.kind, f.scenario, f.step, f.line) == ("cache", "warm", "RUN install deps", 4)
    assert "2 later step(s)" in f.message and "all 3 baseline run(s)" in f.message
    assert f.to_json() == {"benchmark": "app", "engine": "default", "scenario": "warm", "kind": "cache",
                           "step": "RUN install deps", "line": 4, "baseline_s": 0.5, "now_s": 0.6,
                           "message": f.message}
    assert r.confirmed_regression


def test_step_not_cached_across_the_whole_baseline_is_no_cache_regression():
    r = check([point(1, warm_st="CCCRCC"), point(2), point(3, warm_st="CCCRRR")])
    assert [f.step for f in r.regressions] == ["COPY . ."]  # step 4 ran in run 1: only 5 is new


def test_inserted_instruction_does_not_rename_the_steps_below():
    moved = (*DF[:3], "ARG STAMP", "RUN date > /stamp", *DF[3:])
    r = check([point(1), point(2), point(3, warm_st="CCCCRRRR", instructions=moved, warm=(1.0, 1.0))])
    # The new RUN has no history; the first old step that stopped hitting is the install at its new line 6.
    assert [(f.step, f.line) for f in r.regressions] == [("RUN install deps", 6)]


def test_cache_improvement():
    r = check([point(1, warm_st="CCCCRR"), point(2, warm_st="CCCCRR"), point(3)])
    assert [(f.kind, f.direction, f.step) for f in r.improvements] == [("cache", "improvement", "COPY . .")]
    assert r.regressions == ()


def test_timing_needs_persistence_then_alarms():
    base = [point(i, cold=(5.0, 5.1)) for i in range(1, 4)]
    once = check([*base, point(4, cold=(6.5, 6.6))])
    assert once.regressions == () and [f.scenario for f in once.pending] == ["cold"]
    assert "alarms after 2 consecutive runs" in once.pending[0].message
    twice = check([*base, point(4, cold=(6.5, 6.6)), point(5, cold=(6.4, 6.5))])
    assert [(f.kind, f.scenario) for f in twice.regressions] == [("time", "cold")]
    f = twice.regressions[0]
    assert f.baseline_s == 5.05 and f.now_s == 6.45 and "2 consecutive runs" in f.message
    # Back to normal after one slow night: no alarm.
    recovered = check([*base, point(4, cold=(6.5, 6.6)), point(5, cold=(5.0, 5.1))])
    assert recovered.regressions == () and recovered.pending == ()


def test_persistence_is_configurable():
    base = [point(i) for i in range(1, 4)]
    now = point(4, cold=(6.5, 6.5))
    assert [f.scenario for f in check([*base, now], Thresholds(persistence=1)).regressions] == ["cold"]
    three = Thresholds(persistence=3)
    assert check([*base, point(4, cold=(6.5, 6.5)), point(5, cold=(6.5, 6.5))], three).regressions == ()
    got = check([*base, point(4, cold=(6.5, 6.5)), point(5, cold=(6.5, 6.5)), point(6, cold=(6.5, 6.5))], three)
    assert [f.scenario for f in got.regressions] == ["cold"]


def test_each_of_the_three_bars_holds_back_an_alarm():
    once = Thresholds(persistence=1)
    # relative: +0.8 s on 20 s is 4%
    assert check([point(1, cold=(20.0, 20.0)), point(2, cold=(20.0, 20.0)), point(3, cold=(20.8, 20.8))],
                 once).regressions == ()
    # absolute: +0.4 s on 1 s is +40% but under 0.5 s
    assert check([point(1, cold=(1.0, 1.0)), point(2, cold=(1.0, 1.0)), point(3, cold=(1.4, 1.4))],
                 once).regressions == ()
    # noise: run medians 4, 6, 5, 7, 3 -> median 5, MAD 1, band 3 x 1.4826 = 4.45 s; 8 s is +60% and +3 s
    noisy = [point(i, cold=(c, c)) for i, c in enumerate((4.0, 6.0, 5.0, 7.0, 3.0), 1)]
    assert check([*noisy, point(6, cold=(8.0, 8.0))], once).regressions == ()
    assert [f.scenario for f in check([*noisy, point(6, cold=(9.5, 9.5))], once).regressions] == ["cold"]


def test_noise_band_has_a_floor():
    band = baseline_band([2.0, 2.0, 2.0], Thresholds(noise_floor_s=0.7, min_seconds=0.0, ratio=0.0))
    assert (band.median_s, band.band_s) == (2.0, 0.7)
    t = Thresholds(noise_floor_s=0.7, min_seconds=0.0, ratio=0.0)
    assert beyond(2.6, band, t) == 0 and beyond(2.8, band, t) == 1 and beyond(1.2, band, t) == -1


def test_timing_improvement_mirrors_regression():
    base = [point(i) for i in range(1, 4)]
    r = check([*base, point(4, cold=(3.0, 3.0)), point(5, cold=(3.1, 3.0))])
    assert [(f.kind, f.direction, f.scenario) for f in r.improvements] == [("time", "improvement", "cold")]
    assert r.regressions == ()


def test_a_new_engine_version_starts_a_new_baseline_and_says_so():
    new = BaselineKey(machine=KEY.machine, engine_version="27.0.0", builder="buildkit")
    r = check([point(1), point(2), point(3, cold=(9.0, 9.0), warm_st="CCCRRR", key=new)])
    assert r.regressions == () and r.pending == ()
    assert r.notices == ("app: new baseline (engine version 26.1.0 -> 27.0.0); earlier runs are not compared",)
    # The next run compares only with the new engine's run.
    r2 = check([point(1), point(2), point(3, cold=(9.0, 9.0), key=new), point(4, cold=(9.0, 9.0), key=new)])
    assert r2.notices == () and r2.regressions == () and r2.pending == ()


def test_machine_and_builder_changes_also_start_new_baselines():
    other_machine = BaselineKey(machine="big/64/x86_64", engine_version="26.1.0", builder="buildkit")
    classic = BaselineKey(machine=KEY.machine, engine_version="26.1.0", builder="classic")
    cases = ((other_machine, "machine vm/2/x86_64 -> big/64/x86_64"), (classic, "builder buildkit -> classic"))
    for key, words in cases:
        r = check([point(1), point(2), point(3, cold=(1.0, 1.0), key=key)])
        assert r.pending == () and r.improvements == () and words in r.notices[0]


def test_engines_are_separate_series():
    # Engine b is slow by nature; its runs never enter engine a's baseline.
    pts = [point(1, engine="a"), point(1, engine="b", cold=(9.0, 9.0)), point(2, engine="a"),
           point(2, engine="b", cold=(9.0, 9.0)), point(3, engine="a", cold=(5.1, 5.0)),
           point(3, engine="b", cold=(9.1, 9.0))]
    r = check(pts, Thresholds(persistence=1))
    assert r.regressions == () and r.pending == ()
    assert {(v.engine, v.scenario, v.baseline_s) for v in r.verdicts} == {
        ("a", "cold", 5.0), ("a", "warm", 0.5), ("b", "cold", 9.0), ("b", "warm", 0.5)}


def test_failed_builds_never_enter_timing():
    base = [point(i) for i in range(1, 4)]
    # One warm build failed after 30 s: its time is not a regression, and the verdict says failed.
    r = check([*base, point(4, warm=(30.0, 0.5), warm_ok=(False, True))], Thresholds(persistence=1))
    assert r.regressions == () and r.pending == ()
    warm = next(v for v in r.verdicts if v.scenario == "warm")
    assert (warm.verdict, warm.ok, warm.builds, warm.now_s) == ("failed", 1, 2, 0.5)


def test_benchmark_that_was_not_measured_is_reported():
    r = check([point(1), point(2, error="engine unreachable")])
    assert r.notices == ("app: not measured (engine unreachable)",)
    assert [v.verdict for v in r.verdicts] == ["failed"]


def test_unmeasured_run_does_not_enter_the_baseline():
    r = check([point(1), point(2, error="engine died"), point(3, warm_st="CCCRRR")])
    assert [f.baseline_runs for f in r.regressions] == [1]


def test_hit_rate_counts_only_work_steps_of_ok_builds():
    sp = scenario_point([(True, 1.0, steps("CCCRCC")), (True, 1.0, steps("CCCCCC")),
                         (False, 9.0, steps("CRRRRR"))])
    # FROM and WORKDIR are not counted; 4 work steps x 2 ok builds, 7 cached.
    assert (sp.work_steps, sp.cached_steps, sp.builds, sp.ok, sp.durations_ok_s) == (8, 7, 3, 2, (1.0, 1.0))
    assert sp.hit_rate == 7 / 8
    assert sp.steps[("0", "RUN install deps", 0)].status == "RUN"


def test_trend_marks_regressions_and_new_baselines():
    from cacheprof.analysis.trends import trends

    new = BaselineKey(machine=KEY.machine, engine_version="27.0.0", builder="buildkit")
    pts = [point(1), point(2), point(3), point(4, warm=(0.6, 0.6), warm_st="CCCRRR"), point(5, key=new)]
    (cold, warm) = trends({("app", "default"): pts})
    assert [p.marks for p in warm.points] == [(), (), (), ("cache regression",), ()]
    assert [p.new_baseline for p in warm.points] == [False, False, False, False, True]
    assert [p.baseline_s for p in warm.points] == [None, 0.5, 0.5, 0.5, None]
    assert [p.hit_rate for p in warm.points][3] == 0.25 and cold.points[0].hit_rate == 0.0
    # cache saved: warm steps took 0 s where cold took 1 s each (run 1); in run 4 three of four ran again
    assert warm.points[0].cache_saved == 1.0 and warm.points[3].cache_saved == 0.25
    assert [r.label for r in warm.grid] == ["L3 COPY deps.txt .", "L4 RUN install deps", "L5 COPY . .",
                                            "L6 RUN build app"]
    assert warm.grid[1].states == ("CACHED", "CACHED", "CACHED", "RUN", "CACHED") and cold.grid == ()
