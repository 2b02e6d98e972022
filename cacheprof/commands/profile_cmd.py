"""`cacheprof profile`: build a Dockerfile for real under cold / warm / edit / arg scenarios."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..capture.session import ProfileOptions, open_driver, plan_profile, reraise_after_writing, run_plan
from ..errors import BuildFailedError
from ..model import Builder
from ..render.writer import write_outputs
from .options import build_options, report_options
from .report_out import announce, claim


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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: one JSON document on stdout and nothing else.")
@report_options("<UTC timestamp>-<context name>/")
@click.option("--record", "record_dir", type=click.Path(path_type=Path),
              help="Also save each build's raw engine stream here (replayable with --replay).")
@click.option("--replay", "replay_dir", type=click.Path(path_type=Path), hidden=True,
              help="Play recorded streams back instead of building (tests, demos).")
@click.option("--quiet", "-q", is_flag=True, help="No live progress on stderr.")
def profile(context: Path, dockerfile: Path | None, scenarios: tuple[str, ...], repeat: int, builder: str,
            build_args: tuple[str, ...], target: str | None, docker_host: str | None, fmt: str,
            out_dir: Path | None, force: bool, open_report: bool, record_dir: Path | None, replay_dir: Path | None,
            quiet: bool) -> None:
    """Build CONTEXT's Dockerfile several times and show, per step, whether the cache was used."""
    options = ProfileOptions(
        context=context, dockerfile=dockerfile, scenarios=scenarios, repeat=repeat, builder=Builder(builder),
        build_args=build_args, target=target,
    )
    plan = plan_profile(options)
    out = claim(out_dir, plan.context, plan.context.name, force)
    driver = open_driver(docker_host, replay_dir)
    failure: BaseException | None = None
    try:
        profile_data, failure = run_plan(driver, plan, quiet=quiet, record_dir=record_dir)
    finally:
        driver.close()
    written = write_outputs(profile_data, out)
    if fmt == "json":
        from ..store.profile_json import dumps

        sys.stdout.write(dumps(profile_data))
    else:
        from ..render.table import render_profile

        sys.stdout.write(render_profile(profile_data))
    click.echo(f"report written to {out}/ ({len(written)} files)", err=True)
    announce(out / "report.html", open_report)
    reraise_after_writing(failure, out, len(profile_data.builds))
    failed = [b for b in profile_data.builds if not b.ok]
    if failed:
        first = failed[0]
        raise BuildFailedError(
            f"{len(failed)} of {len(profile_data.builds)} build(s) failed (first: {first.scenario}: {first.error}); "
            f"results are in {out}/"
        )
