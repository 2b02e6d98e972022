"""`cacheprof bench` against the real daemon: history across runs, a planted faster past, a corrupt file."""

from __future__ import annotations

import json

import pytest

from .test_profile_docker import run_cli

pytestmark = pytest.mark.docker


def test_bench_history_regression_and_corrupt_file(docker_engine, fixture_copy, tmp_path):
    ctx = fixture_copy("multistage")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[benchmark]]\nname = "ms"\ncontext = "{ctx.name}"\nscenarios = ["cold", "warm"]\n'
                     "repeat = 1\n")
    history = tmp_path / "history"

    def bench(*extra: str):
        return run_cli("bench", str(suite), "--history", str(history), "--quiet", *extra)

    first = bench()
    assert first.returncode == 0, first.stderr
    assert "first run" in first.stdout
    second = bench()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "no regression" in second.stdout
    files = sorted(history.glob("*.json"))
    assert len(files) == 2
    assert (history / "reports").is_dir() and len(list((history / "reports").glob("*/ms/profile.json"))) == 2

    # A much faster past: three copies of the latest result with every median divided by 10, so the
    # median of the window is the planted one.
    latest = max((json.loads(f.read_text()) for f in files), key=lambda d: d["created"])
    assert latest["commit"] is None  # tmp_path is no git repository
    for i in range(3):
        planted = json.loads(json.dumps(latest))
        planted["id"] = f"planted{i}"
        for s in planted["benchmarks"][0]["summary"].values():
            s["median_total_s"] = s["median_total_s"] / 10
        (history / f"00000000T000000Z-planted{i}.json").write_text(json.dumps(planted))

    third = bench("--format", "json")
    assert third.returncode == 1, third.stdout + third.stderr
    doc = json.loads(third.stdout)
    assert doc["schema"] == "cacheprof/bench/v1" and doc["compared_with"] == 5
    assert any(m.startswith("ms cold: slower") for m in doc["regressions"]), doc["regressions"]

    # A corrupt history file: exit 2, one line naming it, and this run's result is still on disk.
    bad = history / "00000000T000000Z-planted0.json"
    bad.write_text(bad.read_text()[:200])
    before = len(list(history.glob("*.json")))
    fourth = bench()
    assert fourth.returncode == 2, fourth.stdout + fourth.stderr
    lines = fourth.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0], fourth.stderr
    assert len(list(history.glob("*.json"))) == before + 1
