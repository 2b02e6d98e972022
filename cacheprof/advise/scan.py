"""The only file I/O of advise: the context's files as the docker CLI sends them, and their text.

Everything else in the package is pure and works on a `ContextFiles`, so tests (and prediction) can build
one from a dict.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..context.dockerignore import DockerIgnore
from ..context.walk import resolve_context, walk_context

_READ_LIMIT = 1 << 20  # manifests are small; a larger file is read only this far


@dataclass(frozen=True)
class ContextFiles:
    """The regular files the docker CLI would send (context-relative slash paths) and their directories."""

    files: frozenset[str]
    dirs: frozenset[str]  # every directory holding a sent file; "" is the context root
    texts: Mapping[str, str] = field(default_factory=dict, compare=False)  # read on demand, or given
    root: Path | None = None

    @classmethod
    def from_files(cls, files: Mapping[str, str]) -> ContextFiles:
        """A context from {path: text}, no disk involved."""
        return cls(frozenset(files), _dirs_of(files), dict(files))

    def text(self, rel: str) -> str:
        if rel in self.texts:
            return self.texts[rel]
        if self.root is None or rel not in self.files:
            return ""
        try:
            with open(self.root / rel, "rb") as fh:
                text = fh.read(_READ_LIMIT).decode("utf-8", "replace")
        except OSError:
            text = ""
        self.texts[rel] = text  # type: ignore[index]  # a cache; the dataclass is frozen for its fields only
        return text


def _dirs_of(files) -> frozenset[str]:
    dirs = {""}
    for f in files:
        parts = f.split("/")[:-1]
        dirs.update("/".join(parts[: k + 1]) for k in range(len(parts)))
    return frozenset(dirs)


def scan_context(context: Path) -> ContextFiles:
    """The context as the docker CLI sends it (.dockerignore applied)."""
    root = resolve_context(context)
    ignore = DockerIgnore.for_context(Path(root))
    files = frozenset(e.rel for e in walk_context(root, ignore) if stat.S_ISREG(e.st.st_mode))
    return ContextFiles(files, _dirs_of(files), {}, Path(root))
