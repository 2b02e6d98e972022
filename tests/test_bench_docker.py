"""`cacheprof bench` against the real daemon: an injected cache regression found and then confirmed as a
timing regression, a corrupt history, and the history read back."""

from __future__ import annotations

import json
import uuid

import pytest

from cacheprof.store.history_db import open_history

from .history_helpers import fresh_postgres_database
from .test_profile_docker import run_cli

pytestmark = pytest.mark.docker

# Tiny on purpose: busybox, one expensive step. The 2 s sleep is what a volatile ARG makes run again.
DOCKERFILE = "FROM busybox:1.36\nCOPY app.txt /app.txt\n{arg}RUN sleep 2 && echo built > /built\nRUN cat /app.txt\n"
SUITE = '[[benchmark]]\nname = "tiny"\ncontext = "ctx"\nscenarios = ["cold", "warm"]\nrepeat = 1\n{extra}'


def test_injected_volatile_arg_is_a_cache_then_a_timing_regression(docker_engine, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text(uuid.uuid4().hex + "\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(arg=""))
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(extra=""))
    history = tmp_path / "history.sqlite"

    def bench():
        # A shared 2-core machine: a 1 s absolute bar keeps load spikes on the cold builds from alarming,
        # and the injected step costs 2 s.
        r = run_cli("bench", str(suite), "--history", str(history), "--format", "json", "--quiet",
                    "--min-seconds", "1.0")
        return r, (json.loads(r.stdout) if r.stdout.strip() else None)

    for n in range(3):
        r, doc = bench()
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        assert doc["regressions"] == [], (n, doc["regressions"])

    # A volatile ARG (a new value on every build, like --build-arg DATE=$(date)) before the expensive step.
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(arg="ARG STAMP\n"))
    suite.write_text(SUITE.format(extra='volatile_args = ["STAMP"]\n'))
    r, doc = bench()
    assert r.returncode == 4, r.stdout[-2000:] + r.stderr
    cache = [f for f in doc["regressions"] if f["kind"] == "cache"]
    assert [(f["benchmark"], f["scenario"], f["step"], f["line"]) for f in cache] == [
        ("tiny", "warm", "RUN sleep 2 && echo built > /built", 4)]
    assert set(cache[0]) == {"benchmark", "engine", "scenario", "kind", "step", "line", "baseline_s", "now_s",
                             "message"}
    assert not [f for f in doc["regressions"] if f["kind"] == "time"]  # one slow run is not yet an alarm
    assert [f["scenario"] for f in doc["pending"]] == ["warm"]
    assert "confirmed regression" in r.stderr and len(r.stderr.strip().splitlines()) == 1

    r, doc = bench()
    assert r.returncode == 4, r.stdout[-2000:] + r.stderr
    timing = [f for f in doc["regressions"] if f["kind"] == "time" and f["scenario"] == "warm"]
    assert len(timing) == 1 and timing[0]["now_s"] - timing[0]["baseline_s"] > 1.5, doc["regressions"]

    # Everything is in the database: 5 runs, every build with its steps, and the report beside it.
    with open_history(history) as db:
        counts = db.count_rows()
        runs = db.list_runs()
    assert counts["runs"] == 5 and counts["builds"] == 10 and counts["steps"] == 10 * 4  # FROM is a step
    assert [r.failed_builds for r in runs] == [0] * 5
    page = (tmp_path / "report" / "index.html").read_text()
    assert "RUN sleep 2 &amp;&amp; echo built &gt; /built" in page
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert summary.index("Timing regressions") < summary.index("### tiny")

    listed = run_cli("history", "list", "--history", str(history))
    assert listed.returncode == 0 and len(listed.stdout.strip().splitlines()) == 5


def test_corrupt_history_keeps_this_run_beside_it(docker_engine, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text(uuid.uuid4().hex + "\n")
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\nCOPY app.txt /app.txt\n")
    suite = tmp_path / "suite.toml"
    suite.write_text('[[benchmark]]\nname = "t"\ncontext = "ctx"\nscenarios = ["warm"]\nrepeat = 1\n')
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    before = history.read_bytes()
    r = run_cli("bench", str(suite), "--history", str(history), "--quiet")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(history) in lines[0] and "kept in" in lines[0]
    assert history.read_bytes() == before
    kept = list(tmp_path.glob("cacheprof-bench-*.json"))
    assert len(kept) == 1
    doc = json.loads(kept[0].read_text())
    assert [len(b["profile"]["builds"]) for b in doc["benchmarks"]] == [1]
    # The kept file goes into a healthy history later.
    good = tmp_path / "good.sqlite"
    imported = run_cli("history", "import", str(kept[0]), "--history", str(good))
    assert imported.returncode == 0, imported.stderr
    with open_history(good) as db:
        assert db.count_rows()["builds"] == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_history(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "shared.sqlite")
    else:
        yield from fresh_postgres_database()


def test_two_bench_processes_on_one_history_both_land(docker_engine, tmp_path, shared_history):
    import subprocess
    import sys

    history = shared_history
    procs = []
    for name in ("left", "right"):
        ctx = tmp_path / name
        ctx.mkdir()
        (ctx / "app.txt").write_text(uuid.uuid4().hex + "\n")
        (ctx / "Dockerfile").write_text("FROM busybox:1.36\nCOPY app.txt /app.txt\nRUN cat /app.txt\n")
        suite = tmp_path / f"{name}.toml"
        suite.write_text(f'[[benchmark]]\nname = "{name}"\ncontext = "{name}"\nscenarios = ["cold", "warm"]\n'
                         "repeat = 2\n")
        procs.append(subprocess.Popen([sys.executable, "-m", "cacheprof.cli", "bench", str(suite), "--history",
                                       str(history), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with open_history(history) as db:
        runs = list(db.iter_runs())
        counts = db.count_rows()
    assert sorted(r.results[0].benchmark for r in runs) == ["left", "right"]
    assert counts["builds"] == 8 and counts["steps"] == 8 * 3
