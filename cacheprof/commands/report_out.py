"""The report folder seen from the terminal: claim it before building, say where the report is after."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from ..render.progress import LiveProgress
from ..render.report_dir import prepare_report_dir


def claim(out: Path | None, context: Path, label: str, force: bool) -> Path:
    """The run's report folder, created now (so a bad --out fails before any build); warnings on stderr."""
    chosen = prepare_report_dir(out, context, label, force=force)
    for w in chosen.warnings:
        click.echo(f"cacheprof: warning: {w}", err=True)
    return chosen.path


def announce(page: Path, open_report: bool) -> None:
    """The page's absolute path on stderr (stdout may be a JSON document), and open it when asked."""
    if not page.is_file():
        return
    path = page.resolve()
    # Relative to the current folder when below it (short, so it fits a line), else absolute.
    rel = os.path.relpath(path)
    click.echo(f"report: {path if rel.startswith('..') else rel}", err=True)
    if open_report:
        click.launch(str(path))


def make_progress(mode: str, quiet: bool) -> LiveProgress:
    return LiveProgress(quiet=quiet, mode="quiet" if quiet else mode)


def write_summary(path: Path | None, render: Callable[[], str]) -> None:
    """Append the job summary to `path` (GitHub appends the steps' summaries into one page)."""
    if path is None or not str(path):
        return
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(render())
    except OSError as e:
        click.echo(f"cacheprof: warning: cannot write the job summary {path}: {e.strerror}", err=True)


@contextlib.contextmanager
def announcing(page: Path, open_report: bool) -> Iterator[None]:
    """Say where the report is after the block, also when the block fails on a closed stdout."""
    try:
        yield
    finally:
        announce(page, open_report)
