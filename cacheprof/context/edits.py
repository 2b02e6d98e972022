"""`edit:` scenarios: the bytes an edit appends to the files it matches, and default edit targets."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .dockerignore import DockerIgnore, clean_path

if TYPE_CHECKING:
    from ..dockerfile import DockerfileModel, Instruction

from .globs import _escape_glob, _has_wildcard, _matching_entries, _path_matcher
from .walk import _sent_files, resolve_context

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


# Never an edit target: what a developer edits to change the build, not the app (Dockerfiles of any
# spelling, Containerfiles, .dockerignore files).
_BUILD_FILE = re.compile(
    r"(^|/)((docker|container)file([.-][^/]*)?|[^/]*[._-](docker|container)file|[^/]*\.dockerignore)$", re.I)
# Files a developer edits as code (what an edit: scenario stands for), by extension.
SOURCE_SUFFIXES = frozenset(
    ".py .pyi .js .mjs .cjs .jsx .ts .tsx .vue .svelte .go .rs .java .kt .kts .scala .groovy .c .h .cc .cpp .hpp "
    ".cs .fs .vb .rb .php .pl .pm .lua .swift .m .mm .ex .exs .erl .hs .ml .clj .dart .r .jl .sh .bash .sql "
    ".html .css .scss .sass .less .tmpl .proto".split())
# Text that documents rather than builds: picked only when nothing else is copied.
_DOC = re.compile(r"(^|/)(docs?|examples?)/|(^|/)(readme|changelog|changes|license|licence|copying|authors|"
                  r"contributing|notice)([._-][^/]*)?$|\.(md|rst|adoc)$", re.I)


def is_build_file(rel: str) -> bool:
    """A Dockerfile, Containerfile or .dockerignore under any of their usual names (not dockerfile.py)."""
    return bool(_BUILD_FILE.search(rel)) and os.path.splitext(rel)[1].lower() not in SOURCE_SUFFIXES


@dataclass(frozen=True)
class EditTarget:
    """A default `edit:` scenario: the file, the COPY/ADD it stands for, and why this file."""

    glob: str
    source: str
    line: int
    reason: str


def _named_by(rel: str, later: Sequence[Instruction]) -> Instruction | None:
    """The first later instruction (RUN, CMD, ENTRYPOINT) whose text names the file or its path."""
    base = rel.rpartition("/")[2]
    pattern = re.compile(rf"(?<![\w.-])(\./)?({re.escape(rel)}|{re.escape(base)})(?![\w-])")
    for ins in later:
        if ins.cmd in ("RUN", "CMD", "ENTRYPOINT") and pattern.search(ins.original.partition(" ")[2]):
            return ins
    return None


def _choose(files: Iterable[str], later: Sequence[Instruction]) -> tuple[str, str] | None:
    """The file a developer would edit, and why: one a later step names, else a source file, else any
    file that is not documentation, else documentation; never a build file; hidden paths last."""
    best: tuple[tuple[int, bool, int, str], str, str] | None = None
    for rel in files:
        if is_build_file(rel):
            continue
        hidden = any(part.startswith(".") for part in rel.split("/"))
        named = _named_by(rel, later)
        suffix = os.path.splitext(rel)[1].lower()
        if named is not None:
            rank, why = 0, f"`{_short(named.original)}` (line {named.line}) reads it"
        elif suffix in SOURCE_SUFFIXES:
            rank, why = 1, f"a {suffix} source file"
        elif not _DOC.search(rel):
            rank, why = 2, "the first file it copies that is not documentation"
        else:
            rank, why = 3, "it copies only documentation"
        key = (rank, hidden, rel.count("/"), rel)
        if best is None or key < best[0]:
            best = (key, rel, why)
    return None if best is None else (best[1], best[2])


def _short(text: str, width: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def pick_edit_target(
    context_dir: Path, source: str, dockerignore: DockerIgnore | None = None, *,
    excludes: Sequence[str] = (), avoid: Iterable[str] = (),
) -> str | None:
    """One regular file under the context that a COPY/ADD `source` copies and .dockerignore lets through.

    `dockerignore` defaults to the context's own. Never a Dockerfile or .dockerignore (any name, see
    `is_build_file`) nor a path in `avoid`. Returns a context-relative path, or None when the source copies
    no such file.
    """
    root = resolve_context(context_dir)
    ignore = dockerignore if dockerignore is not None else DockerIgnore.for_context(Path(root))
    skip = set(avoid)
    files = [f for f in _source_files(_sent_files(root, ignore), source, excludes, root) if f not in skip]
    chosen = _choose(files, ())
    return chosen[0] if chosen else None


def default_edits(context_dir: Path, model: DockerfileModel) -> list[EditTarget]:
    """One edit target per distinct COPY/ADD context source of the Dockerfile, in Dockerfile order, each
    with the reason it was chosen.

    A broad source (`.`) gets a file no other source copies when there is one, else one that no
    narrower source copies, so its edit measures that COPY rather than an earlier one. Within those, see
    `_choose`: never a Dockerfile, a .dockerignore or an ignored file; first a file a later step of the
    same stage names. A source that copies only build files gets no edit.
    """
    root = resolve_context(context_dir)
    files = _sent_files(root, DockerIgnore.for_context(Path(root)))

    covered: dict[tuple[str, tuple[str, ...]], tuple[Instruction, set[str]]] = {}
    for instr, src in model.copy_sources():
        excludes = tuple(f.split("=", 1)[1] for f in instr.flags if f.startswith("--exclude="))
        key = (clean_path("/" + src).lstrip("/"), excludes)
        if key not in covered:
            covered[key] = (instr, set(_source_files(files, src, excludes, root)))

    out: list[EditTarget] = []
    for key, (instr, mine) in covered.items():
        mine = {f for f in mine if not is_build_file(f)}
        if not mine:
            continue
        others = [c for k, (_, c) in covered.items() if k != key]
        alone = mine.difference(*others)
        narrower = mine.difference(*(c for c in others if len(c) < len(mine)))
        stage = next(s for s in model.stages if instr in s.instructions)
        later = [i for i in stage.instructions if i.line > instr.line]
        chosen = _choose(alone or narrower or mine, later)
        if chosen is None:
            continue
        rel, why = chosen
        glob = _escape_glob(rel)
        if any(e.glob == glob for e in out):
            continue
        source = _short(instr.original)
        out.append(EditTarget(glob, key[0] or ".", instr.line, f"for `{source}` (line {instr.line}): {why}"))
    return out


def default_edit_globs(context_dir: Path, model: DockerfileModel) -> list[str]:
    """The globs of `default_edits`."""
    return [e.glob for e in default_edits(context_dir, model)]
