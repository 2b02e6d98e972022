"""`cacheprof compare BEFORE AFTER`: two Dockerfiles on one context, measured interleaved."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..capture.runner import Runner, RunPlan
from ..capture.session import (
    check_edits,
    check_target,
    default_report_dir,
    default_scenarios,
    open_driver,
    reraise_after_writing,
    run_interleaved,
    write_outputs,
)
from ..context.build_context import DOCKERIGNORE, OUTSIDE_DOCKERFILE_PREFIX, matching_files
from ..dockerfile import DockerfileModel
from ..dockerfile import load as load_dockerfile
from ..errors import BuildFailedError, UsageError
from ..model import Builder, Profile
from ..scenarios import parse_build_arg, parse_scenario
from .options import build_options

if TYPE_CHECKING:
    from ..analysis.compare import Comparison


def parse_min_effect(text: str) -> tuple[float, float]:
    """`5%`, `0.3s`, or both: `5%,0.3s`. Returns (ratio, seconds); a part left out keeps its default."""
    ratio, seconds = 0.05, 0.3
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|s)", part)
        if not m:
            raise UsageError(f"--min-effect {text!r}: write a percentage, seconds, or both, e.g. 5%,0.3s")
        if m.group(2) == "%":
            ratio = float(m.group(1)) / 100
        else:
            seconds = float(m.group(1))
    return ratio, seconds


def _is_whole_context(source: str) -> bool:
    return source.strip("/") in ("", ".", "./")


def check_sources(context: Path, model: DockerfileModel, side: str) -> None:
    """Every file a Dockerfile copies must be in the context: say so before building, not after."""
    for ins, source in model.copy_sources():
        if _is_whole_context(source):
            continue
        rel = source.lstrip("/")
        if (context / rel).exists() or matching_files(context, rel.rstrip("/")):
            continue
        raise UsageError(
            f"{side} {model.path}:{ins.line}: {ins.cmd} {source} — the context {context} has no such file; "
            "pass the right --context"
        )


def _load(path: Path, side: str) -> DockerfileModel:
    if not path.is_file():
        raise UsageError(f"{side} Dockerfile not found: {path}; pass the path of a Dockerfile")
    return load_dockerfile(path)


@click.command("compare")
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option("--context", "context", type=click.Path(path_type=Path), help="Build context (default: BEFORE's folder).")
@click.option("-s", "--scenario", "scenarios", multiple=True,
              help="As for profile. Default: cold, warm, one edit: per COPY/ADD source of either Dockerfile.")
@click.option("-n", "--repeat", default=3, show_default=True, type=click.IntRange(1, 50),
              help="Rounds; each round runs BEFORE and AFTER in turn for every scenario.")
@build_options(target_help="Build only up to this stage (both Dockerfiles).")
@click.option("--min-effect", default="5%,0.3s", show_default=True,
              help="Smallest difference called faster/slower: a share of BEFORE's time and seconds.")
@click.option("--check-equivalent", is_flag=True,
              help="Also compare the two final images' files and Env/Cmd/Entrypoint/WorkingDir.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Report folder (default: reports/<UTC timestamp>-compare-<context name>/).")
@click.option("--quiet", "-q", is_flag=True, help="No live progress on stderr.")
def compare(before: Path, after: Path, context: Path | None, scenarios: tuple[str, ...], repeat: int, builder: str,
            build_args: tuple[str, ...], target: str | None, docker_host: str | None, min_effect: str,
            check_equivalent: bool, fmt: str, out_dir: Path | None, quiet: bool) -> None:
    """Measure BEFORE and AFTER Dockerfiles side by side and say which is faster, per scenario."""
    from ..analysis.compare import render_comparison_table
    from ..capture.session import resolve_paths

    ratio, seconds = parse_min_effect(min_effect)
    before_model, after_model = _load(before, "BEFORE"), _load(after, "AFTER")
    ctx, before_df = resolve_paths(context if context is not None else before.parent, before)
    after_df = after.resolve()
    for model, side in ((before_model, "BEFORE"), (after_model, "AFTER")):
        check_target(model, target)
        check_sources(ctx, model, side)
    if scenarios:
        plan_scenarios = tuple(parse_scenario(s) for s in scenarios)
    else:
        merged = [*default_scenarios(ctx, before_model), *default_scenarios(ctx, after_model)]
        plan_scenarios = tuple(dict.fromkeys(merged))
    check_edits(ctx, plan_scenarios)
    args = dict(parse_build_arg(a) for a in build_args)
    b = Builder(builder)
    plans = {
        side: RunPlan(context=ctx, dockerfile=df, model=model, builder=b, scenarios=plan_scenarios, repeat=repeat,
                      build_args=args, target=target, namespace=side, own_cache_only=True)
        for side, df, model in (("before", before_df, before_model), ("after", after_df, after_model))
    }
    out = out_dir or default_report_dir(Path(f"compare-{ctx.name}"))
    profiles, comparison, doc, failure = measure_pair(plans, docker_host=docker_host, quiet=quiet, rounds=repeat,
                                                      min_effect=(ratio, seconds),
                                                      check_equivalent=check_equivalent, out=out)
    if fmt == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(render_comparison_table(comparison))
        click.echo(f"report written to {out}/", err=True)
    raise_run_failures(profiles, failure, out)


def measure_pair(plans: dict[str, RunPlan], *, docker_host: str | None, quiet: bool, rounds: int,
                 min_effect: tuple[float, float], check_equivalent: bool,
                 out: Path) -> tuple[dict[str, Profile], Comparison, dict[str, Any], BaseException | None]:
    """Run the "before" and "after" plans interleaved, compare them and write the report folder.

    Shared by `compare` and `advise --measure`. The failure that stopped the run early, if any, is
    returned rather than raised: show the results, then call `raise_run_failures`.
    """
    from ..analysis.compare import compare_profiles, comparison_to_dict

    driver = open_driver(docker_host)

    def equivalence(runners: dict[str, Runner]) -> dict[str, Any]:
        return {"equivalence": check_images(driver, runners)} if check_equivalent else {}

    try:
        profiles, failure, extra = run_interleaved(driver, plans, quiet=quiet, rounds=rounds,
                                                   after_rounds=equivalence)
    finally:
        driver.close()
    comparison = compare_profiles(profiles["before"], profiles["after"], min_effect_ratio=min_effect[0],
                                  min_effect_s=min_effect[1], equivalence=extra.get("equivalence"))
    doc = comparison_to_dict(comparison)
    write_compare_outputs(out, profiles, comparison, doc)
    return profiles, comparison, doc, failure


def raise_run_failures(profiles: dict[str, Profile], failure: BaseException | None, out: Path) -> None:
    """After the results are shown: what stopped the run early, else the first failed build, as an error."""
    reraise_after_writing(failure, out, sum(len(p.builds) for p in profiles.values()))
    failed = [(side, bd) for side, p in profiles.items() for bd in p.builds if not bd.ok]
    if failed:
        side, first = failed[0]
        raise BuildFailedError(f"{side.upper()} failed to build ({first.scenario}: {first.error}); "
                               f"results are in {out}/")


def _final_image(runner: Runner) -> str | None:
    """The image of the last good build on the unedited context with the default args."""
    for build in reversed(runner.builds):
        if build.ok and build.image_id and build.scenario in ("cold", "warm"):
            return build.image_id
    return None


def check_images(driver: Any, runners: dict[str, Runner]) -> dict[str, Any]:
    import hashlib

    from ..analysis.equivalence import compare_images
    from ..context.dockerignore import DockerIgnore

    images = {side: _final_image(r) for side, r in runners.items()}
    if not all(images.values()):
        return {"equivalent": None, "differences": [], "files_compared": 0,
                "notes": ["no good cold or warm build on both sides to compare"]}
    files = {side: driver.image_files(image) for side, image in images.items()}
    ignore_paths: set[str] = set()
    plan = runners["before"].plan
    if plan.builder is Builder.BUILDKIT:
        # The Dockerfile reaches a BuildKit context even when .dockerignore excludes it (see make_tar), so
        # `COPY . .` puts it in the image where `docker build` would not: leave out exactly those copies.
        ignore = DockerIgnore.for_context(plan.context)
        for r in runners.values():
            digest = hashlib.sha256(r.plan.dockerfile.read_bytes()).hexdigest()
            try:
                rel = r.plan.dockerfile.relative_to(plan.context).as_posix()
            except ValueError:
                # Outside the context it travels as .cacheprof-Dockerfile-<hash> with a .dockerignore
                # naming it (make_tar); BuildKit without a session copies both, `docker build` neither.
                copies = {path for fm in files.values() for path, (kind, _, h) in fm.items()
                          if kind == "file" and h == digest
                          and path.rpartition("/")[2].startswith(OUTSIDE_DOCKERFILE_PREFIX)}
                ignore_paths |= copies | {p.rpartition("/")[0] + "/" + DOCKERIGNORE for p in copies}
                continue
            if not ignore.excluded(rel):
                continue
            ignore_paths |= {path for fm in files.values() for path, (kind, _, h) in fm.items()
                             if kind == "file" and h == digest and path.endswith("/" + rel)}
    return compare_images(
        files["before"], files["after"],
        driver.image_config(images["before"]), driver.image_config(images["after"]),
        ignore_paths=ignore_paths,
    )


def write_compare_outputs(out: Path, profiles: dict[str, Profile], comparison: Any, doc: dict[str, Any]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise UsageError(f"cannot write the report folder {out}: {e.strerror}; pass a writable --out") from None
    for side, profile in profiles.items():
        write_outputs(profile, out / side)
    from ..render.compare_report import write_compare_report

    write_compare_report(out, comparison)
