"""Globs of context paths for `edit:` scenarios and COPY sources (Go filepath.Match semantics, with `**`)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .dockerignore import clean_path

if TYPE_CHECKING:
    pass

from .walk import ContextEntry, resolve_context, walk_context


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


def _glob_base(glob: str) -> str:
    """The leading components of a glob that hold no wildcard or escape: nothing outside them can match."""
    g = clean_path("/" + glob.strip()).lstrip("/")
    fixed: list[str] = []
    for part in g.split("/") if g else []:
        if any(c in part for c in "*?[\\"):
            break
        fixed.append(part)
    return "/".join(fixed)


def _matching_entries(root: str, glob: str) -> Iterator[ContextEntry]:
    """Regular files the glob matches, walking only below its fixed part (a whole context can be large;
    like the full walk, a symlinked directory is never entered)."""
    match = _path_matcher(glob)
    base = _glob_base(glob)
    path = root
    parts = base.split("/") if base else []
    for i, part in enumerate(parts):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)
        except OSError:
            return
        if not stat.S_ISDIR(st.st_mode):
            if i == len(parts) - 1 and stat.S_ISREG(st.st_mode) and match(base):
                yield ContextEntry(base, path, st)
            return
    for entry in walk_context(root, None, start=base):
        if stat.S_ISREG(entry.st.st_mode) and match(entry.rel):
            yield entry


def matching_files(context_dir: Path, glob: str) -> list[str]:
    """The regular files of the context an `edit:<glob>` would change (checked before any build)."""
    return sorted(e.rel for e in _matching_entries(resolve_context(context_dir), glob))


def _has_wildcard(path: str) -> bool:
    return any(c in path for c in "*?[")
