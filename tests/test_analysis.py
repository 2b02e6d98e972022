"""analysis.py on hand-built profiles whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cacheprof.analysis.profile_stats import (
    STEP_COLUMNS,
    analyze,
    critical_path,
    edit_impacts,
    median_interval,
    steps_csv,
    steps_frame,
)
from cacheprof.model import Build, InternalVertex, Profile, Step, StepStatus

C, R, E = StepStatus.CACHED, StepStatus.RUN, StepStatus.ERROR
INSTR = ["FROM python:3.12-slim", "COPY requirements.txt .", "RUN pip install -r requirements.txt",
         "COPY src/ ./src/"]


def build(scenario: str, repeat: int, statuses: list[StepStatus], durations: list[float], total: float,
          *, ok: bool = True) -> Build:
    """A single-stage build whose steps run one after another from t=100."""
    t, steps = 100.0, []
    for i, (st, d) in enumerate(zip(statuses, durations, strict=True)):
        steps.append(Step(index=i + 1, stage="0", position=i + 1, line=i + 1, instruction=INSTR[i],
                          status=st, started=t, finished=t + d, duration_s=d))
        t += d
    # Internal vertices never count as steps: one that "ran" must not lower the hit rate.
    internal = (InternalVertex(name="[internal] load build context", cached=False, duration_s=0.1),)
    return Build(scenario=scenario, repeat=repeat, ok=ok, error=None if ok else "boom", duration_s=total,
                 image_id=None, steps=tuple(steps), internal=internal, started=100.0)


def sample_profile() -> Profile:
    builds = [
        # cold: every step runs; totals 10, 12, 11 -> median 11
        build("cold", 0, [R, R, R, R], [1.0, 0.5, 4.0, 1.0], 10.0),
        build("cold", 1, [R, R, R, R], [1.2, 0.5, 5.0, 1.0], 12.0),
        build("cold", 2, [R, R, R, R], [1.1, 0.5, 6.0, 1.0], 11.0),
        # warm: all cached; totals 1, 1, 2 -> median 1
        build("warm", 0, [C, C, C, C], [0.01, 0.01, 0.01, 0.01], 1.0),
        build("warm", 1, [C, C, C, C], [0.01, 0.01, 0.01, 0.01], 1.0),
        build("warm", 2, [C, C, C, C], [0.01, 0.01, 0.01, 0.01], 2.0),
        # a source edit invalidates only the last step
        build("edit:src/", 0, [C, C, C, R], [0.0, 0.0, 0.0, 1.0], 2.0),
        build("edit:src/", 1, [C, C, C, R], [0.0, 0.0, 0.0, 1.1], 2.2),
        build("edit:src/", 2, [C, C, C, R], [0.0, 0.0, 0.0, 0.9], 1.8),
        # a requirements edit: from step 2 on, and pip is noisy (1, 3, 0.5 s)
        build("edit:requirements.txt", 0, [C, R, R, R], [0.0, 0.5, 1.0, 1.0], 3.0),
        build("edit:requirements.txt", 1, [C, R, R, R], [0.0, 0.5, 3.0, 1.0], 5.0),
        build("edit:requirements.txt", 2, [C, R, R, R], [0.0, 0.5, 0.5, 1.0], 2.5),
    ]
    return Profile(builder="buildkit", dockerfile="Dockerfile", context=".", builds=tuple(builds),
                   scenarios=("cold", "warm", "edit:src/", "edit:requirements.txt"))


def row(per_step: pd.DataFrame, scenario: str, key: tuple[str, int]) -> pd.Series:
    (i,) = [i for i, (s, k) in enumerate(zip(per_step["scenario"], per_step["key"], strict=True))
            if s == scenario and k == key]
    return per_step.iloc[i]


@pytest.fixture(scope="module")
def analysis():
    return analyze(sample_profile())


def test_steps_frame_is_tidy():
    df = steps_frame(sample_profile())
    assert list(df.columns) == STEP_COLUMNS
    assert len(df) == 12 * 4
    first = df.iloc[0]
    assert (first["scenario"], first["repeat"], first["index"], first["stage"], first["position"]) == (
        "cold", 0, 1, "0", 1)
    assert first["status"] == "RUN" and first["build_ok"]
    assert first["duration_s"] == pytest.approx(1.0)
    csv = steps_csv(sample_profile())
    assert csv.splitlines()[0] == ",".join(STEP_COLUMNS)
    assert len(csv.splitlines()) == 49


def test_duration_falls_back_to_timestamps():
    s = Step(index=1, stage="0", position=1, line=1, instruction="RUN x", status=R, started=5.0, finished=7.5)
    p = Profile(builder="classic", dockerfile="D", context=".",
                builds=(Build("cold", 0, True, None, 3.0, None, (s,)),))
    assert steps_frame(p)["duration_s"].tolist() == [2.5]


def test_scenario_medians_spread_and_hit_rate(analysis):
    sc = analysis.scenarios
    assert list(sc.index) == ["cold", "warm", "edit:src/", "edit:requirements.txt"]
    cold = sc.loc["cold"]
    assert cold["median_total_s"] == 11.0
    assert (cold["min_total_s"], cold["max_total_s"]) == (10.0, 12.0)
    assert cold["iqr_total_s"] == pytest.approx(1.0)
    assert cold["stdev_total_s"] == pytest.approx(1.0)
    assert cold["hit_rate"] == 0.0
    assert sc.loc["warm", "hit_rate"] == 1.0  # the uncached internal vertex does not count
    # FROM does no work and is not counted: COPY, RUN cached and COPY src/ rebuilt -> 2 of 3 per build
    assert sc.loc["edit:src/", "hit_rate"] == pytest.approx(6 / 9)
    assert sc.loc["edit:requirements.txt", "hit_rate"] == 0.0


def test_time_saved_against_cold(analysis):
    sc = analysis.scenarios
    assert sc.loc["cold", "time_saved_s"] == 0.0
    assert sc.loc["warm", "time_saved_s"] == pytest.approx(10.0)
    assert sc.loc["edit:src/", "time_saved_s"] == pytest.approx(9.0)
    # pip: cold median 5.0 s, warm 0.01 s
    assert row(analysis.per_step, "warm", ("0", 3))["time_saved_s"] == pytest.approx(4.99)
    assert row(analysis.per_step, "cold", ("0", 3))["median_s"] == 5.0


def test_no_cold_scenario_means_no_time_saved():
    p = sample_profile()
    p = Profile(builder=p.builder, dockerfile=p.dockerfile, context=p.context,
                builds=tuple(b for b in p.builds if b.scenario != "cold"))
    a = analyze(p)
    assert a.cold is None
    assert a.scenarios["time_saved_s"].isna().all()
    assert a.per_step["time_saved_s"].isna().all()


def test_first_invalidated_step_and_rebuild_cost(analysis):
    edits = {e.scenario: e for e in analysis.edits}
    assert list(edits) == ["edit:src/", "edit:requirements.txt"]
    src = edits["edit:src/"]
    assert src.first_invalidated == ("0", 4)
    assert src.first_invalidated_label == "4 COPY src/ ./src/"
    assert src.consistent
    assert src.median_total_s == pytest.approx(2.0)
    assert src.median_run_step_s == pytest.approx(1.0)
    assert (src.median_steps_rebuilt, src.steps_total) == (1.0, 4)
    req = edits["edit:requirements.txt"]
    assert req.first_invalidated == ("0", 2)
    assert req.median_run_step_s == pytest.approx(2.5)  # 0.5 + 1.0 + 1.0
    assert req.median_steps_rebuilt == 3.0


def test_first_invalidated_counts_error_and_arg_scenarios():
    b = build("arg:VERSION=2", 0, [C, C, E, R], [0, 0, 1.0, 2.0], 3.5, ok=False)
    (impact,) = edit_impacts(Profile(builder="buildkit", dockerfile="D", context=".", builds=(b,)))
    assert impact.first_invalidated == ("0", 3)
    # the only build failed: no time figure
    assert impact.median_run_step_s is None and impact.median_total_s is None and impact.ok == 0


def test_repetitions_that_disagree_are_marked_inconsistent():
    builds = (build("edit:x", 0, [C, C, C, R], [0, 0, 0, 1], 1), build("edit:x", 1, [C, C, R, R], [0, 0, 1, 1], 2))
    (impact,) = edit_impacts(Profile(builder="buildkit", dockerfile="D", context=".", builds=builds))
    assert impact.first_invalidated == ("0", 3)  # the earliest over repetitions
    assert not impact.consistent


def test_three_repetitions_give_a_range_never_a_95_percent_interval(analysis):
    pip = row(analysis.per_step, "cold", ("0", 3))  # 4, 5, 6 s
    # 3 values: [min, max] covers the median with 1 - 2/2^3 = 75%, and is called a range.
    assert (pip["ci_low_s"], pip["ci_high_s"]) == (4.0, 6.0)
    assert pip["ci_coverage"] == 0.75 and pip["ci_is_range"] and pip["n"] == 3


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # n=5: [min, max] covers 1 - 2/32 = 93.75% < 95%: a range
        ([5.0, 1.0, 4.0, 2.0, 3.0], (1.0, 5.0, 0.9375, True)),
        # n=6: 1 - 2/64 = 96.875%
        ([6.0, 1.0, 5.0, 2.0, 4.0, 3.0], (1.0, 6.0, 0.96875, False)),
        # n=7 sorted 2.0 3.1 3.3 3.8 4.2 5.5 9.0: k=2 would cover 1 - 2*8/128 = 87.5%, so k=1 (98.4375%)
        ([3.1, 2.0, 5.5, 4.2, 3.3, 9.0, 3.8], (2.0, 9.0, 0.984375, False)),
        # n=10: k=2 covers 1 - 2*11/1024 = 97.85%, k=3 only 1 - 2*56/1024 = 89.06%: [x2, x9]
        ([float(i) for i in range(10, 0, -1)], (2.0, 9.0, 1 - 22 / 1024, False)),
    ],
)
def test_order_statistic_interval_of_the_median(values, expected):
    iv = median_interval(values)
    assert (iv.low_s, iv.high_s, iv.coverage, iv.is_range) == pytest.approx(expected)
    assert iv.n == len(values)


def test_median_interval_coverage_holds_by_simulation():
    # Skewed data (exponential, true median ln 2): the stated coverage must be what happens.
    rng = np.random.default_rng(7)
    for n, expected in ((5, 0.9375), (10, 1 - 22 / 1024)):
        trials = 20000
        hits = 0
        for sample in rng.exponential(size=(trials, n)):
            iv = median_interval(sample.tolist())
            hits += iv.low_s <= math.log(2) <= iv.high_s
        assert abs(hits / trials - expected) < 0.01, (n, hits / trials)
        assert median_interval([1.0] * n).coverage == pytest.approx(expected)


def test_interval_absent_below_three_repetitions():
    p = Profile(builder="buildkit", dockerfile="D", context=".",
                builds=(build("cold", 0, [R] * 4, [1, 1, 1, 1], 4), build("cold", 1, [R] * 4, [2, 2, 2, 2], 8)))
    ps = analyze(p).per_step
    assert ps["ci_low_s"].isna().all() and ps["median_s"].tolist() == [1.5] * 4
    assert median_interval([1.0, 2.0]) is None


def test_noisy_steps(analysis):
    assert row(analysis.per_step, "edit:requirements.txt", ("0", 3))["noisy"]  # 1, 3, 0.5 s
    assert not row(analysis.per_step, "cold", ("0", 3))["noisy"]  # 4, 5, 6 s: cv 0.2
    assert not row(analysis.per_step, "cold", ("0", 1))["noisy"]
    # Varies a lot relatively but by under 0.2 s: not worth a flag.
    p = Profile(builder="buildkit", dockerfile="D", context=".", builds=tuple(
        build("cold", i, [R] * 4, [d, 1, 1, 1], 4) for i, d in enumerate([0.01, 0.1, 0.05])))
    first = row(analyze(p).per_step, "cold", ("0", 1))
    assert first["cv"] > 0.5 and not first["noisy"]
    assert int(analysis.per_step["noisy"].sum()) == 1


def test_unstable_steps():
    builds = (build("warm", 0, [C, C, C, C], [0] * 4, 1), build("warm", 1, [C, C, R, C], [0, 0, 3, 0], 4),
              build("warm", 2, [C, C, C, C], [0] * 4, 1))
    ps = analyze(Profile(builder="buildkit", dockerfile="D", context=".", builds=builds)).per_step
    flagged = ps[ps["unstable"]]
    assert flagged["key"].tolist() == [("0", 3)]
    assert flagged["statuses"].tolist() == ["CACHED,RUN"]
    assert flagged["status_mode"].tolist() == ["CACHED"]


def _step(i: int, stage: str, pos: int, start: float, end: float, instr: str) -> Step:
    return Step(index=i, stage=stage, position=pos, line=i, instruction=instr, status=R, started=start,
                finished=end, duration_s=end - start)


def test_critical_path_on_overlapping_stages():
    # builder: b1 [0,1] -> b2 [1,6];  app: a1 [0,0.5] -> a2 [0.5,2];  final a3 [6,7] copies from builder.
    steps = (
        _step(1, "builder", 1, 0.0, 1.0, "FROM gcc AS builder"),
        _step(2, "app", 1, 0.0, 0.5, "FROM debian"),
        _step(3, "builder", 2, 1.0, 6.0, "RUN make"),
        _step(4, "app", 2, 0.5, 2.0, "RUN apt-get install -y curl"),
        _step(5, "app", 3, 6.0, 7.0, "COPY --from=builder /out /app"),
    )
    b = Build("cold", 0, True, None, 7.3, None, steps)
    cp = critical_path(b)
    assert cp is not None
    assert cp.steps == (("builder", 1), ("builder", 2), ("app", 3))
    assert cp.path_s == pytest.approx(7.0)
    assert cp.span_s == pytest.approx(7.0)
    assert cp.step_time_s == pytest.approx(9.0)  # more than the wall time: stages overlapped
    assert cp.wall_s == 7.3
    assert cp.parallel
    a = analyze(Profile(builder="buildkit", dockerfile="D", context=".", builds=(b,)))
    assert a.critical_paths[0].labels[-1] == "app/3 COPY --from=builder /out /app"
    assert "critical path is 7.0 s" in a.summary and "add up to 9.0 s" in a.summary


def test_critical_path_of_sequential_build_is_every_step(analysis):
    cold = next(p for p in analysis.critical_paths if p.scenario == "cold")
    assert cold.repeat == 0
    assert cold.steps == (("0", 1), ("0", 2), ("0", 3), ("0", 4))
    assert not cold.parallel
    assert cold.path_s == pytest.approx(cold.step_time_s)


def test_critical_path_needs_timestamps():
    s = Step(index=1, stage="0", position=1, line=1, instruction="RUN x", status=R, duration_s=1.0)
    assert critical_path(Build("cold", 0, True, None, 1.0, None, (s,))) is None


def test_plain_words_summary(analysis):
    text = analysis.summary
    assert text.startswith("A change to `requirements.txt` rebuilds 3 of 4 steps and costs 3.0 s")
    assert ("a change under `src/` rebuilds 1 of 4 steps and costs 2.0 s "
            "(first invalidated: `4 COPY src/ ./src/`)") in text
    assert "cold build 11.0 s" in text
    assert "the cache saves 10.0 s on a warm rebuild" in text
    assert "1 step timing is noisy across repetitions" in text
    assert text.endswith(".")


def test_invalidation_map(analysis):
    grid = analysis.invalidation_map()
    assert list(grid.index) == ["edit:src/", "edit:requirements.txt"]
    assert list(grid.columns) == ["1 FROM python:3.12-slim", "2 COPY requirements.txt .",
                                  "3 RUN pip install -r requirements.txt", "4 COPY src/ ./src/"]
    assert grid.loc["edit:src/"].tolist() == ["CACHED", "CACHED", "CACHED", "RUN"]
    assert grid.loc["edit:requirements.txt"].tolist() == ["CACHED", "RUN", "RUN", "RUN"]


def test_steps_matched_by_stage_and_position_not_digest_or_index():
    # The same step can get another index (classic builder numbering after an ARG edit): key wins.
    a = build("cold", 0, [R, R, R, R], [1, 1, 1, 1], 4)
    shifted = tuple(Step(**{**s.__dict__, "index": s.index + 10}) for s in a.steps)
    b = Build("cold", 1, True, None, 4, None, shifted)
    ps = analyze(Profile(builder="classic", dockerfile="D", context=".", builds=(a, b))).per_step
    assert len(ps) == 4 and ps["runs"].tolist() == [2] * 4


def test_empty_profile():
    a = analyze(Profile(builder="buildkit", dockerfile="D", context=".", builds=()))
    assert a.steps.empty and a.scenarios.empty and a.per_step.empty
    assert a.edits == () and a.critical_paths == ()
    assert a.summary == "No builds were measured."
    assert isinstance(a.invalidation_map(), pd.DataFrame)


def test_failed_builds_are_counted():
    p = Profile(builder="buildkit", dockerfile="D", context=".", builds=(
        build("cold", 0, [R, R, E, C], [1, 1, 1, 0], 3, ok=False), build("cold", 1, [R] * 4, [1] * 4, 4)))
    a = analyze(p)
    assert a.scenarios.loc["cold", "ok"] == 1
    assert "1 of 2 builds failed" in a.summary
    assert not math.isnan(a.scenarios.loc["cold", "median_total_s"])
