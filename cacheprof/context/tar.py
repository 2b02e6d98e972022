"""The build-context tar the docker CLI would send, including its handling of the Dockerfile and .dockerignore.

The client, not the daemon, applies .dockerignore, so cacheprof must filter exactly as the CLI does.
The tar is streamed: a generator of chunks that reads each file while it is sent, so memory stays flat
whatever the context's size. Edits are overrides applied here (bytes appended to a file's content), so
no copy of the context is ever made and the user's files are only read. Pure Python; never imports `docker`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import UsageError
from .dockerignore import DockerIgnore
from .walk import (
    _COPY_BUFSIZE,
    DOCKERIGNORE,
    OUTSIDE_DOCKERFILE_PREFIX,
    ContextEntry,
    _open_regular,
    resolve_context,
    walk_context,
)

# Appended bytes per file, keyed by (st_dev, st_ino): hard links to an edited file share the edit.
Overrides = Mapping[tuple[int, int], bytes]

_BLOCK = 512
_RECORD = 20 * _BLOCK  # tarfile pads the archive to whole records, as Go's archive/tar readers accept
_ENCODING = "utf-8"
_AHEAD = 8  # chunks read ahead of the sender: at most ~8 MiB in memory


def _header(entry: ContextEntry, hardlinks: dict[tuple[int, int], str]) -> tarfile.TarInfo | None:
    """A tar header as moby's archive writes it for the CLI: uid/gid 0, no user names, mtime in seconds."""
    st = entry.st
    mode = st.st_mode
    ti = tarfile.TarInfo(entry.rel)
    ti.mode = stat.S_IMODE(mode)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    if stat.S_ISREG(mode):
        if st.st_nlink > 1:
            first = hardlinks.setdefault((st.st_dev, st.st_ino), entry.rel)
            if first != entry.rel:
                ti.type = tarfile.LNKTYPE
                ti.linkname = first
                return ti
        ti.type = tarfile.REGTYPE
        ti.size = st.st_size
    elif stat.S_ISDIR(mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(entry.path)
    elif stat.S_ISFIFO(mode):
        ti.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None  # sockets: Docker skips them too
    return ti


def _locate_dockerfile(root: str, dockerfile: Path) -> tuple[str, str | None]:
    """(real path, name inside the context) of the Dockerfile; the name is None when it lies outside.

    Like the CLI, a relative path counts from the current directory and symlinks are resolved first.
    """
    try:
        real = os.path.realpath(os.path.abspath(dockerfile), strict=True)
    except OSError:
        raise UsageError(f"Dockerfile not found: {dockerfile}; pass its path with -f") from None
    if os.path.isdir(real):
        raise UsageError(f"{dockerfile} is a directory, not a Dockerfile; pass the file with -f")
    rel = os.path.relpath(real, root)
    if rel.startswith(".." + os.sep):
        return real, None
    return real, rel.replace(os.sep, "/")


def _outside_name(root: str, real: str) -> str:
    # Derived from the Dockerfile's path, not random (the CLI's choice): the name is also appended to the
    # sent .dockerignore, and a name that changed per build would bust `COPY . .` whenever .dockerignore
    # is itself copied.
    k = 0
    while True:
        digest = hashlib.sha256(f"{real}\0{k}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
        name = OUTSIDE_DOCKERFILE_PREFIX + digest
        if not os.path.lexists(os.path.join(root, name)):
            return name
        k += 1


def _regular_header(name: str, size: int, mode: int, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.mtime = tarfile.REGTYPE, size, mode, mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def _head(ti: tarfile.TarInfo) -> bytes:
    return ti.tobuf(tarfile.GNU_FORMAT, _ENCODING, "surrogateescape")


def _pad(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


def _file_chunks(path: str, size: int, extra: bytes) -> Iterator[bytes]:
    """`size` bytes of the file (its size when listed: a file that grows is cut there), then `extra`."""
    left = size
    with _open_regular(path) as fh:
        while left > 0:
            chunk = fh.read(min(_COPY_BUFSIZE, left))
            if not chunk:
                raise UsageError(f"{path} changed while cacheprof read the build context; retry "
                                 "when nothing writes into it")
            left -= len(chunk)
            yield chunk
    if extra:
        yield extra
    yield _pad(size + len(extra))


class ContextStream:
    """The context tar of one build: `dockerfile` is its name inside the tar; iterate for the bytes.

    Everything that can be refused (a missing Dockerfile, a bad .dockerignore) is checked when the
    stream is made, before any build; the files are read only while the stream is consumed, once.
    `sent_bytes` counts what was produced so far, `finished_at` is set once the last chunk was taken.
    """

    def __init__(self, context_dir: Path, dockerfile: Path, *, buildkit: bool = False,
                 overrides: Overrides | None = None) -> None:
        self.root = resolve_context(context_dir)
        self.buildkit = buildkit
        self.overrides: Overrides = overrides or {}
        df_real, df_rel = _locate_dockerfile(self.root, dockerfile)
        ignore = DockerIgnore.from_file(Path(self.root, DOCKERIGNORE))
        # The CLI's TrimBuildFilesFromExcludes: re-include the two build files when excluded.
        if ignore.legacy_matches(DOCKERIGNORE) and not buildkit:
            ignore = ignore.with_patterns(["!" + DOCKERIGNORE])
        if df_rel is not None and ignore.legacy_matches(df_rel):
            ignore = ignore.with_patterns(["!" + df_rel])
        self.ignore = ignore
        self.outside: tuple[str, bytes, int] | None = None
        if df_rel is None:
            with _open_regular(df_real) as fh:
                self.outside = (_outside_name(self.root, df_real), fh.read(), int(os.stat(df_real).st_mtime))
        self.dockerfile = self.outside[0] if self.outside is not None else str(df_rel)
        self.sent_bytes = 0
        # time.perf_counter() when the consumer took the last chunk (a duration's end, never wall clock)
        self.finished_at: float | None = None

    def __iter__(self) -> Iterator[bytes]:
        """Chunks of about 1 MiB, read ahead by a thread (at most _AHEAD chunks) while the consumer sends:
        like the docker CLI's pipe, disk reads and socket writes overlap."""
        chunks = self._chunks()
        ahead: queue.Queue[tuple[bytes | None, BaseException | None]] = queue.Queue(_AHEAD)
        stop = threading.Event()

        def produce() -> None:
            try:
                for chunk in chunks:
                    while not stop.is_set():
                        try:
                            ahead.put((chunk, None), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                ahead.put((None, None))
            except BaseException as e:  # handed to the consumer, raised there
                ahead.put((None, e))

        worker = threading.Thread(target=produce, name="cacheprof-context-reader", daemon=True)
        worker.start()
        try:
            while True:
                chunk, error = ahead.get()
                if error is not None:
                    raise error
                if chunk is None:
                    break
                yield chunk
            self.finished_at = time.perf_counter()  # the consumer asked for more: the last chunk has gone out
        finally:
            stop.set()
            worker.join(timeout=5)

    def _chunks(self) -> Iterator[bytes]:
        """Chunks of about 1 MiB (small entries are gathered, large files read piecewise)."""
        buf = bytearray()
        for piece in self._pieces():
            buf += piece
            if len(buf) >= _COPY_BUFSIZE:
                self.sent_bytes += len(buf)
                yield bytes(buf)
                buf.clear()
        end = b"\0" * (2 * _BLOCK)
        total = self.sent_bytes + len(buf) + len(end)
        buf += end + b"\0" * (-total % _RECORD)
        self.sent_bytes += len(buf)
        yield bytes(buf)

    def _pieces(self) -> Iterator[bytes]:
        """Header and content blocks, as GNU format (this daemon's BuildKit rejects PAX headers).

        The Dockerfile and .dockerignore are sent even when .dockerignore excludes them; a Dockerfile
        outside the context is added under a name of its own, which is also appended to the sent
        .dockerignore so builds do not copy it. `buildkit`: the tar is for `POST /build?version=2` without
        a session, which never reads .dockerignore and copies whatever the tar holds, so an excluded
        .dockerignore is not sent (a `COPY . .` would otherwise copy it).
        """
        outside = self.outside
        hardlinks: dict[tuple[int, int], str] = {}
        sent_ignore = False
        for entry in walk_context(self.root, self.ignore):
            st = entry.st
            extra = self.overrides.get((st.st_dev, st.st_ino), b"") if stat.S_ISREG(st.st_mode) else b""
            if outside is not None and entry.rel == DOCKERIGNORE and not stat.S_ISDIR(st.st_mode):
                with _open_regular(entry.path) as fh:
                    data = fh.read() + extra + b"\n" + outside[0].encode() + b"\n"
                yield _head(_regular_header(DOCKERIGNORE, len(data), stat.S_IMODE(st.st_mode), int(st.st_mtime)))
                yield data + _pad(len(data))
                sent_ignore = True
                continue
            ti = _header(entry, hardlinks)
            if ti is None:
                continue
            if ti.type != tarfile.REGTYPE:
                yield _head(ti)
                continue
            size = ti.size
            ti.size += len(extra)
            yield _head(ti)
            yield from _file_chunks(entry.path, size, extra)
        if outside is not None:
            name, content, mtime = outside
            yield _head(_regular_header(name, len(content), 0o600, mtime)) + content + _pad(len(content))
            if not sent_ignore and not self.buildkit:  # BuildKit never reads it; COPY . . would copy it
                data = f"{DOCKERIGNORE}\n{name}\n".encode()
                yield _head(_regular_header(DOCKERIGNORE, len(data), 0o600, mtime)) + data + _pad(len(data))


def make_tar(context_dir: Path, dockerfile: Path, *, buildkit: bool = False,
             overrides: Overrides | None = None) -> tuple[bytes, str]:
    """The whole tar in memory and the Dockerfile's name inside it (tests and small contexts only)."""
    stream = ContextStream(context_dir, dockerfile, buildkit=buildkit, overrides=overrides)
    return b"".join(stream), stream.dockerfile
