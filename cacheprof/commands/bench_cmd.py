"""`cacheprof bench`: run a benchmark suite over one or more engines, store every step in the history
database, check for cache and timing regressions, write the trend report, summary and exports.

Exit status: 0 fine, 1 a build failed or a benchmark could not run, 4 a confirmed regression (the builds
themselves succeeded), 2 bad input or a corrupt history, 3 no engine or no history server.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import (
    BuildFailedError,
    CacheprofError,
    EngineUnreachableError,
    Interrupted,
    RegressionFound,
    UsageError,
)
from .history_outputs import check_run, history_option, threshold_options, thresholds, write_exports, write_text

DEFAULT_ENGINE = "default"


def _engines(suite: Any, hosts: tuple[str, ...]) -> list[Any]:
    from ..capture.bench_run import EngineSpec

    if hosts:
        # Named by their address: the same --docker-host every night keeps the same baseline.
        if len(set(hosts)) != len(hosts):
            raise UsageError("--docker-host: the same engine is given twice")
        return [EngineSpec(name=h, url=h) for h in hosts]
    if suite.engines:
        return [EngineSpec(name=e.name, url=e.url, tls_cert_path=str(e.tls_cert_path) if e.tls_cert_path else None)
                for e in suite.engines]
    return [EngineSpec(name=DEFAULT_ENGINE, url=None)]


def _load_avg() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def _rescue_path(history: str, uid: str) -> Path:
    from ..store.history_db import parse_target

    t = parse_target(history)
    folder = t.sqlite_path.resolve().parent if t.sqlite_path is not None else Path.cwd()
    return folder / f"cacheprof-bench-{uid}.json"


def _store(history: str, run: Any) -> Any:
    """Open the history and add the run. If that fails (corrupt file, server gone), the run is written
    to a new JSON file beside it first (`history import` takes it later), then the error goes on."""
    from ..store.history_db import open_history
    from ..store.history_json import write_run_file

    try:
        db = open_history(history)
        try:
            db.add_run(run)
        except BaseException:
            db.close()
            raise
        return db
    except CacheprofError as e:
        path = _rescue_path(history, run.uid)
        try:
            write_run_file(path, run)
        except OSError as oe:
            raise type(e)(f"{e}; and this run could not be kept in {path} ({oe.strerror})",
                          exit_code=e.exit_code) from None
        raise type(e)(f"{e}; this run was kept in {path} (`cacheprof history import` reads it)",
                      exit_code=e.exit_code) from None


@click.command("bench")
@click.argument("suite_path", metavar="SUITE", type=click.Path(path_type=Path))
@history_option()
@threshold_options
@click.option("--docker-host", "docker_hosts", multiple=True,
              help="Engine address; give it more than once to spread the suite over several engines "
                   "(default: the suite's [[engine]] tables, else DOCKER_HOST and the SDK's environment).")
@click.option("--report-out", type=click.Path(path_type=Path),
              help="Write the trend report (index.html) here (default: report/ beside a SQLite history).")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path),
              help="Write summary.md here, e.g. $GITHUB_STEP_SUMMARY (default: into the report folder).")
@click.option("--export-bmf", type=click.Path(path_type=Path), help="Write this run in Bencher Metric Format.")
@click.option("--export-gab", type=click.Path(path_type=Path),
              help="Write this run for github-action-benchmark (customSmallerIsBetter).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: one JSON document (the run, regressions, improvements) on stdout and nothing else.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress on stderr.")
def bench(suite_path: Path, history: str, docker_hosts: tuple[str, ...], report_out: Path | None,
          summary_path: Path | None, export_bmf: Path | None, export_gab: Path | None, fmt: str, quiet: bool,
          **kw: Any) -> None:
    """Run the benchmarks of SUITE.toml, store them in the history, and check them against their baseline."""
    from .. import __version__
    from ..capture.bench_run import assign, run_suite
    from ..capture.session import ProfileOptions, machine_info, plan_profile
    from ..render.bench_summary import findings_json, summary_markdown
    from ..store.bench_results import git_commit, git_dirty, new_run_id, read_suite
    from ..store.history_db import ResultRecord, RunRecord, check_writable, parse_target
    from ..store.history_json import run_to_dict

    t = thresholds(kw)
    target = parse_target(history)
    suite = read_suite(suite_path)
    engines = _engines(suite, docker_hosts)
    # Plan everything first: a bad context, scenario or engine name fails before the first build.
    plans = {}
    for b in suite.benchmarks:
        try:
            plan = plan_profile(ProfileOptions(
                context=b.context, dockerfile=b.dockerfile, scenarios=b.scenarios, repeat=b.repeat,
                builder=b.builder, namespace="bench", build_args=tuple(f"{k}={v}" for k, v in b.build_args),
            ))
        except UsageError as e:
            raise UsageError(f"{suite_path}: benchmark {b.name!r}: {e}") from None
        plans[b.name] = dataclasses.replace(plan, volatile_args=b.volatile_args)
    assignment = assign(list(plans), {b.name: b.engine for b in suite.benchmarks} if not docker_hosts else {},
                        engines)
    # A history that cannot be opened or written (read-only, foreign, a server that does not answer): say so
    # now, before an hour of builds.
    check_writable(history)

    created, uid = new_run_id()
    load = _load_avg()
    outcomes, interrupt = run_suite(plans, assignment, quiet=quiet or fmt == "json")
    if interrupt is None and not any(o.reached for o in outcomes.values()):
        # No engine answered: nothing was measured, so there is no run to store. Exit 3, as for profile.
        first = next(iter(outcomes.values()))
        more = f" (and {len(engines) - 1} more engine(s))" if len(engines) > 1 else ""
        raise EngineUnreachableError(f"{first.error}{more}; nothing was measured or stored")

    folder = suite_path.resolve().parent
    run = RunRecord(
        uid=uid, created_utc=created, tool_version=__version__, suite=str(suite_path.resolve()),
        suite_commit=git_commit(folder), suite_dirty=git_dirty(folder), machine=machine_info(), load_avg=load,
        results=tuple(ResultRecord(benchmark=name, engine_name=o.engine.name, engine_url=o.engine.url or "",
                                   builder=o.profile.builder, profile=o.profile, error=o.error)
                      for name, o in outcomes.items()),
    )
    db = _store(history, run)  # nothing measured is lost: stored (or kept beside) before anything else
    try:
        if interrupt is not None:
            n = sum(len(o.profile.builds) for o in outcomes.values())
            raise Interrupted(f"interrupted; the {n} build(s) measured are stored in {target.display} as run {uid}")
        check = check_run(db, uid, t)
        failed = [f"{r.benchmark} [{r.engine_name}]: {r.error}" for r in run.results if r.error] + [
            f"{r.benchmark} [{r.engine_name}] {b.scenario} #{b.repeat}: {b.error}"
            for r in run.results for b in r.profile.builds if not b.ok]
        out_dir = report_out or (target.sqlite_path.resolve().parent / "report" if target.sqlite_path else None)
        summary = summary_markdown(check, run_uid=uid, commit=run.suite_commit, dirty=run.suite_dirty, failed=failed)
        ts: list[Any] | None = None
        if out_dir is not None:
            from .history_outputs import write_trend_report

            _, ts = write_trend_report(db, out_dir, t, check)
            write_text(out_dir / "summary.md", summary, "summary")
        if summary_path is not None:
            write_text(summary_path, summary, "summary")
        if export_bmf or export_gab:
            if ts is None:
                from .history_outputs import trends

                ts = trends(db, t, last=1)
            write_exports(ts, uid, bmf=export_bmf, gab=export_gab)
    finally:
        db.close()

    if fmt == "json":
        doc = {**run_to_dict(run), "regressions": findings_json(check.regressions),
               "improvements": findings_json(check.improvements), "pending": findings_json(check.pending),
               "notices": list(check.notices),
               "verdicts": [dataclasses.asdict(v) for v in check.verdicts]}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        _print_table(check, failed)
        where = f"; report in {out_dir}/" if out_dir is not None else ""
        click.echo(f"run {uid} stored in {target.display}{where}", err=True)

    if failed:
        raise BuildFailedError(f"{len(failed)} failure(s) (first: {failed[0]}); the run is stored as {uid}")
    if check.regressions:
        raise RegressionFound(f"{len(check.regressions)} confirmed regression(s) against the baseline "
                              f"(first: {check.regressions[0].message})")


def _print_table(check: Any, failed: list[str]) -> None:
    engines = len({v.engine for v in check.verdicts})
    for v in check.verdicts:
        name = f"{v.benchmark} [{v.engine}]" if engines > 1 else v.benchmark
        now = "-" if v.now_s is None else f"{v.now_s:.2f} s"
        base = "-" if v.baseline_s is None else f"{v.baseline_s:.2f} s"
        change = "" if v.change is None else f"{v.change * 100:+.0f}%"
        click.echo(f"{name:<24} {v.scenario:<22} {now:>9}  ok {v.ok}/{v.builds}  baseline {base:>9} "
                   f"(n={v.baseline_runs}) {change:>6}  {v.verdict}")
    for n in check.notices:
        click.echo(f"note: {n}")
    for f in check.regressions:
        click.echo(f"REGRESSION {f.message}")
    for f in check.improvements:
        click.echo(f"improvement {f.message}")
    for f in check.pending:
        click.echo(f"watching {f.message}")
    for m in failed:
        click.echo(f"FAILED {m}")
    if not check.regressions and not failed:
        click.echo("no regression")
