"""The build-context tar the docker CLI would send, including its handling of the Dockerfile and .dockerignore.

The client, not the daemon, applies .dockerignore, so cacheprof must filter exactly as the CLI does.
The tar is streamed: a generator of chunks that reads each file while it is sent, so memory stays flat
whatever the context's size. Edits are overrides applied here (bytes appended to a file's content), so
no copy of the context is ever made and the user's files are only read. Pure Python; never imports `docker`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import stat
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from ..errors import UsageError
from .dockerignore import DockerIgnore
from .walk import (
    _COPY_BUFSIZE,
    DOCKERIGNORE,
    OUTSIDE_DOCKERFILE_PREFIX,
    ContextEntry,
    _open_regular,
    _read_error,
    open_listed,
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
            first = hardlinks.get((st.st_dev, st.st_ino))  # set once the first name was read
            if first is not None:
                ti.type = tarfile.LNKTYPE
                ti.linkname = first
                return ti
        ti.type = tarfile.REGTYPE
        ti.size = st.st_size
    elif stat.S_ISDIR(mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(entry.path)  # FileNotFoundError, or EINVAL when no longer a link
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


# A file that changes while it is read (a dev server's log): its tar header, size included, goes out before
# its content, so the size must be fixed first and the content made to match it. A file up to
# _COPY_BUFSIZE is read whole before its header: the header declares what that one bounded read returned, a
# state the file really had. A larger file is not spooled (a disk copy doubles the I/O and needs the space,
# a memory copy breaks the flat memory of a streamed 8 GB context): its size when opened is declared, bytes
# written past it are cut (an appended log sends a state it had) and a file cut short is padded with
# zeros. Either way the tar stays valid and the build goes on, and the file is named as changed. (The
# docker CLI fails the whole build instead: "archive/tar: write too long" or "missed writing N bytes".)
def _small_file(fh: BinaryIO, size: int) -> tuple[bytes, bool]:
    """The open file's content, read once, and whether it changed meanwhile (it is sent as read)."""
    with fh:
        before = os.fstat(fh.fileno())
        data = fh.read(size)
        return data, not _same(before, os.fstat(fh.fileno())) or len(data) != size


def _large_file(fh: BinaryIO, size: int, extra: bytes, changed: Callable[[], None]) -> Iterator[bytes]:
    """`size` bytes of the open file, zeros for any it lost meanwhile, then `extra` and the padding."""
    left = size
    with fh:
        before = os.fstat(fh.fileno())
        while left > 0:
            chunk = fh.read(min(_COPY_BUFSIZE, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
        if left or not _same(before, os.fstat(fh.fileno())):
            changed()
    while left > 0:
        pad = min(_COPY_BUFSIZE, left)
        left -= pad
        yield b"\0" * pad
    if extra:
        yield extra
    yield _pad(size + len(extra))


def _same(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)


class ContextStream:
    """The context tar of one build: `dockerfile` is its name inside the tar; iterate for the bytes.

    Everything that can be refused (a missing Dockerfile, a bad .dockerignore) is checked when the
    stream is made, before any build; the files are read only while the stream is consumed, once.
    `sent_bytes` counts what was produced so far, `finished_at` is set once the last chunk was taken.
    `vanished`: context paths listed but gone when read, left out; `changed`: files that changed while
    read, sent as described above _small_file (both complete once the stream is consumed).
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
        self.vanished: list[str] = []
        self.changed: list[str] = []
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
        for entry in walk_context(self.root, self.ignore, on_vanished=self.vanished.append):
            st = entry.st
            if outside is not None and entry.rel == DOCKERIGNORE and not stat.S_ISDIR(st.st_mode):
                try:
                    with open(entry.path, "rb") as fh:  # small, read whole (followed, as when it was parsed)
                        data = fh.read()
                except FileNotFoundError:
                    self.vanished.append(entry.rel)
                    continue
                except OSError as e:
                    raise _read_error(entry.path, e) from None
                extra = self.overrides.get((st.st_dev, st.st_ino), b"") if stat.S_ISREG(st.st_mode) else b""
                data += extra + b"\n" + outside[0].encode() + b"\n"
                yield _head(_regular_header(DOCKERIGNORE, len(data), stat.S_IMODE(st.st_mode), int(st.st_mtime)))
                yield data + _pad(len(data))
                sent_ignore = True
                continue
            if not stat.S_ISREG(st.st_mode):
                try:
                    ti = _header(entry, hardlinks)
                except OSError as e:  # a symlink gone (ENOENT) or replaced (EINVAL) since listed
                    if e.errno not in (errno.ENOENT, errno.EINVAL):
                        raise
                    self.vanished.append(entry.rel)
                    continue
                if ti is not None:
                    yield _head(ti)
                continue
            key = (st.st_dev, st.st_ino)
            extra = self.overrides.get(key, b"")
            ti = _header(entry, hardlinks)
            assert ti is not None
            if ti.type == tarfile.LNKTYPE:
                yield _head(ti)
                continue
            opened = open_listed(entry.path)
            if opened is None:
                self.vanished.append(entry.rel)
                continue
            fh, now = opened
            if st.st_nlink > 1:
                hardlinks[key] = entry.rel
            if now.st_size <= _COPY_BUFSIZE:
                data, moved = _small_file(fh, now.st_size)
                ti.size = len(data) + len(extra)
                yield _head(ti) + data + extra + _pad(ti.size)
            else:
                moved = False
                ti.size = now.st_size + len(extra)
                yield _head(ti)
                yield from _large_file(fh, now.st_size, extra, lambda rel=entry.rel: self.changed.append(rel))
            if moved:
                self.changed.append(entry.rel)
        if outside is not None:
            name, content, mtime = outside
            yield _head(_regular_header(name, len(content), 0o600, mtime)) + content + _pad(len(content))
            if not sent_ignore and not self.buildkit:  # BuildKit never reads it; COPY . . would copy it
                data = f"{DOCKERIGNORE}\n{name}\n".encode()
                yield _head(_regular_header(DOCKERIGNORE, len(data), 0o600, mtime)) + data + _pad(len(data))


def _listed(paths: list[str], most: int = 5) -> str:
    shown = ", ".join(repr(p)[1:-1] for p in paths[:most])  # escaped: a name may hold any byte
    return shown + (f" (+{len(paths) - most} more)" if len(paths) > most else "")


def read_warnings(stream: ContextStream) -> list[str]:
    """One line each for files that vanished or changed while the stream was read (none when neither)."""
    out = []
    if stream.vanished:
        out.append(f"{len(stream.vanished)} context path(s) vanished while read, left out of the build: "
                   f"{_listed(stream.vanished)}")
    if stream.changed:
        out.append(f"{len(stream.changed)} context file(s) changed while read, sent as read once: "
                   f"{_listed(stream.changed)}; is something writing into the context?")
    return out


def make_tar(context_dir: Path, dockerfile: Path, *, buildkit: bool = False,
             overrides: Overrides | None = None) -> tuple[bytes, str]:
    """The whole tar in memory and the Dockerfile's name inside it (tests and small contexts only)."""
    stream = ContextStream(context_dir, dockerfile, buildkit=buildkit, overrides=overrides)
    return b"".join(stream), stream.dockerfile
