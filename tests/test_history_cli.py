"""`cacheprof history` and bench's outputs without an engine: import of the JSON history folders that
earlier versions wrote (lossless), list/show/export, the report and summary, the dashboard exports
checked against the shapes those projects document, and bad input."""

from __future__ import annotations

import csv
import io
import json
import socket

import jsonschema
import pytest

from cacheprof.analysis.regressions import DEFAULT_THRESHOLDS, check_run, series_from_rows
from cacheprof.analysis.trends import trends
from cacheprof.render.bench_summary import export_bmf, export_gab, summary_markdown
from cacheprof.store.history_db import open_history
from cacheprof.store.profile_json import loads, profile_to_dict

from .conftest import DATA
from .history_helpers import fresh_postgres_database, simple_run
from .test_profile_docker import run_cli

# Bencher's published JSON schema for BMF (its docs' "Bencher Metric Format (BMF) JSON Schema").
BMF_SCHEMA = {
    "type": "object",
    "patternProperties": {".+": {"type": "object", "patternProperties": {".+": {
        "type": "object",
        "properties": {"value": {"type": "number"}, "lower_value": {"type": "number"},
                       "upper_value": {"type": "number"}},
        "required": ["value"]}}}},
}
# github-action-benchmark's BenchmarkResult (src/extract.ts), which customSmallerIsBetter reads as a list.
GAB_SCHEMA = {
    "type": "array",
    "items": {"type": "object", "required": ["name", "value", "unit"],
              "properties": {"name": {"type": "string"}, "value": {"type": "number"}, "unit": {"type": "string"},
                             "range": {"type": "string"}, "extra": {"type": "string"}},
              "additionalProperties": False},
}


def old_result_file(folder, stamp: str, short: str, created: str):
    """A result file exactly as `bench` wrote it before the database (cacheprof/bench/v1, no uid)."""
    profile = loads((DATA / "streams" / "buildkit-python-app" / "live-profile.json").read_text())
    doc = {"schema": "cacheprof/bench/v1", "id": short, "created": created, "suite": "/s/nightly.toml",
           "commit": "0123456789abcdef0123456789abcdef01234567", "machine": dict(profile.machine),
           "engine": {"version": profile.engine.version, "api_version": profile.engine.api_version,
                      "os": "linux", "arch": "amd64", "host": "unix:///var/run/docker.sock"},
           "benchmarks": [{"name": "app", "builder": "buildkit", "summary": {}, "profile": profile_to_dict(profile)}]}
    path = folder / f"{stamp}-{short}.json"
    path.write_text(json.dumps(doc, indent=1))
    return path, doc


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An empty history: a SQLite file, or a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "h.sqlite")
    else:
        yield from fresh_postgres_database()


def test_import_of_an_old_history_folder_is_lossless(tmp_path, store):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "reports").mkdir()  # report folders inside the old history are not results
    docs = [old_result_file(folder, f"2026010{i}T000000Z", f"a{i}", f"2026-01-0{i}T00:00:00.000000+00:00")[1]
            for i in (1, 2)]
    history = store
    r = run_cli("history", "import", str(folder), "--history", str(history))
    assert r.returncode == 0, r.stderr
    assert "imported 2 run(s)" in r.stdout
    again = run_cli("history", "import", str(folder), "--history", str(history))
    assert "imported 0 run(s)" in again.stdout and "2 already there" in again.stdout
    for i, doc in enumerate(docs, 1):
        shown = run_cli("history", "show", f"2026010{i}T000000Z-a{i}", "--format", "json", "--history", str(history))
        assert shown.returncode == 0, shown.stderr
        back = json.loads(shown.stdout)
        assert back["benchmarks"][0]["profile"] == doc["benchmarks"][0]["profile"]
        for key in ("created", "commit", "machine", "suite"):
            assert back[key] == doc[key]
        assert back["engine"]["version"] == doc["engine"]["version"]
    # export --json is what import reads: a second history made from it holds the same runs
    exported = tmp_path / "all.jsonl"
    assert run_cli("history", "export", "--json", "--out", str(exported), "--history", str(history)).returncode == 0
    copy = tmp_path / "copy.sqlite"
    assert run_cli("history", "import", str(exported), "--history", str(copy)).returncode == 0
    with open_history(history) as a, open_history(copy) as b:
        assert [r.results for r in a.iter_runs()] == [r.results for r in b.iter_runs()]
        assert a.count_rows() == b.count_rows()


def test_import_of_a_broken_file_adds_nothing(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    old_result_file(folder, "20260101T000000Z", "a1", "2026-01-01T00:00:00.000000+00:00")
    bad, _ = old_result_file(folder, "20260102T000000Z", "a2", "2026-01-02T00:00:00.000000+00:00")
    bad.write_text(bad.read_text()[:300])
    history = tmp_path / "h.sqlite"
    r = run_cli("history", "import", str(folder), "--history", str(history))
    assert r.returncode == 2 and str(bad) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not history.exists() or open_history(history).count_rows()["runs"] == 0


@pytest.fixture
def filled(store):
    path = store
    with open_history(path) as db:
        for n in (1, 2, 3):
            db.add_run(simple_run(n))
        db.add_run(simple_run(4, warm_s=0.6, warm_statuses="CCCRRR"))
    return path


def test_list_show_and_csv_export(filled):
    listed = run_cli("history", "list", "--history", str(filled))
    assert listed.returncode == 0
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("20260101T000000Z-r0001") and "4/4 builds ok" in lines[0]
    shown = run_cli("history", "show", "20260104", "--history", str(filled))
    assert shown.returncode == 0 and "RUN install deps" in shown.stdout and "load 0.50 0.40 0.30" in shown.stdout
    out = run_cli("history", "export", "--csv", "--history", str(filled))
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 4 * 4 * 6  # runs x builds x steps
    last_warm = [r for r in rows if r["run"].endswith("r0004") and r["scenario"] == "warm" and r["repeat"] == "1"]
    assert [r["status"] for r in last_warm] == ["CACHED", "CACHED", "CACHED", "RUN", "RUN", "RUN"]


def test_report_summary_and_exports(filled, tmp_path):
    out = tmp_path / "report"
    r = run_cli("history", "report", "--history", str(filled), "--out", str(out), "--export-bmf",
                str(tmp_path / "bmf.json"), "--export-gab", str(tmp_path / "gab.json"))
    assert r.returncode == 0, r.stderr
    summary = (out / "summary.md").read_text()
    # The cache regression leads, before the per-benchmark table.
    assert summary.index("### Cache regressions") < summary.index("### app")
    assert "line 4 `RUN install deps`" in summary
    assert "| warm | 0.60 s | 2/2 | 0.50 s (n=3) | +20% | cache regression |" in summary
    page = (out / "index.html").read_text()
    assert page.count('<table class="grid"') == 1  # warm only: cold has no cache to lose
    bmf = json.loads((tmp_path / "bmf.json").read_text())
    jsonschema.validate(bmf, BMF_SCHEMA)
    assert bmf["app/warm"]["build-time"] == {"value": 0.6, "lower_value": 0.6, "upper_value": 0.6}
    assert bmf["app/cold"]["build-time"]["value"] == 5.05 and bmf["app/cold"]["hit-rate"]["value"] == 0.0
    gab = json.loads((tmp_path / "gab.json").read_text())
    jsonschema.validate(gab, GAB_SCHEMA)
    assert [(g["name"], g["value"], g["unit"]) for g in gab] == [("app/cold", 5.05, "s"), ("app/warm", 0.6, "s")]


def test_exports_leave_out_scenarios_without_an_ok_build():
    from .history_helpers import build, profile, result, run

    bad = run(1, (result(profile((build("cold", 1, 3.0, "CRRRRR", ok=False), build("warm", 1, 0.5, "CCCCCC")))),))
    from cacheprof.store.history_db import BuildRow, ResultMeta, StepRow  # rows as the store returns them

    meta = ResultMeta(1, bad.uid, bad.created_utc, None, "app", "default", "vm/2/x86_64", "26.1.0", "buildkit", None)
    brows = [BuildRow(1, i + 1, b.scenario, b.ok, b.duration_s) for i, b in enumerate(bad.results[0].profile.builds)]
    srows = [StepRow(i + 1, s.stage, s.position, s.line, s.instruction, s.status.value, s.duration_s)
             for i, b in enumerate(bad.results[0].profile.builds) for s in b.steps]
    series = series_from_rows([meta], brows, srows)
    ts = trends(series, DEFAULT_THRESHOLDS)
    assert list(export_bmf(ts, bad.uid)) == ["app/warm"]
    assert [g["name"] for g in export_gab(ts, bad.uid)] == ["app/warm"]
    check = check_run(series, bad.uid, DEFAULT_THRESHOLDS)
    md = summary_markdown(check, run_uid=bad.uid, commit=None, dirty=None, failed=["app cold #1: RUN failed"])
    assert "| cold | - | 0/1 | - | - | failed |" in md and "### Failed" in md


def test_bench_refuses_bad_suites_before_any_build(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\n")
    cases = {
        "unknown key": ('[[benchmark]]\nname = "a"\ncontext = "ctx"\nrepeats = 1\n', "unknown key 'repeats'"),
        "missing context": ('[[benchmark]]\nname = "a"\ncontext = "nowhere"\n', "nowhere"),
        "bad scenario": ('[[benchmark]]\nname = "a"\ncontext = "ctx"\nscenarios = ["tepid"]\n', "tepid"),
        # the second benchmark is bad: still nothing is built for the first
        "late bad": ('[[benchmark]]\nname = "a"\ncontext = "ctx"\n[[benchmark]]\nname = "b"\ncontext = "ctx"\n'
                     'scenarios = ["edit:missing/*"]\n', "missing/"),
    }
    for name, (text, says) in cases.items():
        suite = tmp_path / f"{name.replace(' ', '-')}.toml"
        suite.write_text(text)
        # An engine address nobody answers at: a build attempt would be exit 3, not 2.
        r = run_cli("bench", str(suite), "--history", str(tmp_path / "h.sqlite"), "--docker-host",
                    "unix:///nonexistent/docker.sock", "--quiet")
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, (name, r.stderr)
    assert not (tmp_path / "h.sqlite").exists()


def test_bench_with_an_unreachable_postgres_is_exit_3_before_building(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\n")
    suite = tmp_path / "s.toml"
    suite.write_text('[[benchmark]]\nname = "a"\ncontext = "ctx"\nscenarios = ["warm"]\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli("bench", str(suite), "--history", f"postgresql://bench:pw@127.0.0.1:{port}/h", "--quiet")
    assert r.returncode == 3, r.stdout + r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and f"127.0.0.1:{port}" in line and "pw" not in line.replace("postgresql", "")
    assert "Traceback" not in r.stderr


def test_foreign_history_file_is_exit_2_for_history_commands(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes\n")
    r = run_cli("history", "list", "--history", str(path))
    assert r.returncode == 2 and "not a SQLite database" in r.stderr
    assert path.read_text() == "these are my notes\n"
