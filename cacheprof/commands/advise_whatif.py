"""`advise --changed / --changed-arg / --git-diff / --git-history`: options -> prediction service -> text or
JSON. Only used by advise_cmd; the one engine call is the cold build that prices a history when no
profile is given."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from ..advise import git_history as git
from ..advise.cost import costs_by_text, costs_for, step_costs
from ..advise.findings import ADVICE_SCHEMA
from ..advise.predict import context_files
from ..advise.whatif import builder_difference, check_history, history_predictions, predict_changes
from ..dockerfile import DockerfileModel, parse_text
from ..errors import UsageError
from ..model import Builder, Kind, Profile, RunPlan, Scenario, parse_build_arg
from ..render.prediction import history_chart, history_text, history_to_dict, prediction_text, prediction_to_dict


def _load_profile(path: Path) -> Profile:
    from ..store.profile_json import loads

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--profile {path}: no such file; pass a profile.json written by cacheprof profile") from None
    except OSError as e:
        raise UsageError(f"--profile {path}: {e.strerror}") from None
    return loads(text, str(path))


def _cold_profile(ctx: Path, df: Path, model: DockerfileModel, builder: Builder, args: Mapping[str, str],
                  target: str | None, docker_host: str | None) -> Profile:
    """One measured cold build, to price steps when no profile is given."""
    from ..capture.session import open_driver, reraise_after_writing, run_plan

    plan = RunPlan(context=ctx, dockerfile=df, model=model, builder=builder, scenarios=(Scenario(Kind.COLD),),
                   build_args=dict(args), target=target, namespace="advise-cost")
    click.echo("no --profile: measuring one cold build to price the steps", err=True)
    driver = open_driver(docker_host)
    try:
        profile, failure = run_plan(driver, plan, quiet=True)
    finally:
        driver.close()
    reraise_after_writing(failure, Path("(nothing written)"), len(profile.builds))
    if not profile.builds or not profile.builds[0].ok:
        raise UsageError("the cold build that prices the steps failed; fix the build or pass --profile")
    return profile


def run_whatif(
    ctx: Path, df: Path, model: DockerfileModel, builder: Builder, args: Mapping[str, str], target: str | None, *,
    fmt: str, changed: Sequence[str], changed_args: Sequence[str], git_diff: str | None, git_history: int | None,
    profile_path: Path | None, chart_path: Path | None, proposed: str | None, docker_host: str | None,
) -> str:
    profile = _load_profile(profile_path) if profile_path is not None else None
    if profile is not None and profile.builder != str(builder):
        click.echo(f"note: {profile_path} was measured with the {profile.builder} builder; predicting for "
                   f"{builder} (pass --builder {profile.builder} to match)", err=True)
    doc: dict[str, Any] = {"schema": ADVICE_SCHEMA, "dockerfile": str(df), "context": str(ctx)}
    out: list[str] = []
    if git_history is not None:
        check_history(git_history)
        commits = git.history(ctx, git_history)  # bad input fails before any build
        priced_by = f"step seconds from {profile_path}" if profile is not None else "one measured cold build"
        if profile is None:
            profile = _cold_profile(ctx, df, model, builder, args, target, docker_host)
        files = context_files(ctx, df, builder)
        before = history_predictions(ctx, model, files, commits, build_args=args, target=target,
                                     costs=step_costs(profile))
        after = None
        if proposed is not None:
            pmodel = parse_text(proposed, f"{df} (proposed)")
            after = history_predictions(ctx, pmodel, files, commits, build_args=args, target=target,
                                        costs=costs_for(pmodel, costs_by_text(profile)))
        doc["history"] = history_to_dict(before)
        doc["history_proposed"] = history_to_dict(after) if after is not None else None
        out.append(history_text(before, after, priced_by))
        if chart_path is not None:
            fmt_c = "svg" if chart_path.suffix.lower() == ".svg" else "png"
            try:
                chart_path.write_bytes(history_chart(before, after, fmt_c))
            except OSError as e:
                raise UsageError(f"--chart {chart_path}: {e.strerror}") from None
            click.echo(f"chart written to {chart_path}", err=True)
    if changed or changed_args or git_diff is not None:
        new_args = dict(parse_build_arg(a) for a in changed_args)
        p = predict_changes(ctx, df, model, builder, changed=changed, git_diff=git_diff, build_args=args,
                            new_args=new_args, target=target,
                            costs=step_costs(profile) if profile is not None else None)
        other, differs = builder_difference(ctx, df, model, p, build_args=args, new_args=new_args, target=target)
        doc["prediction"] = {**prediction_to_dict(p), "other_builder": {"builder": other, "differs": differs}}
        out.append(prediction_text(p) + "".join(f"note: {d}\n" for d in differs))
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    return "\n".join(out)
