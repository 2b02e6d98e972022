"""A frozen engine (dockerd stopped with SIGSTOP mid-build, private daemon): Ctrl-C still exits within seconds
and says what was left; without Ctrl-C the build-stream watchdog gives up on the silent engine (issue 16)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.test_faults_docker import SLOW, let_it_run, private_engine  # noqa: F401  (fixture)

pytestmark = pytest.mark.docker


def start(ctx, out, host) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "--docker-host", host,
                             "-s", "cold", "-s", "warm", "--out", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("ctrl_c", [True, False], ids=["ctrl-c", "watchdog"])
def test_frozen_engine(ctrl_c, private_engine, make_context, tmp_path):  # noqa: F811
    ctx = make_context({"Dockerfile": SLOW.replace("sleep 8", f"sleep 30 # {uuid.uuid4().hex}")})
    out = tmp_path / "out"
    proc = start(ctx, out, private_engine.host)
    let_it_run(proc, 4)
    os.kill(private_engine.process.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        if ctrl_c:
            time.sleep(1)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=90)
        took = time.monotonic() - t0
    finally:
        os.kill(private_engine.process.pid, signal.SIGCONT)
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("cacheprof:")]
    assert len(lines) == 1, stderr
    if ctrl_c:
        assert proc.returncode == 130, stderr
        assert took < 15, took
        assert "left behind" in lines[0] and "engine not answering" in lines[0] and "cacheprof clean" in lines[0]
    else:
        assert proc.returncode == 3, stderr
        assert took < 45, took  # a ping every 15 s of silence, 5 s to answer, then the report
        assert "engine not answering" in lines[0] and private_engine.host in lines[0]
    (build,) = json.loads((out / "profile.json").read_text())["builds"]
    assert build["ok"] is False and build["complete"] is False
