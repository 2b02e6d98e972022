"""Atomic file writes: a temporary file in the same folder, flushed, then renamed into place.

A reader (a later bench run, `cacheprof report`) sees either the old file or the whole new one, never a
truncated one left by a full disk or a killed process.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_bytes(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` to `path` atomically. `exclusive`: fail with FileExistsError if `path` exists."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if path exists, unlike rename
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str, *, exclusive: bool = False) -> None:
    # surrogateescape: names read from the file system as undecodable bytes round-trip unchanged.
    write_bytes(path, text.encode("utf-8", "surrogateescape"), exclusive=exclusive)


def check_writable(folder: Path) -> None:
    """Raise OSError unless a file can be created in `folder` (made if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".cacheprof-probe-")
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
        os.unlink(tmp)
