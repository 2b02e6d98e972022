"""`cacheprof advise`: which step ordering wastes the build cache, the Dockerfile that fixes it, and (with
--measure) the proof: both Dockerfiles built interleaved, as `compare --check-equivalent` does."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ..advise.findings import ADVICE_SCHEMA, Finding, finding_to_dict
from ..advise.rewrite import plan
from ..advise.rules import find_problems
from ..advise.scan import scan_context
from ..capture.compare_run import measure_pair, raise_run_failures
from ..capture.session import check_edits, check_session_mounts, check_sources, check_target, resolve_paths
from ..dockerfile import load as load_dockerfile
from ..dockerfile import parse_text
from ..errors import UsageError
from ..model import Builder, Kind, RunPlan, Scenario, parse_build_arg, parse_scenario
from ..render.compare_report import AdviceSection
from ..render.compare_table import render_comparison
from ..render.terminal import fit_width
from .options import build_options, parse_min_effect, progress_option, report_options, warmup_option
from .report_out import announce, claim, make_progress


def _diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=name, tofile=f"{name} (proposed)"))


def _write_new(path: Path, text: str) -> None:
    try:
        with open(path, "x", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except FileExistsError:
        raise UsageError(f"--write {path}: the file exists; cacheprof never overwrites, pass a new path") from None
    except OSError as e:
        raise UsageError(f"--write {path}: {e.strerror}; pass a writable path") from None


def _scratch_dir(context: Path) -> Path:
    """A fresh folder outside the build context for the proposed Dockerfile (the context is never written)."""
    for base in (tempfile.gettempdir(), str(Path.home() / ".cache")):
        real = Path(os.path.realpath(base))
        if real != context and context not in real.parents:
            real.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="cacheprof-advise-", dir=real))
    raise UsageError(f"no temporary folder outside the context {context}; set TMPDIR to one")


def _measure_scenarios(findings: tuple[Finding, ...]) -> tuple[Scenario, ...]:
    edits = [f.scenario for f in findings if f.fix is not None and f.scenario]
    return (Scenario(Kind.COLD), Scenario(Kind.WARM), *(parse_scenario(s) for s in dict.fromkeys(edits)))


def _render(dockerfile: Path, findings: tuple[Finding, ...], diff: str) -> str:
    if not findings:
        return f"{dockerfile}: no cache-order problem found\n"
    lines = [f"{dockerfile}: {len(findings)} finding(s)", ""]
    for n, f in enumerate(findings, 1):
        lines.append(f"{n}. [{f.severity}] {f.rule}: stage {f.stage}, line {f.line}")
        lines.append(f"   {f.message}")
        lines += [f"   {line}" for line in f.suggestion.splitlines()]
        if f.fix is None and f.why_not:
            lines.append(f"   no rewrite: {f.why_not}")
        if f.scenario and f.fix is not None:
            lines.append(f"   shows on: {f.scenario}")
        lines.append("")
    if diff:
        lines += ["proposed Dockerfile:", diff.rstrip("\n")]
    else:
        lines.append("no automatic rewrite")
    return "\n".join(lines) + "\n"


def _measure_summary(doc: dict[str, Any]) -> dict[str, Any]:
    eq = doc.get("equivalence") or {}
    return {
        "verdicts": {s["scenario"]: s["verdict"] for s in doc["scenarios"]},
        "equivalent": eq.get("equivalent"),
    }


def _ci_outputs(findings: tuple[Finding, ...], df: Path, fmt: str, annotations: str | None, fail_on: str | None,
                measure: bool) -> None:
    """SARIF on stdout, GitHub annotations, and --fail-on's exit, before anything is built."""
    from importlib.metadata import version

    from ..render.findings_ci import github_annotations, sarif

    if fmt == "sarif":
        if measure:
            raise UsageError("--format sarif reports findings only; run --measure without it")
        sys.stdout.write(json.dumps(sarif(findings, df, version("cacheprof")), indent=2) + "\n")
    if annotations == "github":
        for line in github_annotations(findings, df):
            click.echo(line, err=fmt in ("json", "sarif"))
    if fail_on and measure:
        raise UsageError("--fail-on checks the findings without building; run --measure without it")


def _fail_on(findings: tuple[Finding, ...], fail_on: str | None) -> None:
    from ..errors import CacheprofError
    from ..render.findings_ci import failing

    bad = failing(findings, fail_on)
    if bad:
        raise CacheprofError(f"{len(bad)} finding(s) at or above {fail_on} (--fail-on {fail_on}); first: line "
                             f"{bad[0].line}: {bad[0].message}", exit_code=1)


@click.command("advise")
@click.argument("context", default=".", type=click.Path(path_type=Path))
@click.option("-f", "--file", "dockerfile", type=click.Path(path_type=Path),
              help="Dockerfile (default: CONTEXT/Dockerfile).")
@click.option("--measure", is_flag=True,
              help="Prove the advice: build the Dockerfile and the proposed one interleaved (cold, warm, the "
                   "edits that show the waste) and check that both images are equivalent.")
@click.option("--write", "write_path", type=click.Path(path_type=Path),
              help="Also write the proposed Dockerfile to this path (never overwrites a file).")
@click.option("-n", "--repeat", default=3, show_default=True, type=click.IntRange(1, 50),
              help="With --measure: rounds, each building both Dockerfiles for every scenario.")
@build_options()
@warmup_option()
@click.option("--min-effect", default="5%,0.3s", show_default=True,
              help="With --measure: smallest difference called faster/slower.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "sarif"]), default="table", show_default=True,
              help=f"json: one JSON document ({ADVICE_SCHEMA}) on stdout and nothing else; sarif: SARIF 2.1.0 "
                   "for code scanning.")
@click.option("--annotations", type=click.Choice(["github"]),
              help="github: one ::warning file=...,line=N:: workflow command per finding (on stderr when stdout "
                   "carries JSON or SARIF).")
@click.option("--fail-on", "fail_on", type=click.Choice(["problem", "warning"]),
              help="Exit 1 when a finding of this severity or above is found.")
@report_options("<UTC timestamp>-advise-<context name>/, with --measure")
@progress_option()
@click.option("--changed", "changed", multiple=True,
              help="Predict what this change re-runs, without building: a path in the context (repeatable).")
@click.option("--changed-arg", "changed_args", multiple=True, help="Predict for a build arg changed to NAME=VALUE.")
@click.option("--git-diff", "git_diff", metavar="REV[..REV]",
              help="Predict for the files git says changed (REV against the working tree, or between two).")
@click.option("--git-history", "git_history", type=int, metavar="N",
              help="Expected rebuild seconds per commit over the last N commits, and for the proposed fix.")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path),
              help="A profile.json whose measured step seconds price the predicted rebuilds.")
@click.option("--chart", "chart_path", type=click.Path(path_type=Path),
              help="With --git-history: write the per-commit chart (PNG, or SVG by suffix) to this path.")
def advise(context: Path, dockerfile: Path | None, measure: bool, write_path: Path | None, repeat: int,
           builder: str, build_args: tuple[str, ...], target: str | None, docker_host: str | None, warmup: int,
           min_effect: str, fmt: str, annotations: str | None, fail_on: str | None,
           out_dir: Path | None, force: bool, open_report: bool, progress: str,
           quiet: bool, changed: tuple[str, ...], changed_args: tuple[str, ...], git_diff: str | None,
           git_history: int | None, profile_path: Path | None, chart_path: Path | None) -> None:
    """Say which step ordering makes Docker's build cache useless, and propose the Dockerfile that fixes it.

    With --changed, --changed-arg or --git-diff: which steps that change re-runs, and why, without
    building. With --git-history N: what the Dockerfile costs per commit, before and after the fix."""
    ratio, seconds = parse_min_effect(min_effect)
    ctx, df = resolve_paths(context, dockerfile)
    model = load_dockerfile(df)
    check_target(model, target)
    args = dict(parse_build_arg(a) for a in build_args)
    with open(df, encoding="utf-8", newline="") as fh:  # newline="": keep CRLF files byte for byte
        text = fh.read()
    proposed, findings = plan(model, text, find_problems(model, scan_context(ctx)))
    if changed or changed_args or git_diff is not None or git_history is not None:
        from .advise_whatif import run_whatif

        sys.stdout.write(run_whatif(
            ctx, df, model, Builder(builder), args, target, fmt=fmt, changed=changed, changed_args=changed_args,
            git_diff=git_diff, git_history=git_history, profile_path=profile_path, chart_path=chart_path,
            proposed=proposed if proposed != text else None, docker_host=docker_host))
        return
    diff = _diff(text, proposed, str(dockerfile or df))
    if write_path is not None:
        _write_new(write_path, proposed)
    if fmt == "sarif" or annotations or fail_on:
        _ci_outputs(findings, df, fmt, annotations, fail_on, measure)
        if fmt == "sarif":
            return _fail_on(findings, fail_on)
    doc: dict[str, Any] = {
        "schema": ADVICE_SCHEMA, "dockerfile": str(df), "context": str(ctx),
        "findings": [finding_to_dict(f) for f in findings], "changed": proposed != text,
        "proposed_dockerfile": proposed, "diff": diff,
        "written": str(write_path) if write_path is not None else None, "measure": None,
    }
    if fmt != "json":
        sys.stdout.write(_render(dockerfile or df, findings, diff))
        if write_path is not None:
            click.echo(f"proposed Dockerfile written to {write_path}", err=True)
    if not measure:
        if fmt == "json":
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return _fail_on(findings, fail_on)
    if proposed == text:
        click.echo("nothing to measure: no rewrite proposed", err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return


    check_session_mounts(model)
    after_model = parse_text(proposed, f"{df} (proposed)")
    check_sources(ctx, after_model, "proposed", args)
    scenarios = _measure_scenarios(findings)
    check_edits(ctx, scenarios)
    out = claim(out_dir, ctx, f"advise-{ctx.name}", force)
    scratch = _scratch_dir(ctx)
    try:
        # Outside the context, so measuring never writes into it; compare builds it with the same context.
        after_df = scratch / "Dockerfile.proposed"
        after_df.write_text(proposed, encoding="utf-8", newline="")
        plans = {
            side: RunPlan(context=ctx, dockerfile=path, model=m, builder=Builder(builder), scenarios=scenarios,
                          repeat=repeat, build_args=args, target=target, namespace=side,
                          own_cache_only=True, warmups=warmup)
            for side, path, m in (("before", df, model), ("after", after_df, after_model))
        }
        live = make_progress(progress, quiet)
        header = (("Dockerfile", str(df)), ("proposed", "the rewrite above"), ("context", str(ctx)),
                  ("builder", builder + (f", target {target}" if target else "")),
                  ("scenarios", f"{', '.join(s.name for s in scenarios)} (x{repeat} rounds)"))
        try:
            profiles, comparison, cdoc, failure = measure_pair(
                plans, docker_host=docker_host, quiet=quiet, rounds=repeat, min_effect=(ratio, seconds),
                check_equivalent=True, out=out, reporter=live, header=header,
                advice=AdviceSection(str(dockerfile or df),
                                     tuple(f"[{f.severity}] line {f.line}: {f.message}" for f in findings),
                                     proposed, diff))
        finally:
            live.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    doc["measure"] = {**_measure_summary(cdoc), "report": str(out), "comparison": cdoc}
    if fmt == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        width = fit_width(shutil.get_terminal_size((80, 24)).columns)
        sys.stdout.write("\nmeasured (BEFORE = yours, AFTER = proposed):\n" + render_comparison(comparison, width))
    click.echo(f"report written to {out}/", err=True)
    announce(out / "compare.html", open_report)
    raise_run_failures(profiles, failure, out)
