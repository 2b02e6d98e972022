"""Shared fixtures. Docker tests use the real daemon; they skip only when no daemon answers and
CACHEPROF_REQUIRE_DOCKER is not 1 (CI sets it, so there a missing daemon fails the tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
FIXTURES = ROOT / "fixtures"


# Run ledgers (what `cacheprof clean` reads) of the suite's runs go to a folder of the suite's own.
os.environ.setdefault("CACHEPROF_STATE_DIR", str(Path(tempfile.gettempdir()) / f"cacheprof-test-state-{os.getpid()}"))


def _require_docker() -> bool:
    return os.environ.get("CACHEPROF_REQUIRE_DOCKER") == "1"


@pytest.fixture(scope="session")
def docker_engine():
    """A docker SDK client for the real daemon, with the fixtures' base image present."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as e:  # no daemon here
        if _require_docker():
            pytest.fail(f"CACHEPROF_REQUIRE_DOCKER=1 but no Docker daemon answers: {e}")
        pytest.skip(f"no Docker daemon answers ({e}); run scripts/dockerd-up")
    subprocess.run([str(ROOT / "scripts" / "base-image")], check=True)
    yield client
    client.close()


@pytest.fixture
def make_context(tmp_path: Path):
    """Write a build context from {relative path: text}, plus a unique nonce file, so no test depends
    on what the daemon's cache holds from earlier runs."""

    def make(files: dict[str, str], name: str = "ctx") -> Path:
        ctx = tmp_path / name
        for rel, text in files.items():
            p = ctx / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        (ctx / "nonce.txt").write_text(uuid.uuid4().hex + "\n")
        return ctx

    return make


@pytest.fixture
def fixture_copy(tmp_path: Path):
    """A copy of a bundled fixture with a nonce file added (the bundled tree is never written to)."""

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(FIXTURES / name, dst, symlinks=True)
        (dst / "nonce.txt").write_text(uuid.uuid4().hex + "\n")
        return dst

    return copy
