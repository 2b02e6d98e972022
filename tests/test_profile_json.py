"""The profile JSON contract: round trip, and one clear error for a broken file."""

from __future__ import annotations

import json

import pytest

from cacheprof.errors import InputFormatError
from cacheprof.model import Build, EngineInfo, InternalVertex, Profile, Step, StepStatus
from cacheprof.store import profile_json


def sample() -> Profile:
    steps = (
        Step(1, "0", 1, 1, "FROM busybox:1.36", StepStatus.CACHED, 10.0, 10.0, 0.0),
        Step(2, "0", 2, 2, "RUN sleep 1", StepStatus.RUN, 10.0, 11.25, 1.25),
        Step(3, "0", 3, 3, "RUN false", StepStatus.ERROR, 11.25, 11.5, 0.25, "exit code: 1"),
    )
    return Profile(
        builder="buildkit", dockerfile="/ctx/Dockerfile", context="/ctx",
        builds=(
            Build("cold", 1, False, "exit code: 1", 2.0, None, steps,
                  (InternalVertex("[internal] load build context", False, 9.0, 9.5, 0.5),), 9.0),
            Build("warm", 1, True, None, 0.5, "sha256:abc", steps[:2], (), 12.0),
        ),
        engine=EngineInfo("20.10.24", "1.41", "linux", "amd64", "unix:///var/run/docker.sock"),
        scenarios=("cold", "warm"), created="2026-11-29T00:00:00+00:00", machine={"cpus": "2"},
    )


def test_round_trip_is_lossless_and_summary_is_computed():
    p = sample()
    text = profile_json.dumps(p)
    assert profile_json.loads(text) == p
    doc = json.loads(text)
    assert doc["schema"] == "cacheprof/profile/v2"
    # the only cold build failed: no time, no hit rate, no cold to measure cache saved against
    assert doc["summary"]["cold"] == {"builds": 1, "ok": 0, "median_total_s": None, "hit_rate": None,
                                      "steps": 0, "cached_steps": 0, "cache_saved": None, "cache_saved_s": None}
    # warm: FROM (no work) CACHED, `RUN sleep 1` RUN -> 0 of 1 work step cached
    assert doc["summary"]["warm"]["hit_rate"] == 0.0
    assert doc["warmups"] == 0
    assert doc["builds"][0]["steps"][2]["status"] == "ERROR"
    assert doc["complete"] is True


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.pop("builds"), "field 'builds' is missing"),
        (lambda d: d.update(schema="something/else"), "schema is 'something/else'"),
        (lambda d: d["builds"][0].update(ok="yes"), "field 'builds[0].ok' should be bool"),
        (lambda d: d["builds"][1]["steps"][0].update(status="MAYBE"), "builds[1].steps[0].status"),
        (lambda d: d["builds"][0]["steps"][1].update(duration_s="slow"), "builds[0].steps[1].duration_s"),
        (lambda d: d["builds"][0].update(repeat=True), "builds[0].repeat"),
    ],
)
def test_hand_edited_file_gives_one_clear_line(mutate, needle):
    doc = json.loads(profile_json.dumps(sample()))
    mutate(doc)
    with pytest.raises(InputFormatError) as e:
        profile_json.loads(json.dumps(doc), "profile.json")
    assert needle in e.value.message and "\n" not in e.value.message
    assert e.value.message.startswith("profile.json")


@pytest.mark.parametrize("text", ["", "{", profile_json.dumps(sample())[:500], "[1, 2]", "null"])
def test_truncated_or_foreign_json_is_an_input_error(text):
    with pytest.raises(InputFormatError) as e:
        profile_json.loads(text, "p.json")
    assert e.value.exit_code == 2 and "\n" not in e.value.message


def test_v1_profiles_still_load():
    """v2 only added statuses: a v1 document (CACHED/RUN/ERROR) loads as it did."""
    doc = json.loads(profile_json.dumps(sample()))
    doc["schema"] = "cacheprof/profile/v1"
    assert profile_json.profile_from_dict(doc) == sample()
    doc["schema"] = "cacheprof/profile/v3"
    with pytest.raises(InputFormatError, match="reads cacheprof/profile/v1 or cacheprof/profile/v2"):
        profile_json.profile_from_dict(doc)


def test_v2_statuses_round_trip():
    steps = tuple(Step(n, "0", n, n, f"RUN {s}", s, None, None, None) for n, s in enumerate(StepStatus, 1))
    p = Profile(builder="buildkit", dockerfile="", context="log", source="parse",
                builds=(Build("log", 1, False, "cut", None, None, steps, complete=False),))
    back = profile_json.loads(profile_json.dumps(p))
    assert [str(s.status) for s in back.builds[0].steps] == ["CACHED", "RUN", "ERROR", "CANCELED", "PULLED", "UNKNOWN"]
