"""`cacheprof bench` over two engines: two private daemons (own data root, socket and bridge), one killed
in the middle of a build. The other engine's benchmarks are all measured and stored; the dead engine's
are reported; nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from cacheprof.store.history_db import open_history
from tests import private_daemon

pytestmark = pytest.mark.docker


@pytest.fixture
def two_engines(docker_engine):
    if os.geteuid() != 0:
        if os.environ.get("CACHEPROF_REQUIRE_DOCKER") == "1":
            pytest.fail("CACHEPROF_REQUIRE_DOCKER=1 but private daemons need root")
        pytest.skip("private daemons need root")
    a = private_daemon.start(subnet="192.168.214.1/24")
    try:
        b = private_daemon.start(subnet="192.168.215.1/24")
    except BaseException:
        private_daemon.stop(a)
        raise
    yield a, b
    private_daemon.stop(a)
    private_daemon.stop(b)


def context(tmp_path, name: str, sleep: float) -> str:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "app.txt").write_text(uuid.uuid4().hex + "\n")
    (ctx / "Dockerfile").write_text(f"FROM busybox:1.36\nCOPY app.txt /app.txt\nRUN sleep {sleep} && cat /app.txt\n")
    return name


def test_an_engine_killed_mid_run_fails_only_its_benchmarks(two_engines, tmp_path):
    a, b = two_engines
    # Engine "steady" gets quick benchmarks; "doomed" starts an 8 s step and is killed inside it.
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f'[[engine]]\nname = "steady"\nurl = "{a.host}"\n[[engine]]\nname = "doomed"\nurl = "{b.host}"\n'
        + "".join(f'[[benchmark]]\nname = "{n}"\ncontext = "{context(tmp_path, n, s)}"\nengine = "{e}"\n'
                  f'scenarios = ["cold", "warm"]\nrepeat = 1\n'
                  for n, s, e in (("s1", 0.5, "steady"), ("d1", 8, "doomed"), ("s2", 0.5, "steady"),
                                  ("d2", 0.5, "doomed"), ("s3", 0.5, "steady"))))
    history = tmp_path / "h.sqlite"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "cacheprof.cli", "bench", str(suite), "--history", str(history),
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 5
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.25)
    b.kill()
    stdout, stderr = proc.communicate(timeout=300)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    doc = json.loads(stdout)
    by_name = {x["name"]: x for x in doc["benchmarks"]}
    for n in ("s1", "s2", "s3"):
        builds = by_name[n]["profile"]["builds"]
        assert by_name[n]["engine_name"] == "steady" and by_name[n]["error"] is None
        assert [(x["scenario"], x["ok"]) for x in builds] == [("cold", True), ("warm", True)], n
    assert by_name["d1"]["engine_name"] == "doomed" and "engine doomed" in by_name["d1"]["error"]
    assert "not run" in by_name["d2"]["error"] and by_name["d2"]["profile"]["builds"] == []
    # Stored, and the same as printed.
    with open_history(history) as db:
        (run,) = list(db.iter_runs())
    stored = {r.benchmark: r for r in run.results}
    assert sum(len(stored[n].profile.builds) for n in ("s1", "s2", "s3")) == 6
    assert all(b.ok for n in ("s1", "s2", "s3") for b in stored[n].profile.builds)
    assert stored["d1"].error == by_name["d1"]["error"]
    # Concurrency: the steady engine's six builds did not wait for the doomed engine's 8 s step.
    steady_starts = sorted(x["started"] for n in ("s1", "s2", "s3") for x in by_name[n]["profile"]["builds"])
    d1_builds = by_name["d1"]["profile"]["builds"]
    # The kill landed inside d1's build, which is kept as an incomplete failure.
    assert d1_builds and d1_builds[-1]["ok"] is False and d1_builds[-1]["complete"] is False, d1_builds
    assert steady_starts[1] < d1_builds[0]["started"] + 8
    assert elapsed < 120, elapsed
