"""The engine dies between two builds, and during --check-equivalent's image export (private daemon): exit 3 with
one line, the builds measured before are written, no phantom build, and the command ends within 10 s of the
death (issue 8 item 6; issue 16 "Engine death")."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from tests.test_faults_docker import private_engine  # noqa: F401  (fixture)

pytestmark = pytest.mark.docker


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("cacheprof:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_engine_dies_between_two_builds(builder, private_engine, make_context, tmp_path):  # noqa: F811
    ctx = make_context({"Dockerfile": f"FROM busybox:1.36\nCOPY nonce.txt /\nRUN sleep 2 # {uuid.uuid4().hex}\n"})
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "--docker-host", private_engine.host,
         "--builder", builder, "-s", "cold", "-s", "cold", "--out", str(out), "--progress", "plain"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:  # the first build's line comes when it has finished
        seen.append(line)
        if line.startswith("build 1/2"):
            break
    else:
        pytest.fail("".join(seen))
    private_engine.kill()
    died = time.monotonic()
    _, rest = proc.communicate(timeout=60)
    took = time.monotonic() - died
    assert proc.returncode == 3, rest
    line = one_line(rest)
    assert "lost the Docker engine" in line and private_engine.host in line, line
    assert took < 10, took
    builds = json.loads((out / "profile.json").read_text())["builds"]
    # The first build is there; the second either never began (no phantom) or is kept as cut short.
    assert builds[0]["ok"] is True
    assert len(builds) == 1 or (len(builds) == 2 and builds[1]["ok"] is False and builds[1]["steps"])


def test_engine_dies_during_check_equivalent(private_engine, make_context, tmp_path):  # noqa: F811
    # Big enough files that the export takes a moment; the builds themselves are quick.
    body = "FROM busybox:1.36\nCOPY nonce.txt /\nRUN dd if=/dev/urandom of=/big bs=1M count=150 2>/dev/null\n"
    ctx = make_context({"Dockerfile": body, "Dockerfile.after": body.replace("/big", "/big2")})
    out = tmp_path / "out"
    host = private_engine.host
    proc = subprocess.Popen(
        [sys.executable, "-m", "cacheprof.cli", "compare", str(ctx / "Dockerfile"), str(ctx / "Dockerfile.after"),
         "--docker-host", host, "-s", "cold", "--repeat", "1", "--check-equivalent", "--out", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = subprocess.run(["docker", "-H", host, "ps", "-a", "-q", "--filter", "label=org.cacheprof.export"],
                           capture_output=True, text=True)
        if r.stdout.strip():
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    else:
        pytest.fail("no export container appeared")
    private_engine.kill()
    died = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - died
    assert proc.returncode == 3, stderr
    line = one_line(stderr)
    assert "lost the Docker engine" in line and host in line, line
    assert took < 10, took
    for side in ("before", "after"):
        (build,) = json.loads((out / side / "profile.json").read_text())["builds"]
        assert build["ok"] is True
