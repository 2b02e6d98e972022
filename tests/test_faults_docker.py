"""Faults on a real engine: Ctrl-C in the middle of a build, and the engine dying mid-build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests import private_daemon
from tests.test_profile_docker import container_ids, image_ids, new_images

pytestmark = pytest.mark.docker

SLOW = "FROM busybox:1.36\nCOPY nonce.txt /\nRUN echo started && sleep 8\nRUN echo after\n"


def start_profile(ctx, out, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "--format", "json", "--out", str(out),
         "-s", "cold", "-s", "warm", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )


def let_it_run(proc: subprocess.Popen, seconds: float) -> None:
    """Give the build time to reach the slow RUN (it starts within a second or two), checking it lives."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.25)


def settle(client, before: set[str], timeout: float = 30) -> set[str]:
    """Containers the daemon is still tearing down after a cancelled build: wait for them to go."""
    deadline = time.time() + timeout
    left = container_ids(client) - before
    while left and time.time() < deadline:
        time.sleep(0.5)
        left = container_ids(client) - before
    return left


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_ctrl_c_mid_build_writes_partial_results_and_cleans_up(builder, docker_engine, make_context, tmp_path):
    ctx = make_context({"Dockerfile": SLOW})
    images_before, containers_before = image_ids(docker_engine), container_ids(docker_engine)
    out = tmp_path / "out"
    proc = start_profile(ctx, out, "--builder", builder)
    let_it_run(proc, 4)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert [ln for ln in stderr.splitlines() if ln.startswith("cacheprof:")] == [
        f"cacheprof: error: interrupted; the 1 build(s) measured are in {out}/"
    ]
    doc = json.loads((out / "profile.json").read_text())
    assert doc["complete"] is False
    (build,) = doc["builds"]
    assert build["scenario"] == "cold" and build["ok"] is False and build["complete"] is False
    assert "interrupted" in build["error"]
    assert any(s["instruction"] == "COPY nonce.txt /" and s["status"] == "RUN" for s in build["steps"])
    assert json.loads(stdout)["builds"] == doc["builds"]
    assert not settle(docker_engine, containers_before)
    assert not new_images(docker_engine, images_before)


@pytest.fixture
def private_engine(docker_engine):
    if os.geteuid() != 0:
        if os.environ.get("CACHEPROF_REQUIRE_DOCKER") == "1":
            pytest.fail("CACHEPROF_REQUIRE_DOCKER=1 but a private daemon needs root")
        pytest.skip("a private daemon needs root")
    daemon = private_daemon.start()
    yield daemon
    private_daemon.stop(daemon)


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_engine_killed_mid_build(builder, private_engine, make_context, tmp_path):
    ctx = make_context({"Dockerfile": SLOW.replace("sleep 8", f"sleep 8 # {uuid.uuid4().hex}")})
    out = tmp_path / "out"
    proc = start_profile(ctx, out, "--builder", builder, "--docker-host", private_engine.host)
    let_it_run(proc, 4)
    private_engine.kill()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr  # the engine is gone: an engine error, not a failed build
    lines = [ln for ln in stderr.splitlines() if ln.startswith("cacheprof:")]
    assert len(lines) == 1 and "lost the Docker engine" in lines[0] and private_engine.host in lines[0], stderr
    assert "Traceback" not in stderr
    doc = json.loads((out / "profile.json").read_text())
    (build,) = doc["builds"]
    assert build["ok"] is False and build["complete"] is False and doc["complete"] is False
    assert json.loads(stdout)["builds"] == doc["builds"]
