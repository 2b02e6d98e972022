"""`edit:` scenarios: the bytes an edit appends to the files it matches, and default edit targets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .dockerignore import DockerIgnore, clean_path

if TYPE_CHECKING:
    from ..dockerfile import DockerfileModel

from .globs import _escape_glob, _has_wildcard, _matching_entries, _path_matcher
from .walk import DOCKERIGNORE, _sent_files, resolve_context

_BINARY_PROBE = 8192


def _edit_bytes(path: str, size: int, nonce: str) -> bytes:
    """What an edit appends to one file: `# cacheprof edit <nonce>` as a last line for text, the nonce
    bytes for binary files (a NUL byte in the first 8 KiB). Only reads the file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        head = fh.read(_BINARY_PROBE)
        if b"\0" in head:
            return nonce.encode()
        last = b""
        if size:
            fh.seek(size - 1)
            last = fh.read(1)
    return (b"\n" if size and last != b"\n" else b"") + f"# cacheprof edit {nonce}\n".encode()


@dataclass(frozen=True)
class Edit:
    """An `edit:<glob>` as overrides for the tar (see context.tar): the user's files are never written."""

    files: tuple[str, ...]  # the context-relative files the glob matched, sorted
    overrides: dict[tuple[int, int], bytes]  # (st_dev, st_ino) -> bytes appended to that file


def plan_edit(context_dir: Path, glob: str, nonce: str) -> Edit:
    """Change the content of every regular file the glob matches (ignored ones too; symlinks never).

    Hard-linked files are edited once. A matched file that cannot be read and that .dockerignore
    excludes is left alone: it is never sent anyway.
    """
    root = resolve_context(context_dir)
    ignore: DockerIgnore | None = None
    edited: list[str] = []
    overrides: dict[tuple[int, int], bytes] = {}
    for entry in _matching_entries(root, glob):
        key = (entry.st.st_dev, entry.st.st_ino)
        edited.append(entry.rel)
        if key in overrides:
            continue
        try:
            overrides[key] = _edit_bytes(entry.path, entry.st.st_size, nonce)
        except OSError as e:
            ignore = ignore if ignore is not None else DockerIgnore.for_context(Path(root))
            if ignore.excluded(entry.rel):
                continue
            raise UsageError(f"cannot read {entry.path} in the build context: {e.strerror}; "
                             "fix its permissions or exclude it in .dockerignore") from None
    if not edited:
        raise UsageError(
            f"edit:{glob} matches no file in the context {context_dir}; give files relative to the "
            "context, e.g. edit:src/*.py or edit:requirements.txt"
        )
    return Edit(tuple(sorted(edited)), overrides)


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
