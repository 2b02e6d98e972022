"""The build context tar the docker CLI would send, including its handling of the Dockerfile and .dockerignore.

The client, not the daemon, applies .dockerignore, so cacheprof must filter exactly as the CLI does.
Pure Python; never imports `docker`.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .dockerignore import DockerIgnore

if TYPE_CHECKING:
    pass

from .walk import (
    _COPY_BUFSIZE,
    DOCKERIGNORE,
    OUTSIDE_DOCKERFILE_PREFIX,
    ContextEntry,
    _open_regular,
    resolve_context,
    walk_context,
)


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


def make_tar(context_dir: Path, dockerfile: Path, *, buildkit: bool = False) -> tuple[bytes, str]:
    """The build-context tar as the docker CLI sends it, and the Dockerfile's name inside it.

    `buildkit`: the tar is for `POST /build?version=2` without a session. That path never reads
    .dockerignore and copies whatever the tar holds, so an excluded .dockerignore is not sent (a
    `COPY . .` would otherwise copy it). The Dockerfile must still be sent: the daemon reads it from the tar.

    GNU format (this daemon's BuildKit rejects PAX headers). The Dockerfile and .dockerignore are sent
    even when .dockerignore excludes them; a Dockerfile outside the context is added under a name of its
    own, which is also appended to the sent .dockerignore so builds do not copy it.
    """
    root = resolve_context(context_dir)
    df_real, df_rel = _locate_dockerfile(root, dockerfile)
    ignore_path = os.path.join(root, DOCKERIGNORE)
    ignore = DockerIgnore.from_file(Path(ignore_path))
    # The CLI's TrimBuildFilesFromExcludes: re-include the two build files when excluded.
    if ignore.legacy_matches(DOCKERIGNORE) and not buildkit:
        ignore = ignore.with_patterns(["!" + DOCKERIGNORE])
    if df_rel is not None and ignore.legacy_matches(df_rel):
        ignore = ignore.with_patterns(["!" + df_rel])

    outside: tuple[str, bytes, int] | None = None
    if df_rel is None:
        with _open_regular(df_real) as fh:
            outside = (_outside_name(root, df_real), fh.read(), int(os.stat(df_real).st_mtime))

    buf = io.BytesIO()
    hardlinks: dict[tuple[int, int], str] = {}
    sent_ignore = False
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, copybufsize=_COPY_BUFSIZE) as tar:
        for entry in walk_context(root, ignore):
            if outside is not None and entry.rel == DOCKERIGNORE and not stat.S_ISDIR(entry.st.st_mode):
                with _open_regular(ignore_path) as fh:
                    data = fh.read() + b"\n" + outside[0].encode() + b"\n"
                ti = _regular_header(DOCKERIGNORE, len(data), stat.S_IMODE(entry.st.st_mode),
                                     int(entry.st.st_mtime))
                tar.addfile(ti, io.BytesIO(data))
                sent_ignore = True
                continue
            ti = _header(entry, hardlinks)
            if ti is None:
                continue
            if ti.type != tarfile.REGTYPE:
                tar.addfile(ti)
                continue
            with _open_regular(entry.path) as fh:
                try:
                    tar.addfile(ti, fh)
                except OSError:
                    raise UsageError(f"{entry.path} changed while cacheprof read the build context; retry "
                                     "when nothing writes into it") from None
        if outside is not None:
            name, content, mtime = outside
            tar.addfile(_regular_header(name, len(content), 0o600, mtime), io.BytesIO(content))
            if not sent_ignore and not buildkit:  # BuildKit never reads it; COPY . . would copy it
                data = f"{DOCKERIGNORE}\n{name}\n".encode()
                tar.addfile(_regular_header(DOCKERIGNORE, len(data), 0o600, mtime), io.BytesIO(data))
    return buf.getvalue(), outside[0] if outside is not None else str(df_rel)
