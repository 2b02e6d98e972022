"""`cacheprof compare BEFORE AFTER`: two Dockerfiles on one context, measured interleaved."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..capture.compare_run import measure_pair, raise_run_failures
from ..capture.session import check_edits, check_session_mounts, check_sources, check_target, default_scenarios
from ..dockerfile import DockerfileModel
from ..dockerfile import load as load_dockerfile
from ..errors import UsageError
from ..model import Builder, RunPlan, parse_build_arg, parse_scenario
from ..render.compare_table import render_comparison
from ..render.terminal import fit_width
from .options import (
    build_options,
    parse_min_effect,
    progress_option,
    report_options,
    summary_option,
    warmup_option,
    warn_unused_build_args,
)
from .report_out import announcing, claim, make_progress, write_summary

if TYPE_CHECKING:
    from ..analysis.compare import Comparison


def _is_profile_json(path: Path) -> bool:
    """A saved profile (profile --format json, parse --format json, a report folder's profile.json)."""
    if path.suffix == ".json":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def _offline(before: Path, after: Path, ratio: float, seconds: float, fmt: str, out_dir: Path | None, force: bool,
             open_report: bool, summary: Path | None) -> None:
    """Compare two saved profiles without building: where did the cache break between them."""
    from ..analysis.compare import compare_profiles, comparison_to_dict
    from ..render.writer import write_compare_outputs
    from ..store.profile_json import loads

    profiles = {}
    for side, path in (("before", before), ("after", after)):
        if not path.is_file():
            raise UsageError(f"{side.upper()} profile not found: {path}; pass a profile.json")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise UsageError(f"{path}: cannot be read as a cacheprof profile.json") from None
        profiles[side] = loads(text, where=str(path))
    comparison = compare_profiles(profiles["before"], profiles["after"], min_effect_ratio=ratio,
                                  min_effect_s=seconds)
    doc = comparison_to_dict(comparison)
    out = claim(out_dir, Path(profiles["before"].context or "."), "compare-profiles", force)
    write_compare_outputs(out, profiles, comparison, doc)
    write_summary(summary, lambda: _summary_text(comparison))
    with announcing(out / "compare.html", open_report):
        if fmt == "json":
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            sys.stdout.write(render_comparison(comparison, fit_width(shutil.get_terminal_size((80, 24)).columns)))
        sys.stdout.flush()


def _summary_text(comparison: Comparison) -> str:
    from ..render.summary import compare_summary

    return compare_summary(comparison)


def _load(path: Path, side: str) -> DockerfileModel:
    if not path.is_file():
        raise UsageError(f"{side} Dockerfile not found: {path}; pass the path of a Dockerfile")
    return load_dockerfile(path)


@click.command("compare")
@click.argument("before", type=click.Path(path_type=Path), metavar="BEFORE")
@click.argument("after", type=click.Path(path_type=Path))
@click.option("--context", "context", type=click.Path(path_type=Path), help="Build context (default: BEFORE's folder).")
@click.option("-s", "--scenario", "scenarios", multiple=True,
              help="As for profile. Default: cold, warm, one edit: per COPY/ADD source of either Dockerfile.")
@click.option("-n", "--repeat", default=3, show_default=True, type=click.IntRange(1, 50),
              help="Rounds; each round runs BEFORE and AFTER in turn for every scenario.")
@build_options(target_help="Build only up to this stage (both Dockerfiles).")
@warmup_option()
@click.option("--min-effect", default="5%,0.3s", show_default=True,
              help="Smallest difference called faster/slower: a share of BEFORE's time and seconds.")
@click.option("--check-equivalent", is_flag=True,
              help="Also compare the two final images' files and Env/Cmd/Entrypoint/WorkingDir.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@report_options("<UTC timestamp>-compare-<context name>/")
@summary_option()
@progress_option()
def compare(before: Path, after: Path, context: Path | None, scenarios: tuple[str, ...], repeat: int, builder: str,
            build_args: tuple[str, ...], target: str | None, docker_host: str | None, warmup: int, min_effect: str,
            check_equivalent: bool, fmt: str, out_dir: Path | None, force: bool, open_report: bool,
            summary: Path | None, progress: str, quiet: bool) -> None:
    """Measure BEFORE and AFTER Dockerfiles side by side and say which is faster, per scenario.

    Given two saved profiles (profile.json, or `parse --format json` of two CI logs), compare them without
    building: the timings per scenario and the steps whose cache status changed."""
    from ..capture.session import resolve_paths

    ratio, seconds = parse_min_effect(min_effect)
    offline = [_is_profile_json(p) for p in (before, after)]
    if all(offline):
        return _offline(before, after, ratio, seconds, fmt, out_dir, force, open_report, summary)
    if any(offline):
        raise UsageError("compare takes two Dockerfiles (to build) or two profile.json files (to compare offline), "
                         "not one of each")
    before_model, after_model = _load(before, "BEFORE"), _load(after, "AFTER")
    ctx, before_df = resolve_paths(context if context is not None else before.parent, before)
    after_df = after.resolve()
    args = dict(parse_build_arg(a) for a in build_args)
    for model, side in ((before_model, "BEFORE"), (after_model, "AFTER")):
        check_target(model, target)
        check_session_mounts(model)
        check_sources(ctx, model, side, args)
    if scenarios:
        plan_scenarios = tuple(parse_scenario(s) for s in scenarios)
    else:
        merged = [*default_scenarios(ctx, before_model), *default_scenarios(ctx, after_model)]
        plan_scenarios = tuple(dict.fromkeys(merged))
    check_edits(ctx, plan_scenarios)
    for model in (before_model, after_model):
        warn_unused_build_args(model, [parse_build_arg(a)[0] for a in build_args],
                               [s.arg_name for s in plan_scenarios if s.arg_name])
    args = dict(parse_build_arg(a) for a in build_args)
    b = Builder(builder)
    plans = {
        side: RunPlan(context=ctx, dockerfile=df, model=model, builder=b, scenarios=plan_scenarios, repeat=repeat,
                      build_args=args, target=target, namespace=side, own_cache_only=True, warmups=warmup)
        for side, df, model in (("before", before_df, before_model), ("after", after_df, after_model))
    }
    out = claim(out_dir, ctx, f"compare-{ctx.name}", force)
    live = make_progress(progress, quiet)
    header = (("BEFORE", str(before_df)), ("AFTER", str(after_df)), ("context", str(ctx)),
              ("builder", builder + (f", target {target}" if target else "")),
              ("scenarios", f"{', '.join(s.name for s in plan_scenarios)} (x{repeat} rounds)"))
    if not scenarios:  # say which file each default edit: changes, and why
        from ..context.edits import default_edits

        seen = {s.name for s in plan_scenarios}
        reasons = {f"edit:{e.glob}": e.reason for m in (before_model, after_model) for e in default_edits(ctx, m)}
        header += tuple((name, why) for name, why in reasons.items() if name in seen)
    try:
        profiles, comparison, doc, failure = measure_pair(
            plans, docker_host=docker_host, quiet=quiet, rounds=repeat, min_effect=(ratio, seconds),
            check_equivalent=check_equivalent, out=out, reporter=live, header=header)
    finally:
        live.close()
    write_summary(summary, lambda: _summary_text(comparison))
    with announcing(out / "compare.html", open_report):
        if fmt == "json":
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            sys.stdout.write(render_comparison(comparison, fit_width(shutil.get_terminal_size((80, 24)).columns)))
        sys.stdout.flush()
    raise_run_failures(profiles, failure, out)


