"""Prediction equals reality, on the real daemon: for a handful of fixtures and corpus cases (offline
variants, see tests/predict_harness.py), every default edit scenario and a fresh value of every declared
ARG, the steps `advise --changed` predicts to re-run are exactly the steps the builder re-ran.
benchmarks/bench_predict.py runs the same check over the whole corpus and prints the agreement rate."""

from __future__ import annotations

import pytest

from cacheprof.model import Builder

from .conftest import FIXTURES
from .predict_harness import check_case, make_case, unique_base

pytestmark = pytest.mark.docker

CORPUS = FIXTURES / "advise-corpus"
CASES = [
    ("python-app", ("buildkit", "classic")),  # COPY order, .dockerignore
    ("multistage", ("buildkit", "classic")),  # COPY --from; a stage BuildKit skips and classic builds
    ("57-arg-env-through-stages", ("buildkit", "classic")),  # FROM <stage>, ARG -> ENV across stages
    ("15-uv-bind-mount-clean", ("buildkit",)),  # RUN --mount=type=bind keys the cache (BuildKit only)
]


@pytest.mark.parametrize(("case", "builder"), [(c, b) for c, bs in CASES for b in bs])
def test_predicted_reruns_equal_real_reruns(case, builder, docker_engine, tmp_path):
    src = CORPUS / case if (CORPUS / case).is_dir() else FIXTURES / case
    with unique_base(docker_engine) as base:
        checks = check_case(make_case(src, tmp_path / "ctx", base), Builder(builder))
    assert checks and all(c.build_ok for c in checks)
    assert len({c.scenario for c in checks}) >= 2  # warm and at least one change were checked
    wrong = [(c.scenario, sorted(c.predicted), sorted(c.actual)) for c in checks if not c.agrees]
    assert not wrong
