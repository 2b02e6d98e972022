"""`cacheprof history`: read the bench history back (list, show, export), import the JSON result folders of
earlier versions, and write the trend report."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import InputFormatError
from .history_outputs import history_option, threshold_options, thresholds, write_exports, write_text


def _open(history: str, *, create: bool = False) -> Any:
    from ..store.history_db import open_history

    return open_history(history, create=create)


@click.group("history")
def history() -> None:
    """The bench history database: list, show, export, import, report."""


@history.command("list")
@history_option()
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N runs.")
def list_runs(history: str, limit: int | None) -> None:
    """One line per run, oldest first."""
    with _open(history) as db:
        rows = db.list_runs(limit=limit)
    if not rows:
        click.echo("no runs yet")
    for r in rows:
        commit = (r.suite_commit or "-")[:12] + ("+dirty" if r.suite_dirty else "")
        click.echo(f"{r.uid}  {r.created_utc[:19]}  {commit:<18} {r.hostname:<16} {r.benchmarks} benchmark(s)  "
                   f"{r.builds - r.failed_builds}/{r.builds} builds ok  {r.source}")


@history.command("show")
@history_option()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def show(history: str, run_id: str, fmt: str) -> None:
    """Everything stored for RUN_ID (a unique prefix is enough)."""
    from ..store.history_json import run_to_dict

    with _open(history) as db:
        run = db.load_run(run_id)
    if fmt == "json":
        sys.stdout.write(json.dumps(run_to_dict(run), indent=1) + "\n")
        return
    load = "-" if run.load_avg is None else " ".join(f"{x:.2f}" for x in run.load_avg)
    click.echo(f"run {run.uid}  {run.created_utc}  cacheprof {run.tool_version or '?'}")
    click.echo(f"suite {run.suite} at {run.suite_commit or 'no commit'}{' (dirty)' if run.suite_dirty else ''}")
    click.echo(f"machine {run.machine.get('hostname', '?')} ({run.machine.get('cpus', '?')} CPUs), load {load}")
    for r in run.results:
        e = r.profile.engine
        click.echo(f"\n{r.benchmark} on {r.engine_name} (engine {e.version if e else '?'}, {r.builder})"
                   + (f": {r.error}" if r.error else ""))
        for b in r.profile.builds:
            d = "-" if b.duration_s is None else f"{b.duration_s:.2f} s"
            click.echo(f"  {b.scenario:<22} #{b.repeat}  {d:>9}  {'ok' if b.ok else 'FAILED'}")
            for s in b.steps:
                sd = "" if s.duration_s is None else f"{s.duration_s:.2f} s"
                click.echo(f"      L{s.line or '?':<4} {s.status.value:<6} {sd:>8}  {s.instruction[:70]}")


_CSV_FIELDS = ("run", "created_utc", "commit", "dirty", "hostname", "benchmark", "engine", "engine_version",
               "builder", "scenario", "repeat", "build_ok", "build_duration_s", "stage", "position", "line",
               "instruction", "status", "step_duration_s")


@history.command("export")
@history_option()
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per step of every build.")
@click.option("--json", "as_json", is_flag=True, help="One JSON run document per line (what `import` reads).")
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def export(history: str, as_csv: bool, as_json: bool, out: Path | None) -> None:
    """Every run, as CSV (one row per step) or JSON lines (one run document each)."""
    from ..store.history_json import run_to_dict

    if as_csv == as_json:
        raise InputFormatError("history export: give exactly one of --csv and --json")
    buf = io.StringIO()
    with _open(history) as db:
        if as_json:
            for run in db.iter_runs():
                buf.write(json.dumps(run_to_dict(run), separators=(",", ":")) + "\n")
        else:
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(_CSV_FIELDS)
            for run in db.iter_runs():
                for r in run.results:
                    version = r.profile.engine.version if r.profile.engine else ""
                    head = [run.uid, run.created_utc, run.suite_commit or "", run.suite_dirty,
                            run.machine.get("hostname", ""), r.benchmark, r.engine_name, version, r.builder]
                    for b in r.profile.builds:
                        build = [b.scenario, b.repeat, b.ok, b.duration_s]
                        if not b.steps:
                            w.writerow([*head, *build, "", "", "", "", "", ""])
                        for s in b.steps:
                            w.writerow([*head, *build, s.stage, s.position, s.line, s.instruction, s.status.value,
                                        s.duration_s])
    if out is None:
        sys.stdout.write(buf.getvalue())
    else:
        write_text(out, buf.getvalue(), "export")


@history.command("import")
@history_option()
@click.argument("source", type=click.Path(path_type=Path))
def import_(history: str, source: Path) -> None:
    """Import bench result files: a folder of *.json (the history folders of earlier versions, or files
    kept beside a history that could not be written), a single file, or `export --json` lines."""
    if source.is_dir():
        files = sorted(p for p in source.glob("*.json") if p.is_file())
    elif source.is_file():
        files = [source]
    else:
        raise InputFormatError(f"history import: {source} does not exist")
    runs = [run for f in files for run in _read_runs(f)]
    added = skipped = 0
    # Everything was read (and checked) before the first write: a bad file adds nothing.
    with _open(history, create=True) as db:
        for run in runs:
            if db.has_run(run.uid):
                skipped += 1
                continue
            db.add_run(run)
            added += 1
    click.echo(f"imported {added} run(s) into {history}" + (f"; {skipped} already there" if skipped else ""))


def _read_runs(path: Path) -> list[Any]:
    """One run document (a bench result file), or `history export --json` lines (one document each)."""
    from ..store.history_json import read_run_file, run_from_dict

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [read_run_file(path)]  # says what is wrong with the file
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) < 2 or not all(line.startswith("{") and line.endswith("}") for _, line in lines):
        return [read_run_file(path)]
    from ..store.safe_json import parse

    return [run_from_dict(parse(line, f"{path}:{i}"), f"{path}:{i}") for i, line in lines]


@history.command("report")
@history_option()
@threshold_options
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for index.html and summary.md.")
@click.option("--last", type=click.IntRange(min=1), default=60, show_default=True, help="Show the newest N runs.")
@click.option("--export-bmf", type=click.Path(path_type=Path), help="Also write the latest run as Bencher BMF.")
@click.option("--export-gab", type=click.Path(path_type=Path),
              help="Also write the latest run for github-action-benchmark (customSmallerIsBetter).")
def report(history: str, out: Path, last: int, export_bmf: Path | None, export_gab: Path | None, **kw: Any) -> None:
    """The trend report (index.html) and summary.md of the latest run."""
    from ..render.bench_summary import summary_markdown
    from .history_outputs import check_run, write_trend_report

    t = thresholds(kw)
    with _open(history) as db:
        uid = db.latest_uid()
        if uid is None:
            raise InputFormatError(f"history {history} holds no run yet")
        run = db.load_run(uid)
        check = check_run(db, uid, t)
        path, ts = write_trend_report(db, out, t, check, last=last)
    failed = [f"{r.benchmark} [{r.engine_name}]: {r.error}" for r in run.results if r.error]
    write_text(out / "summary.md", summary_markdown(check, run_uid=uid, commit=run.suite_commit,
                                                    dirty=run.suite_dirty, failed=failed), "summary")
    write_exports(ts, uid, bmf=export_bmf, gab=export_gab)
    click.echo(f"trend report: {path}")
