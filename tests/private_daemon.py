"""A private Docker daemon beside the main one, for fault tests (killing it mid-build) and isolation.

Own --data-root, --exec-root, --pidfile and socket, --iptables=false, and its own bridge: never
--bridge=none beside another daemon, which deletes that daemon's docker0.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PrivateDaemon:
    root: Path
    bridge: str
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"

    def answers(self) -> bool:
        r = subprocess.run(["docker", "-H", self.host, "version", "--format", "{{.Server.Version}}"],
                           capture_output=True, timeout=20)
        return r.returncode == 0

    def kill(self) -> None:
        """Kill the daemon and everything it started (its containerd, shims), at once."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


def start(base_image: str = "busybox:1.36", subnet: str = "192.168.213.1/24",
          extra_args: tuple[str, ...] = ()) -> PrivateDaemon:
    """`subnet`: the bridge's address; two private daemons at once need different ones. `extra_args` go to
    dockerd (e.g. a TLS listener on 127.0.0.1)."""
    root = Path(tempfile.mkdtemp(prefix="cacheprof-dockerd-"))
    bridge = f"cp{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", subnet, "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    log = open(root / "dockerd.log", "wb")  # open as long as the daemon runs
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "-H", f"unix://{root / 'docker.sock'}",
         "--iptables=false", "--ip-masq=false", f"--bridge={bridge}",
         "--containerd-namespace", f"cacheprof-{bridge}", "--containerd-plugins-namespace", f"cacheprof-{bridge}p",
         *extra_args],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    daemon = PrivateDaemon(root, bridge, proc)
    deadline = time.time() + 60
    while not daemon.answers():
        if proc.poll() is not None or time.time() > deadline:
            stop(daemon)
            raise RuntimeError(f"private dockerd did not start; see {root / 'dockerd.log'}")
        time.sleep(0.5)
    save = subprocess.Popen(["docker", "save", base_image], stdout=subprocess.PIPE)
    subprocess.run(["docker", "-H", daemon.host, "load", "-q"], stdin=save.stdout, check=True,
                   capture_output=True)
    save.wait()
    return daemon


def stop(daemon: PrivateDaemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    try:
        os.killpg(daemon.process.pid, signal.SIGKILL)  # leftovers of the group (containerd)
    except ProcessLookupError:
        pass
    # Shims leave the daemon's process group on purpose (they outlive containerd): find them by the
    # containerd namespace this daemon alone used.
    subprocess.run(["pkill", "-9", "-f", f"containerd-shim-runc-v2 -namespace cacheprof-{daemon.bridge}"],
                   capture_output=True)
    unmount_below(daemon.root)
    subprocess.run(["ip", "link", "del", daemon.bridge], capture_output=True)
    shutil.rmtree(daemon.root, ignore_errors=True)


def unmount_below(root: Path) -> None:
    """Lazily unmount everything mounted under root (overlay layers, network namespaces), deepest first."""
    prefix = str(root) + "/"
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
