"""An engine that answers nonsense or nothing, played by a tiny fake engine on a Unix socket: one line, exit 3,
no traceback, within seconds, and what was measured is written (issue 16, "The engine")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.fake_engine import VERSION, FakeEngine, reply

SIMPLE = "FROM busybox:1.36\nRUN echo hi\n"


def run(*args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "cacheprof.cli", *args], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=timeout)
    return r, time.monotonic() - t0


def one_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("cacheprof:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture
def ctx(tmp_path):
    c = tmp_path / "ctx"
    c.mkdir()
    (c / "Dockerfile").write_text(SIMPLE)
    return c


@pytest.fixture
def engine(tmp_path):
    engines: list[FakeEngine] = []

    def make(handler) -> FakeEngine:
        e = FakeEngine(tmp_path / f"engine{len(engines)}.sock", handler)
        engines.append(e)
        return e

    yield make
    for e in engines:
        e.close()


def test_an_engine_that_never_answers_is_given_up_in_seconds(engine, ctx, tmp_path):
    fake = engine(lambda method, path: None)
    r, took = run("profile", str(ctx), "--docker-host", fake.host, "--out", str(tmp_path / "out"), "-q",
                  env={"CACHEPROF_CONNECT_TIMEOUT": "1"})
    assert r.returncode == 3
    assert f"engine not answering at {fake.host}" in one_line(r)
    assert took < 10
    assert not (tmp_path / "out" / "profile.json").exists()


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json at all", json.dumps(["Version"]).encode()])
def test_a_version_reply_out_of_shape_is_an_engine_error(engine, ctx, tmp_path, body):
    fake = engine(lambda method, path: reply(200, body))
    r, _ = run("profile", str(ctx), "--docker-host", fake.host, "--out", str(tmp_path / "out"), "-q")
    assert r.returncode == 3, r.stderr
    assert fake.host in one_line(r)


@pytest.mark.parametrize("stream", [b"garbage\n", b'["a", "list"]\n', b'42\n'])
def test_a_build_stream_out_of_shape_is_an_engine_error(engine, ctx, tmp_path, stream):
    def handler(method, path):
        if path == "/version":
            return reply(200, VERSION)
        if path == "/_ping":
            return reply(200, b"OK")
        if path == "/build":
            return reply(200, stream)
        return reply(404, {"message": "no such thing"})

    fake = engine(handler)
    out = tmp_path / "out"
    r, took = run("profile", str(ctx), "--docker-host", fake.host, "--out", str(out), "-q", "--format", "json",
                  "--builder", "classic", "-s", "cold", "-s", "warm")
    assert r.returncode == 3, r.stderr
    line = one_line(r)
    assert "out of shape" in line and fake.host in line
    assert took < 30
    doc = json.loads((out / "profile.json").read_text())
    # The first build never started: no phantom failed build, nothing after it ran, and the count says so.
    assert doc["builds"] == []
    assert "0 build(s) measured before it" in line
