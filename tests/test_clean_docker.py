"""On a private daemon: SIGTERM/SIGHUP stop a run as Ctrl-C does, and `cacheprof clean` removes what a SIGKILLed
run left, says what it removed, and touches nothing else (issue 16 signals; issue 8 item 10)."""

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


def images(host: str) -> set[str]:
    out = subprocess.run(["docker", "-H", host, "images", "-a", "-q", "--no-trunc"], capture_output=True, text=True)
    return set(out.stdout.split())


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cacheprof.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_sigterm_sighup_then_sigkill_and_clean(builder, private_engine, make_context, tmp_path):  # noqa: F811
    host = private_engine.host
    ctx = make_context({"Dockerfile": SLOW.replace("sleep 8", f"sleep 8 # {uuid.uuid4().hex}")})
    # Something cacheprof did not make, built from the same Dockerfile: it must survive everything below.
    victim = f"victim-{uuid.uuid4().hex[:8]}:1"
    subprocess.run(["docker", "-H", host, "build", "-q", "-t", victim, str(ctx)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})
    before = images(host)
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        (ctx / "nonce.txt").write_text(uuid.uuid4().hex)
        out = tmp_path / f"out-{sig.name}"
        proc = cli("profile", str(ctx), "--docker-host", host, "--builder", builder, "-s", "cold", "-s", "warm",
                   "--out", str(out), "--format", "json")
        let_it_run(proc, 4)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == code, stderr
        assert "Traceback" not in stderr
        lines = [ln for ln in stderr.splitlines() if ln.startswith("cacheprof:")]
        assert lines == [f"cacheprof: error: stopped by {sig.name}; the 1 build(s) measured are in {out}/"], stderr
        (build,) = json.loads((out / "profile.json").read_text())["builds"]
        assert build["ok"] is False and build["error"] == f"stopped by {sig.name} during the build"
        assert images(host) == before
    # SIGKILL: no cleanup at all. The ledger under CACHEPROF_STATE_DIR still names what the run made.
    state = tmp_path / "state"
    env = {"CACHEPROF_STATE_DIR": str(state)}
    (ctx / "nonce.txt").write_text(uuid.uuid4().hex)
    proc = cli("profile", str(ctx), "--docker-host", host, "--builder", builder, "-s", "cold", "-s", "cold",
               "-s", "cold", "--out", str(tmp_path / "killed"), env=env)
    let_it_run(proc, 13)  # the first cold build (8 s of sleep) has finished; the second runs
    proc.kill()
    proc.communicate(timeout=30)
    time.sleep(3)  # the engine finishes or cancels the orphaned build
    leftovers = images(host) - before
    assert leftovers, "a SIGKILLed run leaves images (else this test proves nothing)"
    r = subprocess.run([sys.executable, "-m", "cacheprof.cli", "clean", "--docker-host", host],
                       capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout.count("removed ") >= 1
    assert images(host) == before, "clean left something, or removed what was there before"
    assert subprocess.run(["docker", "-H", host, "image", "inspect", victim], capture_output=True).returncode == 0
    assert not list(state.glob("*.json"))
    # Nothing left: a second clean says so and removes nothing.
    r = subprocess.run([sys.executable, "-m", "cacheprof.cli", "clean", "--docker-host", host],
                       capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and "nothing of cacheprof's to remove" in r.stderr
