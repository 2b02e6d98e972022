"""`cacheprof profile`: build a Dockerfile for real under cold / warm / edit / arg scenarios."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from ..capture.session import ProfileOptions, open_driver, plan_profile, reraise_after_writing, run_plan
from ..errors import BuildFailedError
from ..model import Builder, EngineInfo, Profile, RunPlan
from ..render.report_worker import ReportWorker
from ..render.writer import write_profile_file, write_report
from .options import (
    build_options,
    progress_option,
    report_options,
    summary_option,
    warmup_option,
    warn_unused_build_args,
)
from .report_out import announce, claim, make_progress, write_summary


def _fix_available(plan: RunPlan) -> bool:
    """Whether `cacheprof advise` has a rewrite for this Dockerfile (so the verdict may point at it)."""
    from ..advise.rules import find_problems
    from ..advise.scan import scan_context
    from ..errors import CacheprofError

    try:
        return any(f.fix is not None for f in find_problems(plan.model, scan_context(plan.context)))
    except (CacheprofError, OSError):  # a pointer in a sentence must not cost the measured output
        return False


@click.command("profile")
@click.argument("context", default=".", type=click.Path(path_type=Path))
@click.option("-f", "--file", "dockerfile", type=click.Path(path_type=Path),
              help="Dockerfile (default: CONTEXT/Dockerfile).")
@click.option("-s", "--scenario", "scenarios", multiple=True,
              help="cold | warm | edit:<glob> | arg:<NAME>=<VALUE>; repeatable, run in order. "
                   "Default: cold, warm, and one edit: per COPY/ADD source.")
@click.option("-n", "--repeat", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Run the whole scenario sequence N times, each starting with its own cold build.")
@build_options()
@warmup_option()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: one JSON document on stdout and nothing else.")
@report_options("<UTC timestamp>-<context name>/")
@click.option("--record", "record_dir", type=click.Path(path_type=Path),
              help="Also save each build's raw engine stream here (replayable with --replay).")
@click.option("--replay", "replay_dir", type=click.Path(path_type=Path), hidden=True,
              help="Play recorded streams back instead of building (tests, demos).")
@summary_option()
@progress_option()
def profile(context: Path, dockerfile: Path | None, scenarios: tuple[str, ...], repeat: int, builder: str,
            build_args: tuple[str, ...], target: str | None, docker_host: str | None, warmup: int, fmt: str,
            out_dir: Path | None, force: bool, open_report: bool, record_dir: Path | None, replay_dir: Path | None,
            summary: Path | None, progress: str, quiet: bool) -> None:
    """Build CONTEXT's Dockerfile several times and show, per step, whether the cache was used.

    `-f -` reads the Dockerfile from stdin; it is kept in the report folder as Dockerfile.stdin."""
    out: Path | None = None
    if dockerfile is not None and str(dockerfile) == "-":
        out, dockerfile = _stdin_dockerfile(context, out_dir, force)
    options = ProfileOptions(
        context=context, dockerfile=dockerfile, scenarios=scenarios, repeat=repeat, builder=Builder(builder),
        build_args=build_args, target=target, warmups=warmup,
    )
    plan = plan_profile(options)
    warn_unused_build_args(plan.model, plan.build_args, [s.arg_name or "" for s in plan.scenarios if s.arg_name])
    out = out or claim(out_dir, plan.context, plan.context.name, force)
    live = make_progress(progress, quiet)
    driver = open_driver(docker_host, replay_dir)
    failure: BaseException | None = None
    worker = ReportWorker()  # loads the report stack while the builds run
    try:
        live.header(header_rows(plan, driver.engine_info(), default_edit_rows(plan) if not scenarios else []))
        profile_data, failure = run_plan(driver, plan, record_dir=record_dir, reporter=live)
    except BaseException:
        worker.cancel()
        raise
    finally:
        live.close()
        driver.close()
    # The data first, then the table, then the report (the slowest part) while the table is read.
    write_profile_file(profile_data, out)
    pipe_closed = False
    try:
        if fmt == "json":
            from ..store.profile_json import dumps

            sys.stdout.write(dumps(profile_data))
        else:
            from ..render.terminal import colorize, fit_width, render_profile, use_colour
            from ..render.verdict import profile_verdict

            width = fit_width(shutil.get_terminal_size((80, 24)).columns)
            verdict = profile_verdict(profile_data, _fix_available(plan))
            table = render_profile(profile_data, width, verdict)
            sys.stdout.write(colorize(table) if use_colour(sys.stdout) else table)
        sys.stdout.flush()
    except BrokenPipeError:
        pipe_closed = True  # the reader left (`| head`): finish the report, then exit quietly (cli.py)
    if worker.render(out) is not None:  # it could not: render here, where an error is reported as usual
        write_report(profile_data, out, write_profile=False)
    write_summary(summary, lambda: _summary_text(profile_data))
    announce(out / "report.html", open_report)
    if pipe_closed:
        raise BrokenPipeError
    reraise_after_writing(failure, out, len(profile_data.builds))
    failed = [b for b in profile_data.builds if not b.ok]
    if failed:
        first = failed[0]
        raise BuildFailedError(
            f"{len(failed)} of {len(profile_data.builds)} build(s) failed (first: {first.scenario}: {first.error}); "
            f"results are in {out}/"
        )


def _summary_text(profile: Profile) -> str:
    from ..analysis.profile_stats import analyze
    from ..render.summary import profile_summary

    return profile_summary(profile, analyze(profile))


def _stdin_dockerfile(context: Path, out_dir: Path | None, force: bool) -> tuple[Path, Path]:
    """The report folder, claimed now, and the Dockerfile read from stdin saved in it (outside the context,
    unless --out says otherwise; the report then points at a file that still exists)."""
    from ..errors import UsageError

    text = sys.stdin.read()
    if not text.strip():
        raise UsageError("-f -: nothing on stdin; pipe a Dockerfile in, e.g. cacheprof profile . -f - < Dockerfile")
    ctx = context.resolve()
    out = claim(out_dir, ctx, ctx.name, force)
    path = out / "Dockerfile.stdin"
    path.write_text(text, encoding="utf-8")
    return out, path


def default_edit_rows(plan: RunPlan) -> list[tuple[str, str]]:
    """Which file each default edit: scenario changes, and why that file."""
    from ..context.edits import default_edits

    return [(f"edit:{e.glob}", e.reason) for e in default_edits(plan.context, plan.model)]


def header_rows(plan: RunPlan, engine: EngineInfo | None,
                edit_rows: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    rows = [("Dockerfile", str(plan.dockerfile)), ("context", str(plan.context)),
            ("builder", str(plan.builder) + (f", target {plan.target}" if plan.target else "")),
            ("scenarios", f"{', '.join(s.name for s in plan.scenarios)} (x{plan.repeat})"), *(edit_rows or [])]
    if engine is not None:
        where = f" at {engine.host}" if engine.host else ""
        rows.append(("engine", f"Docker {engine.version} (API {engine.api_version}){where}"))
    return rows
