"""Cost per commit, measured: `advise --git-history` against rebuilding each commit warm from the one before.

A repository of 10 commits touching different files (sources, a library, the requirements, ignored docs,
a file no COPY takes). For every commit the steps predicted to re-run must be exactly those the real
rebuild re-ran, and the predicted seconds in total within 20% of the re-run steps' measured seconds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cacheprof.capture.runner import Runner
from cacheprof.capture.session import make_profile, open_driver
from cacheprof.dockerfile import load
from cacheprof.model import Builder, Kind, RunPlan, Scenario, StepStatus
from cacheprof.store.profile_json import dumps

from .test_profile_docker import run_cli

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM busybox:1.36
COPY nonce.txt /n
WORKDIR /app
COPY requirements.txt .
RUN sleep 3 && cat requirements.txt > /deps
COPY lib/ ./lib/
RUN sleep 2 && cat lib/* > /lib.out
COPY app/ ./app/
RUN sleep 1.5 && cat app/* > /app.out
"""

# (files changed by the commit) oldest first; each commit appends a line to each file.
COMMITS = [["app/main.py"], ["lib/util.py"], ["docs/guide.md"], ["app/main.py", "app/views.py"],
           ["requirements.txt"], ["README.md"], ["lib/util.py", "app/main.py"], ["docs/guide.md"],
           ["app/views.py"], ["lib/extra.py"]]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _repo(make_context) -> Path:
    repo = make_context({"Dockerfile": DOCKERFILE, ".dockerignore": "docs/\n", "requirements.txt": "a\n",
                         "lib/util.py": "u\n", "app/main.py": "m\n", "app/views.py": "v\n",
                         "docs/guide.md": "g\n", "README.md": "r\n"})
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    for k, files in enumerate(COMMITS, 1):
        for rel in files:
            p = repo / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            with p.open("a") as fh:
                fh.write(f"change {k}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", f"commit {k}: {' '.join(files)}")
    return repo


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_predicted_cost_per_commit_matches_warm_rebuilds(builder, docker_engine, make_context, tmp_path):
    repo = _repo(make_context)
    n = len(COMMITS)
    work = tmp_path / "work"  # a clone to walk through the commits; the repository's HEAD stays put
    subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True, capture_output=True)
    shas = _git(repo, "rev-list", "--reverse", f"--max-count={n + 1}", "HEAD").split()

    # One runner for all builds: the classic builder's cache is the step images a run made, which the
    # run removes when it ends.
    _git(work, "checkout", "-q", shas[0])
    df = work / "Dockerfile"
    plan = RunPlan(context=work, dockerfile=df, model=load(df), builder=Builder(builder),
                   scenarios=(Scenario(Kind.COLD),), namespace="cost")
    driver = open_driver(None)
    actual: dict[str, tuple[set[tuple[str, int]], float]] = {}
    try:
        with Runner(driver, plan) as runner:
            # The pricing profile: a cold build and two builds that re-run every step (the median of
            # three runs per step; one build alone is at the mercy of a busy machine).
            priced = [runner.measure(Scenario(Kind.COLD), 1, 1, n + 3)]
            priced += [runner.measure(Scenario(Kind.EDIT, glob="nonce.txt"), 1, k, n + 3) for k in (2, 3)]
            assert all(b.ok for b in priced), [b.error for b in priced]
            (tmp_path / "cold.json").write_text(dumps(make_profile(plan, driver, priced)))
            for k, sha in enumerate(shas[1:], 4):
                _git(work, "checkout", "-q", sha)
                b = runner.measure(Scenario(Kind.WARM), 1, k, n + 3)
                assert b.ok, b.error
                ran = [s for s in b.steps if s.status is StepStatus.RUN]
                actual[sha] = ({s.key for s in ran}, sum(s.duration_s or 0.0 for s in ran))
    finally:
        driver.close()

    p = run_cli("advise", str(repo), "--builder", builder, "--git-history", str(n),
                "--profile", str(tmp_path / "cold.json"), "--format", "json")
    assert p.returncode == 0, p.stderr
    history = json.loads(p.stdout)["history"]
    assert len(history["commits"]) == n
    predicted_total = measured_total = 0.0
    for c in history["commits"]:
        ran, seconds = actual[c["sha"]]
        assert {tuple(k) for k in c["rebuild"]} == ran, (c["subject"], c["rebuild"], sorted(ran))
        predicted_total += c["expected_s"]
        measured_total += seconds
    assert measured_total > 5  # the sleeps ran: the comparison below has something to compare
    assert abs(predicted_total - measured_total) <= 0.2 * measured_total, (predicted_total, measured_total)
