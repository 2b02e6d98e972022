"""The context walk the docker CLI does (moby's TarWithOptions order), with .dockerignore applied."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import UsageError
from .dockerignore import DockerIgnore

if TYPE_CHECKING:
    pass


DOCKERIGNORE = ".dockerignore"


OUTSIDE_DOCKERFILE_PREFIX = ".cacheprof-Dockerfile-"
_COPY_BUFSIZE = 1 << 20


@dataclass(frozen=True)
class ContextEntry:
    rel: str  # slash path relative to the context root
    path: str  # path on disk
    st: os.stat_result  # lstat: symlinks are never followed


def resolve_context(context_dir: Path) -> str:
    """The context directory, symlinks resolved (as the CLI does), or a UsageError saying what is wrong."""
    try:
        st = os.stat(context_dir)
    except FileNotFoundError:
        raise UsageError(f"build context not found: {context_dir}; pass an existing directory") from None
    except OSError as e:
        raise UsageError(f"cannot access build context {context_dir}: {e.strerror}; check the path") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(
            f"build context {context_dir} is not a directory; pass the directory that holds your sources"
        )
    return os.path.realpath(context_dir)


# Something (a dev server's logs and caches) removes files while the walk runs: such a file is left out and
# named through `on_vanished`, never an error. What is sent is then the context as it was a moment later.
Vanished = Callable[[str], None]


def _ignore_vanished(rel: str) -> None:
    pass


def _sorted_dir(path: str, rel: str = "", on_vanished: Vanished | None = None) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except (FileNotFoundError, NotADirectoryError):
        if on_vanished is None:  # the root itself
            raise UsageError(f"build context {path} vanished while cacheprof read it") from None
        on_vanished(rel)  # listed as a directory, gone (or replaced) when entered: sent empty
        return []
    except PermissionError:
        raise UsageError(
            f"cannot read directory {path} in the build context: permission denied; "
            "fix its permissions or exclude it in .dockerignore"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read directory {path} in the build context: {e.strerror}") from None
    # Go's WalkDir order: names compared as bytes.
    entries.sort(key=lambda d: os.fsencode(d.name))
    return entries


def walk_context(root: str, ignore: DockerIgnore | None, start: str = "",
                 on_vanished: Vanished = _ignore_vanished) -> Iterator[ContextEntry]:
    """The entries the CLI's tar walk sends, in its order (depth first, names sorted).

    An excluded directory is entered only when an exception pattern starts with its path, and then its
    own entry is not sent; `ignore=None` walks everything. `start`: only below this directory (a
    context-relative path of a real directory; with `ignore=None` only). `on_vanished`: called with the
    relative path of an entry that was listed but gone when looked at; it is left out.
    """
    assert not start or ignore is None
    stack: list[tuple[Iterator[os.DirEntry[str]], str, list[bool] | None]] = [
        (iter(_sorted_dir(os.path.join(root, start) if start else root)), start, None)
    ]
    active = ignore if ignore else None
    while stack:
        it, dir_rel, info = stack[-1]
        de = next(it, None)
        if de is None:
            stack.pop()
            continue
        rel = f"{dir_rel}/{de.name}" if dir_rel else de.name
        try:
            st = de.stat(follow_symlinks=False)
        except FileNotFoundError:
            on_vanished(rel)
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        skip, child_info = False, None
        if active is not None:
            skip, child_info = active.matches_using_parent(rel, info)
            if skip and not (is_dir and active.may_reinclude_under(rel)):
                continue
        if not skip:
            yield ContextEntry(rel, de.path, st)
        if is_dir:
            stack.append((iter(_sorted_dir(de.path, rel, on_vanished)), rel, child_info))


def _read_error(path: str, e: OSError) -> UsageError:
    if isinstance(e, PermissionError):
        return UsageError(f"cannot read {path} in the build context: permission denied; "
                          "fix its permissions or exclude it in .dockerignore")
    return UsageError(f"cannot read {path} in the build context: {e.strerror}")


def _open_regular(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as e:
        raise _read_error(path, e) from None


def _nofollow(path: str, flags: int) -> int:
    # Never follow a name that became a symlink after the listing (it could point out of the context), and
    # never block on one that became a FIFO.
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def open_listed(path: str) -> tuple[BinaryIO, os.stat_result] | None:
    """A file the walk listed as regular, opened, and its stat as opened; None when it has vanished or is
    no longer a regular file. Once open it can no longer vanish (the open file keeps its content)."""
    try:
        fh = open(path, "rb", opener=_nofollow)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:  # replaced by a symlink
            return None
        raise _read_error(path, e) from None
    st = os.fstat(fh.fileno())
    if not stat.S_ISREG(st.st_mode):
        fh.close()
        return None
    return fh, st


def _sent_files(root: str, ignore: DockerIgnore) -> list[str]:
    return [e.rel for e in walk_context(root, ignore) if stat.S_ISREG(e.st.st_mode)]


def context_fingerprint(context_dir: Path) -> str:
    """sha256 over every entry's relative path, mode, and content (or symlink target)."""
    root = resolve_context(context_dir)
    h = hashlib.sha256()
    for entry in walk_context(root, None):
        mode = entry.st.st_mode
        h.update(os.fsencode(entry.rel) + f"\0{mode:o}\0".encode())
        if stat.S_ISREG(mode):
            opened = open_listed(entry.path)
            if opened is not None:  # else vanished since listed: fingerprinted as gone
                fh, st = opened
                with fh:
                    h.update(f"{st.st_size}\0".encode())
                    while chunk := fh.read(_COPY_BUFSIZE):
                        h.update(chunk)
        elif stat.S_ISLNK(mode):
            h.update(os.fsencode(os.readlink(entry.path)))
        h.update(b"\0\0")
    return h.hexdigest()
