"""Where a report folder goes: never into the user's build context unless they ask, one folder per run.

A report written inside the context is sent with the next `docker build .` and, under `COPY . .`, busts
the cache on every run. The default is `reports/` in the current folder when that is outside the
context, else the user cache folder (`$XDG_CACHE_HOME/cacheprof/reports/`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError


@dataclass(frozen=True)
class ReportDir:
    path: Path
    # One line each, for stderr: an --out inside the context.
    warnings: tuple[str, ...] = ()


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` or below it, symlinks resolved (a path need not exist yet)."""
    p, f = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return p == f or f in p.parents


def candidate_roots(context: Path, cwd: Path, env: Mapping[str, str]) -> list[Path]:
    """Roots for default report folders, in order of preference, none inside the context."""
    cache = Path(env.get("XDG_CACHE_HOME") or Path(env.get("HOME") or Path.home()) / ".cache")
    roots = [cwd / "reports", cache / "cacheprof" / "reports", Path(tempfile.gettempdir()) / "cacheprof-reports"]
    return [r for r in roots if not is_inside(r, context)]


def folder_name(label: str, now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]+', '-', label).strip('-') or 'context'}"


def claim_new_dir(root: Path, name: str) -> Path:
    """Create root/name, or name-2, name-3, ...: mkdir is atomic, so two runs started in the same second
    never share (and overwrite) one folder."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = root / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UsageError(f"cannot find a free report folder name under {root}; pass --out")


def prepare_report_dir(out: Path | None, context: Path, label: str, *, force: bool = False,
                       cwd: Path | None = None, env: Mapping[str, str] | None = None) -> ReportDir:
    """The report folder of this run, created. `label` names a default folder (e.g. `compare-myapp`).

    An explicit `out` that exists and holds files is refused unless `force` (its old files would mix
    with this run's); one inside the context is used, with a warning.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    try:
        if out is None:
            roots = candidate_roots(context, cwd, env)
            if not roots:
                raise UsageError(f"every default report folder is inside the build context {context}; pass --out")
            last: OSError | None = None
            for root in roots:
                try:
                    return ReportDir(claim_new_dir(root, folder_name(label)))
                except OSError as e:  # an unwritable cwd: try the next root
                    last = e
            assert last is not None
            raise last
        warnings: list[str] = []
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: exists and is not a folder; pass a new folder")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise UsageError(f"--out {out}: the folder exists and is not empty; pass a new folder, or --force to "
                             "write into it")
        if is_inside(out, context):
            warnings.append(f"--out {out} is inside the build context: the next `docker build` sends the report "
                            "along and a `COPY . .` busts the cache; add it to .dockerignore or pick a folder "
                            "outside")
        out.mkdir(parents=True, exist_ok=True)
        return ReportDir(out, tuple(warnings))
    except OSError as e:
        where = out if out is not None else "the default report folder"
        raise UsageError(f"cannot create {where}: {e.strerror}; pass a writable --out") from None
