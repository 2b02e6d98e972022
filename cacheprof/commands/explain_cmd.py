"""`cacheprof explain PROFILE.json`: why each re-run step missed the cache, from recorded inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError


def _load(path: Path):  # -> Profile
    from ..store import profile_json

    return profile_json.load(path)


def _check(n: int, total: int, flag: str) -> None:
    if not 1 <= n <= total:
        raise UsageError(f"{flag} {n}: the profile has builds 1 to {total}")


@click.command("explain")
@click.argument("profile_path", metavar="PROFILE.json", type=click.Path(path_type=Path))
@click.option("--build", "build", type=int, help="Explain this build (1-based; default: every build but cold).")
@click.option("--against", "against", type=int,
              help="Compare with this build (default: the warm or cold build this one's cache came from).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def explain(profile_path: Path, build: int | None, against: int | None, fmt: str) -> None:
    """Name the first cause of every step that RAN where the comparison build had it CACHED."""
    from ..analysis.explain import default_against, explain_all
    from ..analysis.explain import explain as explain_build

    profile = _load(profile_path)
    total = len(profile.builds)
    if total == 0:
        raise UsageError(f"{profile_path}: the profile holds no builds")
    if not any(b.inputs for b in profile.builds):
        raise UsageError(f"{profile_path}: no recorded step inputs (a parsed log, or a profile written before "
                         "explain existed); run cacheprof profile again")
    if build is None and against is not None:
        raise UsageError("--against needs --build: say which build to explain")
    if build is not None:
        _check(build, total, "--build")
        if against is None:
            against = default_against(profile, build)
            if against is None:
                raise UsageError(f"--build {build}: no earlier successful build to compare with; pass --against")
        _check(against, total, "--against")
        explanations = [explain_build(profile, build, against)]
    else:
        explanations = explain_all(profile)
    if fmt == "json":
        doc: dict[str, Any] = {"schema": "cacheprof/explain/v1", "profile": str(profile_path), "builds": [
            {"build": e.build, "scenario": e.scenario, "against": e.against, "against_scenario": e.against_scenario,
             "causes": [{"cause": root.cause, "line": root.line, "instruction": root.instruction,
                         "followed": [{"line": f.line, "instruction": f.instruction, "why": f.why}
                                      for f in followers]}
                        for root, followers in e.causes()],
             "steps": [{"stage": s.stage, "position": s.position, "line": s.line, "instruction": s.instruction,
                        "why": s.why, "cause": s.cause} for s in e.steps]}
            for e in explanations]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    lines: list[str] = []
    for e in explanations:
        lines.append(f"build {e.build} ({e.scenario}) against build {e.against} ({e.against_scenario}): "
                     f"{len(e.steps)} step(s) re-ran that were cached there")
        for root, followers in e.causes():
            lines.append(f"  cause: {root.cause}")
            for f in followers:
                inst = " ".join(f.instruction.split())
                lines.append(f"    then re-ran: line {f.line} {inst[:70]}")
        lines.append("")
    sys.stdout.write("\n".join(lines) if lines else "no build to explain (only cold or failed builds)\n")
