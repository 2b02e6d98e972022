"""Seconds for predicted rebuilds: step costs measured in a profile, and the cost of a commit history."""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..dockerfile import DockerfileModel
from ..model import Profile, StepStatus
from .predict import Prediction


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\\n", " ")).strip()


def step_costs(profile: Profile) -> dict[tuple[str, int], float]:
    """Median seconds of each (stage, position) over the builds where that step RAN (cold ones included:
    a rebuild does the same work)."""
    runs: dict[tuple[str, int], list[float]] = {}
    for b in profile.builds:
        if not b.ok:
            continue  # failed builds stay out of time figures
        for s in b.steps:
            if s.status is StepStatus.RUN and s.duration_s is not None:
                runs.setdefault(s.key, []).append(s.duration_s)
    return {k: statistics.median(v) for k, v in runs.items()}


def costs_by_text(profile: Profile) -> dict[tuple[str, str], float]:
    """The same costs keyed by (stage, instruction text), to price a reordered Dockerfile."""
    per = step_costs(profile)
    text = {s.key: s.instruction for b in profile.builds for s in b.steps}
    return {(k[0], _norm(text[k])): v for k, v in per.items() if k in text}


def costs_for(model: DockerfileModel, by_text: Mapping[tuple[str, str], float]) -> dict[tuple[str, int], float]:
    """Costs for another Dockerfile's steps, matched by stage and instruction text; a step never
    measured (a manifest COPY the rewrite added) costs 0: it copies a few small files."""
    return {(i.stage, i.position): by_text.get((i.stage, _norm(i.original)), 0.0) for i in model.instructions}


@dataclass(frozen=True)
class CommitCost:
    sha: str
    subject: str
    changed: tuple[str, ...]
    rebuild: tuple[tuple[str, int], ...]
    expected_s: float


@dataclass(frozen=True)
class HistoryCost:
    commits: tuple[CommitCost, ...]
    mean_s: float
    median_s: float
    p90_s: float
    # (stage, position, instruction, total seconds over the history, commits that re-ran it)
    costliest: tuple[tuple[str, int, str, float, int], ...]


def _p90(values: Sequence[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def history_cost(rows: Sequence[tuple[str, str, Prediction]], top: int = 5) -> HistoryCost:
    """Per commit (sha, subject, priced prediction): seconds; and over all, mean/median/p90 and the
    steps that cost most in total."""
    commits: list[CommitCost] = []
    totals: dict[tuple[str, int], list[float]] = {}
    text: dict[tuple[str, int], str] = {}
    for sha, subject, p in rows:
        secs = sum(s.expected_s or 0.0 for s in p.steps if s.rebuild)
        commits.append(CommitCost(sha, subject, p.changed, tuple(sorted(p.rebuild_keys)), secs))
        for s in p.steps:
            if s.rebuild:
                totals.setdefault(s.key, []).append(s.expected_s or 0.0)
                text[s.key] = s.instruction
    values = [c.expected_s for c in commits] or [0.0]
    costliest = sorted(((k[0], k[1], text[k], sum(v), len(v)) for k, v in totals.items()),
                       key=lambda r: -r[3])[:top]
    return HistoryCost(tuple(commits), statistics.fmean(values), statistics.median(values), _p90(values),
                       tuple(costliest))
