"""What `bench` and `history` share (not a command): the --history and threshold options, and turning the
history's rows into a check, trends, the trend report, summary.md and the dashboard exports."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])
HISTORY_ENV = "CACHEPROF_HISTORY"
TREND_RUNS = 60


def history_option(*, required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--history", "history", envvar=HISTORY_ENV, required=required, metavar="FILE|URL",
        help=f"The history: a SQLite file (e.g. reports/history.sqlite) or postgresql://user@host/db "
             f"(default: ${HISTORY_ENV}).")


def _ratio(value: str) -> float:
    text = value.strip()
    try:
        r = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"--threshold {value!r}: give a percentage like 10% or a ratio like 0.1") from None
    if not math.isfinite(r) or r < 0:
        raise UsageError(f"--threshold {value!r}: give a finite, non-negative percentage like 10%")
    return r


class _Finite(click.FloatRange):
    """A float option that must be a finite number (nan/inf would silently disable a check)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


def threshold_options(f: F) -> F:
    """The check's bars, the same for `bench` and `history report`."""
    for opt in reversed((
        click.option("--threshold", default="10%", show_default=True,
                     help="Relative bar: a timing change counts only beyond this ratio of the baseline..."),
        click.option("--min-seconds", default=0.5, show_default=True, type=_Finite(min=0),
                     help="...and beyond this many seconds..."),
        click.option("--noise-k", default=3.0, show_default=True, type=_Finite(min=0),
                     help="...and beyond K x MAD (as a standard deviation) of the baseline runs' medians."),
        click.option("--noise-floor", default=0.1, show_default=True, type=_Finite(min=0),
                     help="Smallest noise band in seconds (a baseline of identical runs has MAD 0)."),
        click.option("--window", default=10, show_default=True, type=click.IntRange(1, 1000),
                     help="Baseline: up to this many earlier comparable runs (same machine, engine version, "
                          "builder, engine)."),
        click.option("--persistence", default=2, show_default=True, type=click.IntRange(1, 100),
                     help="A timing change alarms only after this many consecutive runs beyond the bars."),
    )):
        f = opt(f)
    return f


def thresholds(kw: dict[str, Any]) -> Any:
    from ..analysis.regressions import Thresholds

    return Thresholds(ratio=_ratio(kw.pop("threshold")), min_seconds=kw.pop("min_seconds"),
                      noise_k=kw.pop("noise_k"), noise_floor_s=kw.pop("noise_floor"), window=kw.pop("window"),
                      persistence=kw.pop("persistence"))


def check_run(db: Any, uid: str, t: Any) -> Any:
    from ..analysis.regressions import check_run as check
    from ..analysis.regressions import series_from_rows

    series = series_from_rows(*db.series_rows(uid, t.window + t.persistence + 1))
    return check(series, uid, t)


def trends(db: Any, t: Any, *, last: int = TREND_RUNS) -> list[Any]:
    from ..analysis.regressions import series_from_rows
    from ..analysis.trends import trends as make

    series = series_from_rows(*db.series_rows(None, last + t.window + t.persistence + 1))
    return make(series, t, last=last)


def write_trend_report(db: Any, out: Path, t: Any, check: Any, *, last: int = TREND_RUNS) -> tuple[Path, list[Any]]:
    from ..render.trend_report import RunRow, render_trend_html

    ts = trends(db, t, last=last)
    runs = [RunRow(uid=r.uid, created_utc=r.created_utc, commit=r.suite_commit, dirty=r.suite_dirty,
                   hostname=r.hostname, failed_builds=r.failed_builds, builds=r.builds)
            for r in db.list_runs(limit=last)]
    page = render_trend_html(ts, runs, check)
    path = out / "index.html"
    try:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write the trend report in {out}: {e.strerror}") from None
    return path, ts


def write_text(path: Path, text: str, what: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write the {what} {path}: {e.strerror}") from None


def write_exports(ts: list[Any], uid: str, *, bmf: Path | None, gab: Path | None) -> None:
    from ..render.bench_summary import dumps, export_bmf, export_gab

    if bmf is not None:
        write_text(bmf, dumps(export_bmf(ts, uid)), "Bencher (BMF) export")
    if gab is not None:
        write_text(gab, dumps(export_gab(ts, uid)), "github-action-benchmark export")
