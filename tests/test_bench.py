"""`cacheprof bench` without Docker: regression checks with known answers, strict history loading, suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cacheprof.analysis.regressions import check_regressions
from cacheprof.errors import InputFormatError, UsageError
from cacheprof.store.bench_history import (
    BenchmarkResult,
    BenchResult,
    ScenarioResult,
    load_history,
)
from cacheprof.store.bench_results import BENCH_SCHEMA, load_suite, result_dict, write_result
from cacheprof.store.profile_json import loads

from .conftest import DATA

HERE = {"hostname": "vm", "cpus": "2"}


def result(n: int, cold: float, *, warm: float = 0.5, warm_hit: float = 1.0, ok: bool = True,
           machine: dict[str, str] | None = None, builder: str = "buildkit") -> BenchResult:
    """Run number n of benchmark 'app' (created times sort by n)."""
    return BenchResult(
        id=f"r{n}", created=f"2026-01-{n:02d}T00:00:00.000000+00:00", machine=machine or HERE,
        benchmarks={"app": BenchmarkResult(builder=builder, scenarios={
            "cold": ScenarioResult(builds=2, ok=2 if ok else 1, median_s=cold, hit_rate=0.4),
            "warm": ScenarioResult(builds=2, ok=2, median_s=warm, hit_rate=warm_hit),
        })},
    )


def test_slower_beyond_both_thresholds_is_flagged():
    history = [result(i, 4.0) for i in range(1, 4)]
    messages = check_regressions(history, result(9, 5.0))
    assert len(messages) == 1
    assert "app cold" in messages[0] and "5.00 s" in messages[0] and "4.00 s" in messages[0]


def test_within_noise_is_not_flagged():
    history = [result(i, 4.0) for i in range(1, 4)]
    assert check_regressions(history, result(9, 4.3)) == []  # +7.5%: under the ratio
    # +0.4 s is +40% of a 1 s build, but under min_seconds
    assert check_regressions([result(1, 1.0)], result(9, 1.4)) == []
    assert check_regressions([result(1, 4.0)], result(9, 3.0)) == []  # faster


def test_no_history_no_messages():
    assert check_regressions([], result(1, 100.0)) == []


def test_other_machine_and_other_builder_are_ignored():
    other = {"hostname": "big", "cpus": "64"}
    history = [result(1, 1.0, machine=other), result(2, 1.0, machine={"hostname": "vm", "cpus": "8"}),
               result(3, 1.0, builder="classic")]
    assert check_regressions(history, result(9, 5.0)) == []


def test_later_results_are_not_earlier():
    assert check_regressions([result(10, 1.0)], result(9, 5.0)) == []


def test_hit_rate_drop_is_flagged():
    messages = check_regressions([result(1, 4.0)], result(2, 4.0, warm_hit=0.8))
    assert messages == ["app warm: cache hit rate dropped to 80%, was 100%"]


def test_new_failure_is_flagged():
    messages = check_regressions([result(1, 4.0)], result(2, 4.0, ok=False))
    assert messages == ["app cold: now fails (1 of 2 builds ok), built ok before"]
    # failing before and now is no new regression
    assert check_regressions([result(1, 4.0, ok=False)], result(2, 4.0, ok=False)) == []


def test_window_is_respected():
    # Three old fast runs, then two at the current speed.
    history = [result(1, 1.0), result(2, 1.0), result(3, 1.0), result(4, 5.0), result(5, 5.0)]
    assert check_regressions(history, result(9, 5.0), window=2) == []  # sees only the recent ones
    messages = check_regressions(history, result(9, 5.0), window=5)  # median of 1, 1, 1, 5, 5 is 1
    assert len(messages) == 1 and "was 1.00 s (median of 5 earlier runs)" in messages[0]
    # an older run beyond the window does not count: the last 5 of 1, 5, 5, 5, 5, 5
    recent = [result(1, 1.0), *(result(i, 5.0) for i in range(2, 7))]
    assert check_regressions(recent, result(9, 5.0), window=5) == []


# --- history files -----------------------------------------------------------------------------


def write_real(folder: Path, stamp: str, run_id: str) -> Path:
    profile = loads((DATA / "streams" / "buildkit-python-app" / "live-profile.json").read_text())
    data = result_dict(run_id=run_id, created=f"2026-01-01T00:00:{stamp}.000000+00:00", suite=folder / "s.toml",
                       machine=dict(profile.machine), engine=profile.engine, profiles={"app": profile})
    return write_result(folder, f"2026{stamp}", data)


def test_history_loads_real_profiles_sorted(tmp_path):
    write_real(tmp_path, "02", "b")
    write_real(tmp_path, "01", "a")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "x.json").write_text("not history")  # not recursive
    history = load_history(tmp_path)
    assert [h.id for h in history] == ["a", "b"]
    app = history[0].benchmarks["app"]
    assert app.builder == "buildkit"
    assert app.scenarios["warm"] == ScenarioResult(builds=1, ok=1, median_s=0.5436, hit_rate=1.0)
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["schema"] == BENCH_SCHEMA
    assert load_history(tmp_path / "missing") == []


def test_truncated_history_file_names_the_file(tmp_path):
    path = write_real(tmp_path, "01", "a")
    path.write_text(path.read_text()[:500])
    with pytest.raises(InputFormatError, match=rf"history file {path}: not valid JSON.*truncated"):
        load_history(tmp_path)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["benchmarks"][0]["summary"]["cold"].update(median_total_s="fast"), "median_total_s"),
    (lambda d: d["machine"].update(cpus=2), "machine.cpus"),
    (lambda d: d.update(schema="cacheprof/bench/v9"), "schema"),
    (lambda d: d["benchmarks"][0]["profile"]["builds"][0].update(ok="yes"), "builds[0].ok"),
    (lambda d: d.pop("created"), "created"),
])
def test_wrong_field_names_the_file_and_field(tmp_path, edit, field):
    path = write_real(tmp_path, "01", "a")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InputFormatError) as e:
        load_history(tmp_path)
    assert str(path) in str(e.value) and field in str(e.value) and "\n" not in str(e.value)


# --- suites ------------------------------------------------------------------------------------


def suite(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_suite_defaults_and_relative_paths(tmp_path):
    path = suite(tmp_path, '[[benchmark]]\nname = "a"\ncontext = "ctx"\n\n'
                           '[[benchmark]]\nname = "b"\ncontext = "ctx"\ndockerfile = "ctx/D"\n'
                           'scenarios = ["cold"]\nrepeat = 1\nbuilder = "classic"\n')
    a, b = load_suite(path)
    assert (a.context, a.dockerfile, a.scenarios, a.repeat, str(a.builder)) == (tmp_path / "ctx", None, (), 3,
                                                                                 "buildkit")
    assert (b.dockerfile, b.scenarios, b.repeat, str(b.builder)) == (tmp_path / "ctx" / "D", ("cold",), 1, "classic")


def test_bundled_nightly_suite_parses():
    benchmarks = load_suite(Path(__file__).resolve().parent.parent / "benchmarks" / "nightly.toml")
    assert len(benchmarks) == 3 and all(b.context.is_dir() for b in benchmarks)


@pytest.mark.parametrize(("text", "says"), [
    (None, "suite file not found"),
    ('[[benchmark]\nname = "a"', "not valid TOML"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nrepeats = 2\n', "unknown key 'repeats'"),
    ('[[benchmark]]\ncontext = "."\n', "'name' is missing"),
    ('[[benchmark]]\nname = "a"\n', "'context' is missing"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nrepeat = 0\n', "'repeat'"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nbuilder = "kaniko"\n', "'builder'"),
    ('[[benchmark]]\nname = "a/b"\ncontext = "."\n', "name may hold only"),
    ('title = "x"\n', "unknown top-level key"),
])
def test_bad_suite_is_one_clear_line(tmp_path, text, says):
    path = tmp_path / "missing.toml" if text is None else suite(tmp_path, text)
    with pytest.raises(UsageError, match=says) as e:
        load_suite(path)
    assert "\n" not in str(e.value) and e.value.exit_code == 2
