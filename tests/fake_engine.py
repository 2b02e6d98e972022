"""A tiny fake Docker engine on a Unix socket for fault tests: it answers each request with whatever the test
says (malformed JSON, a list where an object belongs, nothing at all)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

# path -> (status, body) or None to never answer
Handler = Callable[[str, str], tuple[int, bytes] | None]

VERSION = {"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64"}


def reply(status: int, body: object) -> tuple[int, bytes]:
    return status, body if isinstance(body, bytes) else json.dumps(body).encode()


class FakeEngine:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path, self.handler = path, handler
        self.requests: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(16)
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                if headers.get("transfer-encoding", "").lower() == "chunked":  # the streamed context
                    while b"\r\n0\r\n\r\n" not in buf and not buf.startswith(b"0\r\n\r\n"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    end = 5 if buf.startswith(b"0\r\n\r\n") else buf.index(b"\r\n0\r\n\r\n") + 7
                    buf = buf[end:]
                else:
                    length = int(headers.get("content-length", "0") or 0)
                    while len(buf) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    buf = buf[length:]
                path = target.split("?")[0]
                path = "/" + path.lstrip("/").split("/", 1)[1] if path.startswith("/v1.") else path
                self.requests.append(f"{method} {path}")
                answer = self.handler(method, path)
                if answer is None:
                    self._held.append(conn)  # never answer; keep the connection open
                    return
                status, body = answer
                conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        except OSError:
            return

    def close(self) -> None:
        self._sock.close()
        for c in self._held:
            c.close()
