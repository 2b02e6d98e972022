"""An [[engine]] reached over tcp:// with TLS: a private daemon that accepts only clients holding a
certificate from a throwaway CA (made here with openssl), listening on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests import private_daemon

from .test_profile_docker import run_cli

pytestmark = pytest.mark.docker


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(folder: Path) -> None:
    """ca.pem; server cert for 127.0.0.1; client cert.pem/key.pem (what DOCKER_CERT_PATH holds)."""
    folder.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "1", "-subj", "/CN=cacheprof test CA", cwd=folder)
    (folder / "server.ext").write_text("subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage = clientAuth\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}-key.pem", "-out", f"{who}.csr",
                 "-subj", f"/CN={who}", cwd=folder)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-out", f"{who}-cert.pem", "-days", "1", "-extfile", f"{who}.ext", cwd=folder)
    client = folder / "client"
    client.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client-cert.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        (client / dst).write_bytes((folder / src).read_bytes())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_engine(docker_engine, tmp_path):
    if os.geteuid() != 0:
        if os.environ.get("CACHEPROF_REQUIRE_DOCKER") == "1":
            pytest.fail("CACHEPROF_REQUIRE_DOCKER=1 but a private daemon needs root")
        pytest.skip("a private daemon needs root")
    certs = tmp_path / "certs"
    make_certs(certs)
    port = free_port()
    daemon = private_daemon.start(subnet="192.168.216.1/24", extra_args=(
        "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", f"--tlscacert={certs / 'ca.pem'}",
        f"--tlscert={certs / 'server-cert.pem'}", f"--tlskey={certs / 'server-key.pem'}"))
    yield f"tcp://127.0.0.1:{port}", certs / "client"
    private_daemon.stop(daemon)


def test_engine_over_tcp_with_tls(tls_engine, tmp_path):
    url, client_certs = tls_engine
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text(uuid.uuid4().hex + "\n")
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\nCOPY app.txt /app.txt\n")
    bench = '[[benchmark]]\nname = "t"\ncontext = "ctx"\nscenarios = ["cold", "warm"]\nrepeat = 1\n'
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[engine]]\nname = "remote"\nurl = "{url}"\ntls_cert_path = "{client_certs}"\n{bench}')
    r = run_cli("bench", str(suite), "--history", str(tmp_path / "h.sqlite"), "--format", "json", "--quiet")
    assert r.returncode == 0, r.stderr
    (b,) = json.loads(r.stdout)["benchmarks"]
    assert b["engine_name"] == "remote" and b["engine_url"] == url and b["error"] is None
    assert [x["ok"] for x in b["profile"]["builds"]] == [True, True]
    # Without the client certificate the engine refuses: no engine answered, so exit 3 and nothing stored.
    suite.write_text(f'[[engine]]\nname = "remote"\nurl = "{url}"\n{bench}')
    r = run_cli("bench", str(suite), "--history", str(tmp_path / "h.sqlite"), "--format", "json", "--quiet")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "engine remote" in r.stderr
    # Beside an engine that answers, the refusing one fails only its own benchmark (exit 1), and the run is stored.
    ok_engine = f'[[engine]]\nname = "remote-ok"\nurl = "{url}"\ntls_cert_path = "{client_certs}"\n'
    suite.write_text(f'[[engine]]\nname = "remote"\nurl = "{url}"\n{ok_engine}{bench}'
                     + bench.replace('name = "t"', 'name = "u"'))
    r = run_cli("bench", str(suite), "--history", str(tmp_path / "h.sqlite"), "--format", "json", "--quiet")
    assert r.returncode == 1, r.stderr
    got = {b["name"]: b for b in json.loads(r.stdout)["benchmarks"]}
    assert "engine remote" in got["t"]["error"] and got["t"]["profile"]["builds"] == []
    assert got["u"]["error"] is None and [x["ok"] for x in got["u"]["profile"]["builds"]] == [True, True]
    listed = run_cli("history", "list", "--history", str(tmp_path / "h.sqlite"))
    assert len(listed.stdout.strip().splitlines()) == 2
