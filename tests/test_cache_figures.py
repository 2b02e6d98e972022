"""One definition of the figures every command prints (issue 8, items 2 and 4).

Expected values are worked out by hand in the comments, never with the code's own formula.
"""

from __future__ import annotations

import json

import pytest

from cacheprof.analysis.profile_stats import analyze
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.store import profile_json
from tests.conftest import DATA

C, R, E = StepStatus.CACHED, StepStatus.RUN, StepStatus.ERROR


def _build(scenario: str, repeat: int, steps: list[tuple[str, StepStatus, float]], total: float,
           ok: bool = True) -> Build:
    out = []
    t = 100.0
    for i, (instr, st, d) in enumerate(steps, 1):
        out.append(Step(i, "0", i, i, instr, st, t, t + d, d))
        t += d
    return Build(scenario, repeat, ok, None if ok else "exit code: 1", total, None, tuple(out), (), 100.0)


# FROM, WORKDIR, ENV do no work; a --no-cache build marks FROM (and on BuildKit WORKDIR) CACHED.
COLD = [("FROM busybox:1.36", C, 0.0), ("WORKDIR /app", C, 0.0), ("ENV A=1", C, 0.0),
        ("RUN sleep 3", R, 3.0), ("COPY . .", R, 1.0), ("RUN make", R, 1.0)]
WARM = [(i, C, 0.01) for i, _, _ in COLD]
# An edit that invalidates `COPY . .`: the 3 s install stays cached.
EDIT = [(i, C, 0.0) for i, _, _ in COLD[:4]] + [("COPY . .", R, 1.0), ("RUN make", R, 1.0)]


def _profile(*builds: Build) -> Profile:
    return Profile(builder="buildkit", dockerfile="Dockerfile", context=".", builds=builds,
                   scenarios=tuple(dict.fromkeys(b.scenario for b in builds)))


def test_cold_build_reads_zero_percent_and_only_run_copy_add_count():
    b = _build("cold", 1, COLD, 5.5)
    assert b.hit_rate == 0.0  # 0 of 3 work steps cached; FROM/WORKDIR/ENV left out
    assert _build("warm", 1, WARM, 0.5).hit_rate == 1.0
    assert _build("edit:x", 1, EDIT, 2.5).hit_rate == pytest.approx(1 / 3)  # RUN sleep cached of 3


def test_hit_rate_is_the_same_on_both_builders_for_the_same_dockerfile():
    # Real streams of one Dockerfile (FROM, WORKDIR, COPY, RUN, COPY, CMD) built on each builder: the
    # classic builder counts WORKDIR and CMD as steps, BuildKit calls WORKDIR cached on a cold build.
    rates = {}
    for builder in ("classic", "buildkit"):
        p = profile_json.loads((DATA / "streams" / f"{builder}-python-app" / "live-profile.json").read_text())
        summary = json.loads(profile_json.dumps(p))["summary"]
        rates[builder] = {name: s["hit_rate"] for name, s in summary.items()}
    # cold: none of COPY, RUN, COPY cached; warm: all three; an app edit: COPY requirements + RUN of 3.
    expected = {"cold": 0.0, "warm": 1.0, "edit:app/main.py": 0.6667}
    assert rates["classic"] == expected
    assert rates["buildkit"] == expected


def test_cache_saved_is_seconds_saved_over_the_same_steps_cold():
    p = _profile(_build("cold", 1, COLD, 5.5), _build("warm", 1, WARM, 0.5), _build("edit:x", 1, EDIT, 2.5))
    doc = json.loads(profile_json.dumps(p))
    # work steps take 3 + 1 + 1 = 5 s cold; warm skips all 5 s, the edit skips the 3 s install.
    assert doc["summary"]["cold"]["cache_saved"] == 0.0
    assert doc["summary"]["warm"]["cache_saved"] == 1.0
    assert doc["summary"]["edit:x"]["cache_saved"] == 0.6
    assert doc["summary"]["edit:x"]["cache_saved_s"] == 3.0
    a = analyze(p)
    assert a.scenarios.loc["edit:x", "cache_saved"] == pytest.approx(0.6)
    assert a.scenarios.loc["edit:x", "hit_rate"] == pytest.approx(1 / 3)


def test_no_cold_build_means_no_cache_saved_figure():
    doc = json.loads(profile_json.dumps(_profile(_build("warm", 1, WARM, 0.5))))
    assert doc["summary"]["warm"]["cache_saved"] is None
    assert doc["summary"]["warm"]["hit_rate"] == 1.0


def test_failed_builds_never_enter_a_time_statistic():
    failed = _build("cold", 2, [*COLD[:3], ("RUN sleep 3", E, 0.2)], 0.4, ok=False)
    p = _profile(_build("cold", 1, COLD, 5.5), failed, _build("cold", 3, COLD, 6.5),
                 _build("warm", 1, WARM, 0.5))
    doc = json.loads(profile_json.dumps(p))
    s = doc["summary"]["cold"]
    # ok builds 5.5 and 6.5: median 6.0 (with the failed 0.4 it would be 5.5)
    assert (s["median_total_s"], s["ok"], s["builds"]) == (6.0, 2, 3)
    a = analyze(p)
    sc = a.scenarios
    assert sc.loc["cold", "median_total_s"] == 6.0
    assert (sc.loc["cold", "min_total_s"], sc.loc["cold", "max_total_s"]) == (5.5, 6.5)
    # saved vs cold: 6.0 - 0.5
    assert sc.loc["warm", "time_saved_s"] == pytest.approx(5.5)
    # the per-step median of `RUN sleep 3` in cold: 3.0 (the failed build's 0.2 s ERROR is left out)
    ps = a.per_step
    row = ps[(ps["scenario"] == "cold") & (ps["position"] == 4)].iloc[0]
    assert row["median_s"] == 3.0 and row["n"] == 2
    # ...but the ERROR still shows in the statuses
    assert "ERROR" in row["statuses"]
    assert any("2 of 3" in line or "2/3" in line for line in a.summary_lines), a.summary_lines


def test_v1_profiles_still_load():
    text = (DATA / "streams" / "buildkit-python-app" / "live-profile.json").read_text()
    assert json.loads(text)["schema"] == "cacheprof/profile/v1"
    p = profile_json.loads(text)
    assert json.loads(profile_json.dumps(p))["schema"] == "cacheprof/profile/v2"


def test_the_ci_summary_leaves_failed_builds_out_of_step_times():
    from cacheprof.render.summary import profile_summary

    slow = [*COLD[:3], ("RUN sleep 3", R, 4.0), *COLD[4:]]
    failed = _build("cold", 2, [*COLD[:3], ("RUN sleep 3", E, 0.2)], 0.4, ok=False)
    p = _profile(_build("cold", 1, COLD, 5.5), failed, _build("cold", 3, slow, 6.5))
    text = profile_summary(p, analyze(p))
    row = next(line for line in text.splitlines() if line.startswith("| 4 |") and "RUN sleep 3" in line)
    # ok builds ran it in 3.0 and 4.0 s: median 3.5 (with the failed 0.2 s it would be 3.0)
    assert "3.50" in row, row


def test_the_terminal_step_medians_leave_failed_builds_out():
    from cacheprof.render.terminal import step_rows

    slow = [*COLD[:3], ("RUN sleep 3", R, 4.0), *COLD[4:]]
    failed = _build("cold", 2, [*COLD[:3], ("RUN sleep 3", E, 0.2)], 0.4, ok=False)
    rows = step_rows([_build("cold", 1, COLD, 5.5), failed, _build("cold", 3, slow, 6.5)])
    row = next(r for r in rows if r.instruction == "RUN sleep 3")
    # ok builds: 3.0 and 4.0 s, median 3.5; the ERROR still shows among the statuses
    assert row.median_s == 3.5 and "ERROR" in row.statuses
    # one build alone (a parsed log that failed) keeps its own times
    (alone,) = [r for r in step_rows([failed]) if r.instruction == "RUN sleep 3"]
    assert alone.median_s == 0.2
