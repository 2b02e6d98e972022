"""compare leaves nothing behind on both builders (private daemon, so no other build's images blur the check):
AFTER's first classic build continues on BEFORE's step images, and restored --cache-from images hang below
the step images built on them; cleanup must remove them all, and nothing else."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_faults_docker import private_engine  # noqa: F401  (fixture)

pytestmark = pytest.mark.docker


def images(host: str) -> set[str]:
    out = subprocess.run(["docker", "-H", host, "images", "-a", "-q", "--no-trunc"], capture_output=True, text=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_compare_leaves_nothing(builder, private_engine, fixture_copy, tmp_path):  # noqa: F811
    ctx = fixture_copy("python-app")
    before = images(private_engine.host)
    r = subprocess.run(
        [sys.executable, "-m", "cacheprof.cli", "compare", str(ctx / "Dockerfile.naive"), str(ctx / "Dockerfile"),
         "--context", str(ctx), "--docker-host", private_engine.host, "--builder", builder, "-s", "warm",
         "-s", "edit:app/main.py", "--repeat", "2", "-q", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert images(private_engine.host) == before
