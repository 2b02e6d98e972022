"""Are two images the same result? File lists, content hashes and the run configuration.

A reordering that changes what ends up in the image is not a speed-up: `compare --check-equivalent`
runs this on both final images.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir")
FileMap = Mapping[str, tuple[str, int, str]]


def compare_images(before_files: FileMap, after_files: FileMap, before_config: Mapping[str, Any],
                   after_config: Mapping[str, Any], *, ignore_paths: Iterable[str] = (),
                   notes: Iterable[str] = ()) -> dict[str, Any]:
    """Differences between two images; `ignore_paths` are left out and named in `notes`, which also
    carries the caller's own `notes`."""
    ignored = set(ignore_paths)
    differences: list[str] = []
    b = {k: v for k, v in before_files.items() if k not in ignored}
    a = {k: v for k, v in after_files.items() if k not in ignored}
    for path in sorted(b.keys() - a.keys()):
        differences.append(f"only in BEFORE: {path}")
    for path in sorted(a.keys() - b.keys()):
        differences.append(f"only in AFTER: {path}")
    for path in sorted(a.keys() & b.keys()):
        (bt, bm, bh), (at, am, ah) = b[path], a[path]
        if bt != at:
            differences.append(f"{path}: {bt} in BEFORE, {at} in AFTER")
        elif bh != ah:
            differences.append(f"{path}: content differs")
        elif bm != am:
            differences.append(f"{path}: mode {bm:o} in BEFORE, {am:o} in AFTER")
    for key in CONFIG_KEYS:
        bv, av = before_config.get(key), after_config.get(key)
        if bv != av:
            differences.append(f"config {key}: {bv!r} in BEFORE, {av!r} in AFTER")
    notes = [*notes, *(f"{p} was left out: BuildKit without a session must receive the Dockerfile in the context, "
             "so `COPY . .` copies it even though .dockerignore excludes it"
             for p in sorted(ignored & (before_files.keys() | after_files.keys())))]
    return {
        "equivalent": not differences,
        "files_compared": len(a.keys() | b.keys()),
        "differences": differences,
        "notes": notes,
    }
