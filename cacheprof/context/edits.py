"""`edit:` scenarios: scratch copies of the context with edited files, and default edit targets."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ..errors import UsageError
from .dockerignore import DockerIgnore, clean_path

if TYPE_CHECKING:
    from ..dockerfile import DockerfileModel

from .globs import _escape_glob, _has_wildcard, _matching_entries, _path_matcher
from .walk import DOCKERIGNORE, _sent_files, resolve_context

_BINARY_PROBE = 8192


def _copy_tree(src_root: str, dst_root: str, ignore: DockerIgnore) -> None:
    """Copy a tree keeping symlinks, hard links between its files, modes and times.

    Entries Docker would not send anyway may be unreadable: those are left out instead of failing.
    """
    dirs: list[tuple[str, os.stat_result]] = []
    linked: dict[tuple[int, int], str] = {}
    stack: list[tuple[str, str]] = [("", src_root)]
    while stack:
        rel_dir, src_dir = stack.pop()
        try:
            with os.scandir(src_dir) as it:
                entries = list(it)
        except OSError as e:
            if rel_dir and ignore.excluded(rel_dir):
                continue
            raise UsageError(f"cannot read directory {src_dir} in the build context: {e.strerror}; "
                             "fix its permissions or exclude it in .dockerignore") from None
        for de in entries:
            rel = f"{rel_dir}/{de.name}" if rel_dir else de.name
            dst = os.path.join(dst_root, rel)
            st = de.stat(follow_symlinks=False)
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                os.mkdir(dst, 0o700)  # real mode set once its content is copied
                dirs.append((dst, st))
                stack.append((rel, de.path))
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(de.path), dst)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            elif stat.S_ISREG(mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in linked:
                    os.link(linked[key], dst)
                    continue
                try:
                    shutil.copyfile(de.path, dst, follow_symlinks=False)
                except PermissionError:
                    if ignore.excluded(rel):
                        continue
                    raise UsageError(f"cannot read {de.path} in the build context: permission denied; "
                                     "fix its permissions or exclude it in .dockerignore") from None
                os.chmod(dst, stat.S_IMODE(mode))
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
                if st.st_nlink > 1:
                    linked[key] = dst
            elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                try:
                    os.mknod(dst, mode, st.st_rdev)
                except PermissionError:
                    continue  # only root can make device nodes; nothing a build could use anyway
                os.chmod(dst, stat.S_IMODE(mode))
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            # sockets are not copied: Docker never sends them
    for dst, st in reversed(dirs):  # children first, so parents keep their times and read-only modes
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _remove_tree(top: str) -> None:
    """rmtree that also gets through read-only or unlistable directories copied from the user's tree."""

    def make_writable(path: str) -> None:
        try:
            # Only real directories inside our tree: chmod would follow a symlink to the user's files.
            if path.startswith(top) and stat.S_ISDIR(os.lstat(path).st_mode):
                os.chmod(path, 0o700)
        except OSError:
            pass

    def on_error(func: Callable[..., object], path: str, exc: object) -> None:
        err = exc[1] if isinstance(exc, tuple) else exc
        if isinstance(err, FileNotFoundError):
            return
        make_writable(os.path.dirname(path))
        make_writable(path)
        try:
            if func in (os.rmdir, os.unlink, os.remove):
                func(path)
            elif stat.S_ISDIR(os.lstat(path).st_mode):
                _rmtree(path)
        except FileNotFoundError:
            pass

    def _rmtree(path: str) -> None:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=on_error)
        else:
            shutil.rmtree(path, onerror=on_error)

    if os.path.lexists(top):
        _rmtree(top)


def _append_edit(path: str, nonce: str) -> None:
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    writable = os.access(path, os.R_OK | os.W_OK, follow_symlinks=False)
    if not writable:
        os.chmod(path, mode | 0o600)  # a read-only source file; its mode is restored below
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb+") as fh:
            head = fh.read(_BINARY_PROBE)
            size = fh.seek(0, os.SEEK_END)
            if b"\0" in head:
                data = nonce.encode()
            else:
                data = b""
                if size:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        data = b"\n"
                data += f"# cacheprof edit {nonce}\n".encode()
            fh.seek(0, os.SEEK_END)
            fh.write(data)
    finally:
        if not writable:
            os.chmod(path, mode)


class TempContext:
    """A scratch copy of a build context in a fresh temporary directory, removed on exit.

    The user's directory is only read. Use `path` (and `map_path`) inside the `with` block.
    """

    def __init__(self, context_dir: Path) -> None:
        self.source = Path(context_dir)
        self._root: str | None = None
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("TempContext used outside its with block")
        return self._path

    def __enter__(self) -> TempContext:
        root = resolve_context(self.source)
        ignore = DockerIgnore.for_context(Path(root))
        tmp = tempfile.mkdtemp(prefix="cacheprof-ctx-")
        try:
            _copy_tree(root, tmp, ignore)
        except BaseException:
            _remove_tree(tmp)
            raise
        self._root, self._path = root, Path(tmp)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._path is not None:
            _remove_tree(str(self._path))
            self._path = None

    def map_path(self, path: Path) -> Path:
        """Where a path inside the original context lives in the copy; other paths are returned as is."""
        assert self._root is not None
        real = os.path.realpath(path)
        rel = os.path.relpath(real, self._root)
        if rel == ".." or rel.startswith(".." + os.sep):
            return Path(path)
        return self.path / rel

    def apply_edit(self, glob: str, nonce: str) -> list[str]:
        """Change the content of every file of the copy the glob matches; returns their paths, sorted.

        Text files get `# cacheprof edit <nonce>` as a last line, binary files (a NUL byte in the first
        8 KiB) the nonce bytes. Symlinks are never followed; hard-linked files are edited once.
        """
        edited: list[str] = []
        done: set[tuple[int, int]] = set()
        for entry in _matching_entries(str(self.path), glob):
            key = (entry.st.st_dev, entry.st.st_ino)
            if key not in done:
                _append_edit(entry.path, nonce)
                done.add(key)
            edited.append(entry.rel)
        if not edited:
            raise UsageError(
                f"edit:{glob} matches no file in the context {self.source}; give files relative to the "
                "context, e.g. edit:src/*.py or edit:requirements.txt"
            )
        return sorted(edited)


def _source_files(files: Sequence[str], source: str, excludes: Sequence[str], root: str) -> list[str]:
    """The files of `files` a COPY/ADD source copies, minus those its --exclude patterns leave out."""
    src = clean_path("/" + source).lstrip("/")
    match = _path_matcher(src, bang_negates=False)
    picked = [f for f in files if match(f)]
    if not excludes or not picked:
        return picked
    # BuildKit applies --exclude below the source; take the source's fixed directory part as the base.
    if _has_wildcard(src):
        parts = src.split("/")
        fixed = []
        for part in parts:
            if _has_wildcard(part):
                break
            fixed.append(part)
        base = "/".join(fixed)
    elif src and os.path.isdir(os.path.join(root, src)):
        base = src
    else:
        base = src.rpartition("/")[0]
    ex = DockerIgnore(excludes, source="COPY --exclude")
    return [f for f in picked if not ex.excluded(f[len(base) + 1 :] if base else f)]


def _preference(avoid: set[str]) -> Callable[[str], tuple[bool, bool, str]]:
    # Deterministic: avoid the build files, then hidden paths (.git/..., .env), then the first sorted.
    def key(rel: str) -> tuple[bool, bool, str]:
        return rel in avoid, any(part.startswith(".") for part in rel.split("/")), rel

    return key


def pick_edit_target(
    context_dir: Path, source: str, dockerignore: DockerIgnore | None = None, *,
    excludes: Sequence[str] = (), avoid: Iterable[str] = (),
) -> str | None:
    """One regular file under the context that a COPY/ADD `source` copies and .dockerignore lets through.

    `dockerignore` defaults to the context's own. The build files (.dockerignore, `Dockerfile` and
    `avoid`) are picked only when nothing else qualifies. Returns a context-relative path, or None when
    the source copies no such file.
    """
    root = resolve_context(context_dir)
    ignore = dockerignore if dockerignore is not None else DockerIgnore.for_context(Path(root))
    files = _source_files(_sent_files(root, ignore), source, excludes, root)
    if not files:
        return None
    return min(files, key=_preference({DOCKERIGNORE, "Dockerfile", *avoid}))


def default_edit_globs(context_dir: Path, model: DockerfileModel) -> list[str]:
    """One edit target per distinct COPY/ADD context source of the Dockerfile, in Dockerfile order.

    A broad source (`.`) gets a file no other source copies when there is one, else one that no
    narrower source copies, so its edit measures that COPY rather than an earlier one.
    """
    root = resolve_context(context_dir)
    files = _sent_files(root, DockerIgnore.for_context(Path(root)))
    avoid = {DOCKERIGNORE}
    df_rel = os.path.relpath(os.path.realpath(model.path), root)
    if not (df_rel == ".." or df_rel.startswith(".." + os.sep)):
        avoid.add(df_rel.replace(os.sep, "/"))

    covered: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for instr, src in model.copy_sources():
        excludes = tuple(f.split("=", 1)[1] for f in instr.flags if f.startswith("--exclude="))
        key = (clean_path("/" + src).lstrip("/"), excludes)
        if key not in covered:
            covered[key] = set(_source_files(files, src, excludes, root))

    prefer = _preference(avoid)
    out: list[str] = []
    for key, mine in covered.items():
        if not mine:
            continue
        others = [c for k, c in covered.items() if k != key]
        alone = mine.difference(*others)
        narrower = mine.difference(*(c for c in others if len(c) < len(mine)))
        pick = _escape_glob(min(alone or narrower or mine, key=prefer))
        if pick not in out:
            out.append(pick)
    return out
