"""Build contexts: the tar the docker CLI would send, scratch copies to edit, and default edit targets.

The client, not the daemon, applies .dockerignore, so cacheprof must filter exactly as the CLI does:
its tar walk (moby's TarWithOptions), its re-inclusion of the Dockerfile and .dockerignore, and its
handling of a Dockerfile outside the context. Pure Python; never imports `docker`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from ..errors import UsageError
from .dockerignore import DockerIgnore, clean_path

if TYPE_CHECKING:
    from ..dockerfile import DockerfileModel

DOCKERIGNORE = ".dockerignore"
OUTSIDE_DOCKERFILE_PREFIX = ".cacheprof-Dockerfile-"
_COPY_BUFSIZE = 1 << 20
_BINARY_PROBE = 8192


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


def _sorted_dir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            entries = list(it)
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


def walk_context(root: str, ignore: DockerIgnore | None) -> Iterator[ContextEntry]:
    """The entries the CLI's tar walk sends, in its order (depth first, names sorted).

    An excluded directory is entered only when an exception pattern starts with its path, and then its
    own entry is not sent; `ignore=None` walks everything.
    """
    stack: list[tuple[Iterator[os.DirEntry[str]], str, list[bool] | None]] = [
        (iter(_sorted_dir(root)), "", None)
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
            raise UsageError(f"{de.path} vanished while reading the build context; is something writing "
                             "into it?") from None
        is_dir = stat.S_ISDIR(st.st_mode)
        skip, child_info = False, None
        if active is not None:
            skip, child_info = active.matches_using_parent(rel, info)
            if skip and not (is_dir and active.may_reinclude_under(rel)):
                continue
        if not skip:
            yield ContextEntry(rel, de.path, st)
        if is_dir:
            stack.append((iter(_sorted_dir(de.path)), rel, child_info))


def _open_regular(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except PermissionError:
        raise UsageError(
            f"cannot read {path} in the build context: permission denied; "
            "fix its permissions or exclude it in .dockerignore"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read {path} in the build context: {e.strerror}") from None


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


# --- scratch copies ----------------------------------------------------------------------------------


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


def _glob_regex(glob: str, *, bang_negates: bool) -> re.Pattern[str] | None:
    """A context-relative glob as a regex over slash paths; None means "the whole context".

    `*` and `?` stay within one path segment, a whole `**` segment spans directories, `[...]` is a
    character class and `\\` escapes.
    """
    g = clean_path("/" + glob.strip()).lstrip("/")
    if not g:
        return None
    out: list[str] = []
    i, n = 0, len(g)
    while i < n:
        c = g[i]
        if c == "*":
            if g.startswith("**", i) and (i == 0 or g[i - 1] == "/") and (i + 2 == n or g[i + 2] == "/"):
                if i + 2 == n:
                    out.append(".*")
                    i += 2
                else:
                    out.append("(?:.*/)?")
                    i += 3
                continue
            while i < n and g[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            end = _class_end(g, i)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append(_glob_class(g[i + 1 : end], bang_negates))
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(g[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _class_end(g: str, i: int) -> int:
    j = i + 1
    if j < len(g) and g[j] in "!^":
        j += 1
    if j < len(g) and g[j] == "]":
        j += 1
    while j < len(g) and g[j] != "]":
        j += 2 if g[j] == "\\" else 1
    return j if j < len(g) else -1


def _glob_class(body: str, bang_negates: bool) -> str:
    negated = bool(body) and (body[0] == "^" or (bang_negates and body[0] == "!"))
    if negated:
        body = body[1:]
    items: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            i += 1
            items.append(re.escape(body[i]))
        elif c == "-" and items and i + 1 < len(body):
            items.append("-")
        else:
            items.append(re.escape(c))
        i += 1
    # A negated class must not cross a directory boundary either.
    return "[^/" + "".join(items) + "]" if negated else "[" + "".join(items) + "]"


def _path_matcher(glob: str, *, bang_negates: bool = True) -> Callable[[str], bool]:
    """Matches a path when the glob matches it or one of its parent directories."""
    rx = _glob_regex(glob, bang_negates=bang_negates)
    if rx is None:
        return lambda rel: True

    def match(rel: str) -> bool:
        if rx.fullmatch(rel):
            return True
        k = rel.find("/")
        while k >= 0:
            if rx.fullmatch(rel[:k]):
                return True
            k = rel.find("/", k + 1)
        return False

    return match


def _escape_glob(rel: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", rel)


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


def _matching_entries(root: str, glob: str) -> Iterator[ContextEntry]:
    match = _path_matcher(glob)
    for entry in walk_context(root, None):
        if stat.S_ISREG(entry.st.st_mode) and match(entry.rel):
            yield entry


def matching_files(context_dir: Path, glob: str) -> list[str]:
    """The regular files of the context an `edit:<glob>` would change (checked before any build)."""
    return sorted(e.rel for e in _matching_entries(resolve_context(context_dir), glob))


# --- default edit targets ------------------------------------------------------------------------------


def _has_wildcard(path: str) -> bool:
    return any(c in path for c in "*?[")


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


def _sent_files(root: str, ignore: DockerIgnore) -> list[str]:
    return [e.rel for e in walk_context(root, ignore) if stat.S_ISREG(e.st.st_mode)]


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


def context_fingerprint(context_dir: Path) -> str:
    """sha256 over every entry's relative path, mode, and content (or symlink target)."""
    root = resolve_context(context_dir)
    h = hashlib.sha256()
    for entry in walk_context(root, None):
        mode = entry.st.st_mode
        h.update(os.fsencode(entry.rel) + f"\0{mode:o}\0".encode())
        if stat.S_ISREG(mode):
            h.update(f"{entry.st.st_size}\0".encode())
            with _open_regular(entry.path) as fh:
                while chunk := fh.read(_COPY_BUFSIZE):
                    h.update(chunk)
        elif stat.S_ISLNK(mode):
            h.update(os.fsencode(os.readlink(entry.path)))
        h.update(b"\0\0")
    return h.hexdigest()
