"""The engine address as the docker CLI picks it: --docker-host, then DOCKER_HOST, then the current context
(DOCKER_CONTEXT, else `docker context use`'s currentContext in config.json) read from the context store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cacheprof.capture.docker_context import resolve_endpoint
from cacheprof.errors import UsageError


def store(tmp_path: Path, name: str, host: str, tls: bool = False, current: str | None = None) -> dict[str, str]:
    """A context store as `docker context create NAME --docker host=HOST` writes it."""
    cfg = tmp_path / "docker-config"
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = cfg / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {},
                                                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))
    if tls:
        t = cfg / "contexts" / "tls" / digest / "docker"
        t.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (t / f).write_text("x")
    if current:
        (cfg / "config.json").write_text(json.dumps({"auths": {}, "currentContext": current}))
    return {"DOCKER_CONFIG": str(cfg)}


def test_docker_context_env_picks_the_stores_endpoint(tmp_path: Path):
    env = store(tmp_path, "remote", "tcp://10.0.0.5:2376", tls=True)
    e = resolve_endpoint(None, {**env, "DOCKER_CONTEXT": "remote"})
    assert e.host == "tcp://10.0.0.5:2376" and e.source == "docker context remote"
    assert e.tls_cert_path and e.tls_cert_path.endswith("/docker") and Path(e.tls_cert_path, "ca.pem").is_file()


def test_docker_context_use_is_read_from_config_json(tmp_path: Path):
    env = store(tmp_path, "builder-box", "ssh://me@box", current="builder-box")
    e = resolve_endpoint(None, env)
    assert e.host == "ssh://me@box" and e.tls_cert_path is None


def test_docker_host_wins_over_the_context_and_the_flag_over_both(tmp_path: Path):
    env = {**store(tmp_path, "remote", "tcp://10.0.0.5:2376", current="remote"), "DOCKER_HOST": "unix:///x.sock"}
    assert resolve_endpoint(None, env).source == "DOCKER_HOST"
    assert resolve_endpoint("tcp://1.2.3.4:2375", env).host == "tcp://1.2.3.4:2375"


def test_default_context_and_no_config_mean_the_sdk_default(tmp_path: Path):
    assert resolve_endpoint(None, {"DOCKER_CONFIG": str(tmp_path / "none")}).host is None
    assert resolve_endpoint(None, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "default"}).host is None


def test_an_unknown_context_is_one_clear_error(tmp_path: Path):
    with pytest.raises(UsageError, match="docker context 'nope' not found"):
        resolve_endpoint(None, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "nope"})


def test_a_context_pointing_at_the_real_engine_builds_there(tmp_path: Path, docker_engine):
    """End to end: DOCKER_CONTEXT names a context whose endpoint is this machine's engine socket."""
    import os

    from cacheprof.capture.session import open_driver

    sock = "unix:///var/run/docker.sock"
    if os.environ.get("DOCKER_HOST", sock) != sock:
        pytest.skip("the engine under test is not on the default socket")
    env = store(tmp_path, "local-sock", sock)
    old = dict(os.environ)
    try:
        os.environ.pop("DOCKER_HOST", None)
        os.environ.update({**env, "DOCKER_CONTEXT": "local-sock"})
        driver = open_driver(None)
        try:
            assert driver.engine_info().version
            assert driver.address == sock
        finally:
            driver.close()
    finally:
        os.environ.clear()
        os.environ.update(old)
