"""The whole `profile` command without Docker: the replay driver plays real recorded streams back, and
the CLI must give the same steps the live run gave (hyperfine-style: one driver interface, two drivers)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cacheprof.cli import main
from tests.conftest import DATA, FIXTURES

STREAMS = sorted(p for p in (DATA / "streams").iterdir() if (p / "live-profile.json").is_file())
STEP_FIELDS = ("index", "stage", "position", "line", "instruction", "status", "started", "finished")


@pytest.mark.parametrize("recording", STREAMS, ids=[p.name for p in STREAMS])
def test_replayed_profile_matches_the_live_run(recording, tmp_path):
    live = json.loads((recording / "live-profile.json").read_text())
    context = tmp_path / "ctx"
    context.mkdir()
    fixture = FIXTURES / recording.name.split("-", 1)[1]
    if fixture.is_dir():  # edit: scenarios need the files they edit
        import shutil

        shutil.rmtree(context)
        shutil.copytree(fixture, context)
    scenarios = [a for b in live["builds"] for a in ("-s", b["scenario"])]
    r = CliRunner().invoke(main, [
        "profile", str(context), "-f", str(recording / "Dockerfile"), "--replay", str(recording),
        "--builder", live["builder"], "--format", "json", "--out", str(tmp_path / "out"), "-q", *scenarios,
    ])
    replayed = json.loads(r.stdout)
    assert r.exit_code == (0 if all(b["ok"] for b in live["builds"]) else 1), r.output
    assert replayed["engine"]["version"] == live["engine"]["version"]
    assert [b["scenario"] for b in replayed["builds"]] == [b["scenario"] for b in live["builds"]]
    for got, want in zip(replayed["builds"], live["builds"], strict=True):
        assert got["ok"] == want["ok"] and got["error"] == want["error"] and got["image_id"] == want["image_id"]
        assert [[s[k] for k in STEP_FIELDS] for s in got["steps"]] == [
            [s[k] for k in STEP_FIELDS] for s in want["steps"]]
        # Recordings made before arrival times were stored unrounded lose up to 1e-6 s per end.
        assert [s["duration_s"] for s in got["steps"]] == pytest.approx(
            [s["duration_s"] for s in want["steps"]], abs=2.1e-6)
    assert (tmp_path / "out" / "profile.json").is_file() and (tmp_path / "out" / "report.html").is_file()


def test_replay_refuses_a_recording_of_the_other_builder(tmp_path):
    recording = next(p for p in STREAMS if p.name.startswith("classic-failing"))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    r = CliRunner().invoke(main, ["profile", str(ctx), "-f", str(recording / "Dockerfile"), "--replay", str(recording),
                                  "--builder", "buildkit", "-s", "cold", "-q", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "recorded with classic, replayed as buildkit" in r.output


def test_interleaved_rounds_alternate_which_side_goes_first(tmp_path):
    # Real recorded warm build, played four times: two rounds of BEFORE and AFTER.
    import shutil

    from cacheprof.capture.compare_run import run_interleaved
    from cacheprof.capture.replay import ReplayDriver
    from cacheprof.dockerfile import load
    from cacheprof.model import Builder, RunPlan, parse_scenario

    source = DATA / "streams" / "buildkit-python-app"
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(source / "build-002.jsonl", rec / "warm.jsonl")
    shutil.copy(source / "engine.json", rec / "engine.json")
    entry = json.dumps({"stream": "warm.jsonl", "builder": "buildkit"})
    (rec / "builds.jsonl").write_text((entry + "\n") * 4)
    model = load(source / "Dockerfile")
    plans = {side: RunPlan(context=FIXTURES / "python-app", dockerfile=source / "Dockerfile", model=model,
                           builder=Builder.BUILDKIT, scenarios=(parse_scenario("warm"),), repeat=2, namespace=side)
             for side in ("before", "after")}
    driver = ReplayDriver(rec)
    profiles, failure, _ = run_interleaved(driver, plans, quiet=True, rounds=2)
    assert failure is None
    sides = [r.tag.split("/")[1].split("-")[0] for r in driver.requests]
    assert sides == ["before", "after", "after", "before"]
    assert [b.repeat for b in profiles["before"].builds] == [1, 2]
    assert all(s.status.value == "CACHED" for b in profiles["after"].builds for s in b.steps)
