"""The services behind `advise --changed / --git-diff / --git-history`: from what changed (given, or read
from git) to priced predictions. No engine here: costs come in measured."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..dockerfile import VERTEX_MAKING, DockerfileModel, parse_text
from ..errors import UsageError
from ..model import Builder
from . import git_history
from .cost import HistoryCost, history_cost
from .predict import ContextFiles, Prediction, context_files, context_relative, predict


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\\n", " ")).strip()


def changed_instructions(old: DockerfileModel, new: DockerfileModel) -> frozenset[tuple[str, int]]:
    """The first instruction of each stage whose text differs between two versions of a Dockerfile."""
    out = set()
    for st in new.stages:
        before = old.stages[st.index].instructions if st.index < len(old.stages) else ()
        for k, ins in enumerate(st.instructions):
            if k >= len(before) or _norm(before[k].original) != _norm(ins.original):
                out.add((st.label, ins.position))
                break
    return frozenset(out)


def _dockerfile_rel(ctx: Path, df: Path) -> str | None:
    rel = os.path.relpath(os.path.realpath(df), os.path.realpath(ctx)).replace(os.sep, "/")
    return None if rel.startswith("../") else rel


def predict_changes(
    ctx: Path, df: Path, model: DockerfileModel, builder: Builder, *, changed: Sequence[str] = (),
    git_diff: str | None = None, build_args: Mapping[str, str] | None = None,
    new_args: Mapping[str, str] | None = None, target: str | None = None,
    costs: Mapping[tuple[str, int], float] | None = None,
) -> Prediction:
    paths = [context_relative(ctx, p) for p in changed]
    edited: frozenset[tuple[str, int]] = frozenset()
    if git_diff is not None:
        paths += git_history.diff_paths(ctx, git_diff)
        rel = _dockerfile_rel(ctx, df)
        if rel is not None and rel in paths:
            old_rev = git_diff.partition("..")[0] or "HEAD"
            old_text = git_history.file_at(ctx, old_rev, rel)
            if old_text is not None:
                edited = changed_instructions(parse_text(old_text, f"{rel}@{old_rev}"), model)
    files = context_files(ctx, df, builder)
    return predict(model, files, paths, build_args=build_args, new_args=new_args, target=target,
                   costs=costs, edited=edited)


def builder_difference(ctx: Path, df: Path, model: DockerfileModel, p: Prediction, *,
                       changed: Sequence[str] = (), build_args: Mapping[str, str] | None = None,
                       new_args: Mapping[str, str] | None = None, target: str | None = None) -> tuple[str, list[str]]:
    """(the other builder, the steps both builders show that only one of them re-runs) for the same change."""
    other = Builder.CLASSIC if p.builder == str(Builder.BUILDKIT) else Builder.BUILDKIT
    q = predict(model, context_files(ctx, df, other), [*p.changed, *p.ignored, *changed], build_args=build_args,
                new_args=new_args, target=target)
    text = {s.key: s for s in (*p.steps, *q.steps)}
    skipped = {*p.skipped_stages, *q.skipped_stages}
    # Steps both builders show (BuildKit shows no ENV, LABEL, ...), in stages either of them builds.
    shared = {k for k, s in text.items() if s.instruction.split()[0].upper() in VERTEX_MAKING
              and (k[0] in skipped or ({k} <= {x.key for x in p.steps} and {k} <= {x.key for x in q.steps}))}
    mine, theirs = p.rebuild_keys & shared, q.rebuild_keys & shared
    out = []
    for k in sorted(theirs - mine, key=lambda k: text[k].line):
        why = "a stage BuildKit skips for this target" if k[0] in p.skipped_stages else text[k].why
        out.append(f"{other} also re-runs line {text[k].line} ({why})")
    for k in sorted(mine - theirs, key=lambda k: text[k].line):
        out.append(f"{other} keeps line {text[k].line} cached")
    return str(other), out


def history_predictions(
    ctx: Path, model: DockerfileModel, files: ContextFiles, commits: Sequence[git_history.Commit], *,
    build_args: Mapping[str, str] | None = None, target: str | None = None,
    costs: Mapping[tuple[str, int], float] | None = None,
) -> HistoryCost:
    rows = [(c.sha, c.subject, predict(model, files, c.changed, build_args=build_args, target=target,
                                      costs=costs or {}))
            for c in commits]
    return history_cost(rows)


def check_history(n: int) -> None:
    if n < 1:
        raise UsageError(f"--git-history {n}: give a number of commits of at least 1")
