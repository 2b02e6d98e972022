"""`cacheprof bench`: run a benchmark suite, keep the result in a history folder, flag regressions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..capture.session import ProfileOptions, machine_info, open_driver, plan_profile, reraise_after_writing, run_plan
from ..errors import BuildFailedError, CacheprofError, UsageError
from ..model import Profile


def _ratio(value: str) -> float:
    text = value.strip()
    try:
        r = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"--threshold {value!r}: give a percentage like 10% or a ratio like 0.1") from None
    if r < 0:
        raise UsageError(f"--threshold {value!r}: must not be negative")
    return r


@click.command("bench")
@click.argument("suite", type=click.Path(path_type=Path))
@click.option("--history", "history_dir", required=True, type=click.Path(path_type=Path),
              help="Folder of earlier results; this run's result file and reports are added to it.")
@click.option("--threshold", default="10%", show_default=True,
              help="Flag a scenario slower than the earlier median by more than this ratio (and --min-seconds).")
@click.option("--min-seconds", default=0.5, show_default=True, type=click.FloatRange(min=0),
              help="...and by more than this many seconds: sub-second noise is not a regression.")
@click.option("--window", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="Compare with the median of this many earlier runs on the same machine.")
@click.option("--docker-host", help="Engine address (default: DOCKER_HOST and the SDK's environment).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: one JSON document (the result plus its regressions) on stdout and nothing else.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress on stderr.")
def bench(suite: Path, history_dir: Path, threshold: str, min_seconds: float, window: int,
          docker_host: str | None, fmt: str, quiet: bool) -> None:
    """Run the benchmarks of SUITE.toml, save the result in --history, and compare with earlier runs."""
    from ..analysis.regressions import check_regressions, comparable_runs
    from ..store.bench_history import load_history, result_from_dict
    from ..store.bench_results import load_suite, new_run_id, result_dict, write_result

    ratio = _ratio(threshold)
    benchmarks = load_suite(suite)
    # Plan everything first: a bad context in the last benchmark fails before the first build.
    plans = {}
    for b in benchmarks:
        try:
            plans[b.name] = plan_profile(ProfileOptions(
                context=b.context, dockerfile=b.dockerfile, scenarios=b.scenarios, repeat=b.repeat,
                builder=b.builder, namespace="bench",
            ))
        except UsageError as e:
            raise UsageError(f"{suite}: benchmark {b.name!r}: {e}") from None
    created, stamp, run_id = new_run_id()
    reports = history_dir / "reports" / stamp

    driver = open_driver(docker_host)
    profiles: dict[str, Profile] = {}
    failure: BaseException | None = None
    engine = None
    try:
        engine = driver.engine_info()
        for name, plan in plans.items():
            profiles[name], failure = run_plan(driver, plan, quiet=quiet)
            if failure is not None:
                break
    finally:
        driver.close()

    # Nothing measured is lost: the result file is written before anything else can fail.
    data = result_dict(run_id=run_id, created=created, suite=suite, machine=machine_info(), engine=engine,
                       profiles=profiles)
    path = write_result(history_dir, stamp, data)
    from ..render.writer import write_outputs

    for name, p in profiles.items():
        write_outputs(p, reports / name)
    reraise_after_writing(failure, history_dir, sum(len(p.builds) for p in profiles.values()))

    current = result_from_dict(json.loads(path.read_text()), str(path))
    history = load_history(history_dir)
    regressions = check_regressions(history, current, ratio=ratio, min_seconds=min_seconds, window=window)
    earlier = comparable_runs(history, current)

    if fmt == "json":
        sys.stdout.write(json.dumps({**data, "compared_with": earlier, "regressions": regressions}, indent=1) + "\n")
    else:
        for entry in data["benchmarks"]:
            name = entry["name"]
            for scenario, s in entry["summary"].items():
                median = "-" if s["median_total_s"] is None else f"{s['median_total_s']:.2f} s"
                rate = "-" if s["hit_rate"] is None else f"{s['hit_rate']:.0%}"
                click.echo(f"{name:<24} {scenario:<24} {median:>9}  hit {rate:>4}  ok {s['ok']}/{s['builds']}")
        if not earlier:
            click.echo("first run on this machine: no history to compare with")
        elif not regressions:
            click.echo(f"no regression (compared with up to {window} of {earlier} earlier run(s))")
        for message in regressions:
            click.echo(f"REGRESSION {message}")
        click.echo(f"result written to {path}; reports in {reports}/", err=True)

    failed = [(n, b) for n, p in profiles.items() for b in p.builds if not b.ok]
    if failed:
        name, first = failed[0]
        raise BuildFailedError(
            f"{len(failed)} build(s) failed (first: {name} {first.scenario}: {first.error}); results are in {path}"
        )
    if regressions:
        raise CacheprofError(f"{len(regressions)} regression(s) against earlier runs", exit_code=1)
