"""Live and offline give the same answer: streams recorded from a real daemon (`cacheprof profile
--record`, both builders), parsed offline with the same Dockerfile, give the live profile's steps.

tests/data/streams/<name>/ holds builds.jsonl, build-NNN.jsonl, engine.json, the Dockerfile and the live
run's profile.json as live-profile.json. Recorded arrival times are rounded to the microsecond, so
classic timings agree to 1e-6 s; BuildKit's come from the daemon's clock and agree exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cacheprof.dockerfile import load as load_dockerfile
from cacheprof.logparse import Format, parse_log, parse_recording

STREAMS = Path(__file__).resolve().parent / "data" / "streams"
NAMES = sorted(p.name for p in STREAMS.iterdir() if (p / "builds.jsonl").is_file())
TOLERANCE = 1e-6 + 1e-9  # both sides are rounded to 1e-6; allow float error on top


def live_builds(name: str) -> list[dict]:
    return json.loads((STREAMS / name / "live-profile.json").read_text())["builds"]


def assert_same_steps(parsed, live: dict) -> None:
    assert len(parsed.steps) == len(live["steps"])
    for got, want in zip(parsed.steps, live["steps"], strict=True):
        assert (got.stage, got.position, got.line, got.instruction, str(got.status), got.error) == (
            want["stage"], want["position"], want["line"], want["instruction"], want["status"], want["error"]
        )
        for key in ("started", "finished", "duration_s"):
            a, b = getattr(got, key), want[key]
            assert (a is None) == (b is None), (key, a, b)
            if a is not None:  # the JSON contract rounds to 1e-6, as the live profile.json was
                assert abs(round(a, 6) - b) <= TOLERANCE, (got.instruction, key, a, b)


def test_both_builders_are_recorded():
    assert {n.split("-", 1)[0] for n in NAMES} == {"buildkit", "classic"}
    assert {n.split("-", 1)[1] for n in NAMES} >= {"python-app", "failing-run", "multistage"}


@pytest.mark.parametrize("name", NAMES)
def test_recording_folder_parses_to_the_live_profile(name):
    model = load_dockerfile(STREAMS / name / "Dockerfile")
    result = parse_recording(STREAMS / name, model)
    live = live_builds(name)
    assert [(b.scenario, b.repeat, b.ok, b.complete) for b in result.builds] == [
        (b["scenario"], b["repeat"], b["ok"], b["complete"]) for b in live
    ]
    for parsed, want in zip(result.builds, live, strict=True):
        assert_same_steps(parsed, want)
        assert parsed.error == want["error"]


@pytest.mark.parametrize("name", NAMES)
def test_each_stream_file_parses_alone_to_its_live_build(name):
    """A stream file given as LOGFILE: format detected, one build, the live steps."""
    model = load_dockerfile(STREAMS / name / "Dockerfile")
    entries = [json.loads(x) for x in (STREAMS / name / "builds.jsonl").read_text().splitlines() if x.strip()]
    for entry, want in zip(entries, live_builds(name), strict=True):
        result = parse_log(STREAMS / name / entry["stream"], model)
        assert result.formats == (Format.ENGINE_JSON,)
        assert [str(b) for b in result.builders] == [entry["builder"]]
        (build,) = result.builds
        assert build.scenario == "log" and build.ok == want["ok"] and build.complete == want["complete"]
        assert_same_steps(build, want)


@pytest.mark.parametrize("name", NAMES)
def test_without_a_dockerfile_statuses_are_the_same(name):
    """Per stage, the same statuses in the same order. BuildKit runs identical FROMs of several stages
    as one vertex, named without a stage (`[1/4] FROM …`); only the Dockerfile tells which stages it
    stands for, so without it FROMs are compared apart."""
    result = parse_recording(STREAMS / name)
    for parsed, want in zip(result.builds, live_builds(name), strict=True):
        got_by_stage: dict[str, list[str]] = {}
        got_froms = []
        for s in parsed.steps:
            if s.instruction.startswith("FROM "):
                got_froms.append(str(s.status))
            else:
                got_by_stage.setdefault(s.stage, []).append(str(s.status))
        want_by_stage: dict[str, list[str]] = {}
        want_froms = []
        for s in want["steps"]:
            if s["instruction"].startswith("FROM "):
                want_froms.append(s["status"])
            else:
                want_by_stage.setdefault(s["stage"], []).append(s["status"])
        assert got_by_stage == want_by_stage
        assert set(got_froms) <= set(want_froms) and len(got_froms) <= len(want_froms)
        if name.startswith("classic"):
            assert got_froms == want_froms


@pytest.mark.parametrize("name", ["buildkit-multistage", "classic-python-app"])
def test_a_recording_wrapped_in_ci_noise_parses_the_same(name, tmp_path):
    """The first stream of a recording as a CI system shows it: timestamps, CRLF, shell lines between."""
    model = load_dockerfile(STREAMS / name / "Dockerfile")
    stream = STREAMS / name / "build-001.jsonl"
    lines = stream.read_bytes().splitlines()
    noisy = [b"2024-05-01T10:00:00.0000000Z $ curl --unix-socket /var/run/docker.sock ..."]
    for n, line in enumerate(lines):
        noisy.append(b"2024-05-01T10:00:%02d.1234567Z " % (n % 60) + line)
        if n == 3:
            noisy.append(b"2024-05-01T10:00:03.5000000Z HTTP/1.1 200 OK")
    (tmp_path / "ci.log").write_bytes(b"\r\n".join(noisy) + b"\r\n")
    (build,) = parse_log(tmp_path / "ci.log", model).builds
    assert_same_steps(build, live_builds(name)[0])


@pytest.mark.parametrize("name", NAMES)
def test_cut_recording_is_incomplete(name, tmp_path):
    stream = STREAMS / name / "build-001.jsonl"
    data = stream.read_bytes()
    (tmp_path / "cut.jsonl").write_bytes(data[: len(data) * 2 // 3])
    (build,) = parse_log(tmp_path / "cut.jsonl").builds
    assert not build.complete and not build.ok
