"""An [[engine]] reached over ssh://, as a remote machine would be: a private sshd on 127.0.0.1 (its own
host key, config and authorized key; Debian's openssh-server), and a client whose HOME holds only the key
and the known host, so nothing of the machine's own ssh setup is used or changed. The engine behind it
is the local daemon (`docker system dial-stdio`, as the docker CLI does over ssh)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .test_profile_docker import run_cli

pytestmark = pytest.mark.docker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ssh_engine(docker_engine, tmp_path):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if os.geteuid() != 0 or not Path(sshd).exists():
        if os.environ.get("CACHEPROF_REQUIRE_DOCKER") == "1":
            pytest.fail("CACHEPROF_REQUIRE_DOCKER=1 but the ssh engine test needs root and sshd "
                        "(scripts/setup installs openssh-server)")
        pytest.skip("needs root and sshd")
    d = tmp_path / "sshd"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / ".ssh" / "id_ed25519")],
                   check=True)
    (d / "authorized_keys").write_text((home / ".ssh" / "id_ed25519.pub").read_text())
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n")
    host_pub = (d / "host_key.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(d / "sshd_config")], stderr=open(d / "log", "wb"),
                            start_new_session=True)
    deadline = time.time() + 20
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"sshd did not start: {(d / 'log').read_text()[-500:]}")
        time.sleep(0.2)
    yield f"ssh://root@127.0.0.1:{port}", home
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def test_engine_over_ssh(ssh_engine, tmp_path):
    url, home = ssh_engine
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text(uuid.uuid4().hex + "\n")
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\nCOPY app.txt /app.txt\nRUN cat /app.txt\n")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[engine]]\nname = "over-ssh"\nurl = "{url}"\n'
                     '[[benchmark]]\nname = "t"\ncontext = "ctx"\nscenarios = ["cold", "warm"]\nrepeat = 1\n')
    r = run_cli("bench", str(suite), "--history", str(tmp_path / "h.sqlite"), "--format", "json", "--quiet",
                env={"HOME": str(home)})
    assert r.returncode == 0, r.stderr
    (b,) = json.loads(r.stdout)["benchmarks"]
    assert b["engine_name"] == "over-ssh" and b["engine_url"] == url and b["error"] is None
    builds = b["profile"]["builds"]
    assert [(x["scenario"], x["ok"]) for x in builds] == [("cold", True), ("warm", True)]
    assert [s["status"] for s in builds[1]["steps"]] == ["CACHED", "CACHED", "CACHED"]
