"""A failing step is diagnosable: its own output's tail is in the model, profile.json, the terminal and both
reports; the scenarios after a failed cold build are not run, and that is said; a RUN --mount=type=secret
or ssh is refused before building, with why and what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cacheprof.capture.session import check_session_mounts
from cacheprof.cli import main
from cacheprof.dockerfile import parse_text
from cacheprof.errors import UsageError
from tests.conftest import DATA

STREAMS = DATA / "streams"


@pytest.mark.parametrize("recording", ["buildkit-failing-run", "classic-failing-run"])
def test_the_failing_steps_output_reaches_every_output(recording: str, tmp_path: Path):
    rec = STREAMS / recording
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "input.txt").write_text("hello\n")
    out = tmp_path / "out"
    builder = "buildkit" if recording.startswith("buildkit") else "classic"
    r = CliRunner().invoke(main, ["profile", str(ctx), "-f", str(rec / "Dockerfile"), "--replay", str(rec),
                                  "--builder", builder, "-s", "cold", "-s", "warm", "-s", "edit:input.txt",
                                  "--repeat", "2", "--out", str(out), "--progress", "plain"])
    assert r.exit_code == 1, r.output
    # The recorded step printed "checking input" before grep failed.
    doc = json.loads((out / "profile.json").read_text())
    failing = [s for b in doc["builds"] for s in b["steps"] if s["status"] == "ERROR"]
    assert failing and failing[0]["log_tail"] == ["checking input"] and failing[0]["line"] == 4
    assert "| checking input" in r.stdout and "| checking input" in r.stderr
    # Both reports show the tail as a log block in the answer, before the statistics.
    page = (out / "report.html").read_text()
    assert '<pre class="log">checking input</pre>' in page
    assert page.index('<pre class="log">') < page.index("<h2>Scenarios</h2>")
    md = (out / "report.md").read_text()
    assert "```text\nchecking input\nerror: " in md and md.index("```text") < md.index("## Scenarios")
    # Stopped after the failed cold build, and said so: one build, not six.
    assert len(doc["builds"]) == 1
    assert "the 5 builds after it were not run" in r.stderr
    assert "Not run, as they would fail the same way: warm, edit:input.txt." in " ".join(r.stdout.split())


@pytest.mark.parametrize("kind", ["secret", "ssh"])
def test_session_mounts_are_refused_with_the_reason(kind: str):
    model = parse_text(f"FROM busybox:1.36\nRUN --mount=type={kind},id=x cat /run/secrets/x\n", "Dockerfile")
    with pytest.raises(UsageError) as e:
        check_session_mounts(model)
    assert f"Dockerfile:2: RUN --mount=type={kind} needs a client session" in e.value.message
    assert "no active sessions" not in e.value.message
    check_session_mounts(parse_text("FROM busybox:1.36\nRUN --mount=type=cache,target=/c true\n"))


def test_profile_of_a_secret_mount_exits_2_before_building(tmp_path: Path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\nRUN --mount=type=secret,id=tok cat /run/secrets/tok\n")
    r = CliRunner().invoke(main, ["profile", str(ctx), "--out", str(tmp_path / "o"), "-q",
                                  "--replay", str(STREAMS / "buildkit-python-app")])
    assert r.exit_code == 2 and "needs a client session" in r.stderr


def test_only_a_steps_own_failure_stops_the_run():
    from cacheprof.capture.runner import cannot_succeed
    from cacheprof.model import Build, Step, StepStatus

    steps = (Step(1, "0", 1, 4, "RUN make", StepStatus.ERROR),)
    own = Build("cold", 1, False, "executor failed running [/bin/sh -c make]: exit code: 2", 3.0, None, steps)
    classic = Build("cold", 1, False, "The command '/bin/sh -c make' returned a non-zero code: 2", 3.0, None, steps)
    engine = Build("cold", 1, False, "failed to create endpoint x on network bridge: no such interface", 3.0,
                   None, steps)
    assert cannot_succeed(own) and cannot_succeed(classic)
    assert not cannot_succeed(engine)  # the engine's trouble may pass: the next builds still run


def test_compare_stops_only_the_side_whose_cold_build_failed(tmp_path: Path):
    """BEFORE fails from scratch; AFTER builds. BEFORE's warm build is not run; AFTER's is."""
    from cacheprof.capture.compare_run import run_interleaved
    from cacheprof.capture.replay import ReplayDriver
    from cacheprof.dockerfile import load
    from cacheprof.model import Builder, RunPlan, parse_scenario
    from cacheprof.render.progress import LiveProgress

    fail, good = STREAMS / "buildkit-failing-run", STREAMS / "buildkit-python-app"
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(fail / "build-001.jsonl", rec / "before-cold.jsonl")
    shutil.copy(good / "build-001.jsonl", rec / "after-cold.jsonl")
    shutil.copy(good / "build-002.jsonl", rec / "after-warm.jsonl")
    shutil.copy(good / "engine.json", rec / "engine.json")
    (rec / "builds.jsonl").write_text("".join(json.dumps({"stream": s, "builder": "buildkit"}) + "\n"
                                              for s in ("before-cold.jsonl", "after-cold.jsonl", "after-warm.jsonl")))
    scenarios = (parse_scenario("cold"), parse_scenario("warm"))
    plans = {side: RunPlan(context=tmp_path, dockerfile=d / "Dockerfile", model=load(d / "Dockerfile"),
                           builder=Builder.BUILDKIT, scenarios=scenarios, namespace=side)
             for side, d in (("before", fail), ("after", good))}
    notes: list[str] = []
    live = LiveProgress(quiet=True)
    live.note = notes.append  # type: ignore[method-assign]
    profiles, failure, _ = run_interleaved(ReplayDriver(rec), plans, rounds=1, reporter=live)
    assert failure is None
    assert [b.scenario for b in profiles["before"].builds] == ["cold"]
    assert [b.scenario for b in profiles["after"].builds] == ["cold", "warm"]
    assert len(notes) == 1 and notes[0].startswith('BEFORE: the cold build failed at line 4 (RUN echo "checking')
    assert notes[0].endswith("\u2026); its remaining builds are not run")
