"""Every reader of a file a user hands cacheprof, fuzzed (issue 16, "Must hold"): a suite TOML, a saved profile,
a history run file, a recorded stream and a build log. The only outcomes allowed are a valid result or the
family's own error (CacheprofError): never another exception, so never an "internal error"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cacheprof.errors import CacheprofError, InputFormatError
from tests.conftest import DATA

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

GOLDEN_PROFILES = sorted((DATA / "streams").glob("*/live-profile.json"))
PROFILE = json.loads(GOLDEN_PROFILES[0].read_text())

# JSON values, including what breaks careless readers: huge ints, non-finite floats, deep nesting, surrogates.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["\ud800", "\udcff", "caf\udce9", "", "RUN", "CACHED", "sha256:" + "0" * 64]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


def dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


def mutate(doc: Any, path: list[Any], new: Any) -> Any:
    """`doc` with the value at `path` replaced (or the path cut short where it leaves the document)."""
    if not path or not isinstance(doc, dict | list):
        return new
    key, rest = path[0], path[1:]
    if isinstance(doc, dict):
        key = key if key in doc else (sorted(doc)[len(str(key)) % len(doc)] if doc else key)
        return {**doc, key: mutate(doc.get(key), rest, new)}
    if not doc:
        return [new]
    i = key % len(doc) if isinstance(key, int) else 0
    return [*doc[:i], mutate(doc[i], rest, new), *doc[i + 1:]]


def assert_reader(read, *args) -> None:
    try:
        read(*args)
    except CacheprofError:
        pass  # the family's own error: one line, the right exit code


paths = st.lists(st.one_of(st.sampled_from(["builds", "steps", "scenarios", "engine", "duration_s", "started",
                                             "line", "index", "status", "summary", "internal", "repeat"]),
                           st.integers(min_value=0, max_value=5)), max_size=5)


@FUZZ
@given(path=paths, new=values)
def test_profile_reader_on_mutated_profiles(path, new):
    from cacheprof.store.profile_json import loads

    assert_reader(loads, dump(mutate(PROFILE, path, new)), "fuzz")


@FUZZ
@given(doc=values)
def test_profile_reader_on_any_json(doc):
    from cacheprof.store.profile_json import loads

    assert_reader(loads, dump(doc), "fuzz")


@FUZZ
@given(data=st.binary(max_size=300))
def test_profile_reader_on_bytes(data, tmp_path):
    from cacheprof.store import safe_json
    from cacheprof.store.profile_json import loads

    p = tmp_path / "profile.json"
    p.write_bytes(data)
    try:
        loads(safe_json.read_text(p, "profile"), str(p))
    except CacheprofError:
        pass


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000, '{"schema": "cacheprof/profile/v1", "builds": [' + "1" * 5000 + "]}",
    '{"a": NaN}', '{"a": Infinity}', '{"a": 1e999}', '"\\ud800"',
], ids=["deep", "huge-int", "nan", "infinity", "1e999", "lone-surrogate"])
def test_profile_reader_refuses_the_documents_the_campaign_found(text):
    from cacheprof.store.profile_json import loads

    with pytest.raises(InputFormatError):
        loads(text, "fuzz")


@pytest.mark.parametrize("field,value", [("scenarios", [{"a": 1}]), ("build_args", {"A": [1]}),
                                         ("builds.0.repeat", -1), ("builds.0.duration_s", -5.0),
                                         ("builds.0.steps.0.line", -3)])
def test_profile_reader_refuses_wrong_types_and_ranges(field, value):
    from cacheprof.store.profile_json import loads

    doc = json.loads(json.dumps(PROFILE))
    *parents, last = [int(p) if p.isdigit() else p for p in field.split(".")]
    target = doc
    for p in parents:
        target = target[p]
    target[last] = value
    with pytest.raises(InputFormatError, match=field.split(".")[-1]):
        loads(dump(doc), "fuzz")


def test_profile_reader_keeps_undecodable_file_names():
    """A name read from non-UTF-8 bytes (surrogateescape) round-trips; any other lone surrogate is refused."""
    from cacheprof.store.profile_json import dumps, loads

    doc = dict(PROFILE, context="/ctx/caf\udce9")
    assert loads(dump(doc), "ok").context == "/ctx/caf\udce9"
    assert dumps(loads(dump(doc), "ok")).isascii()
    with pytest.raises(InputFormatError, match="field 'context'"):
        loads(dump(dict(PROFILE, context="\ud800")), "bad")


@FUZZ
@given(doc=values, path=paths, new=values)
def test_history_run_reader(doc, path, new, tmp_path):
    from cacheprof.store.history_json import read_run_file

    p = tmp_path / "run.json"
    p.write_text(dump(mutate(doc, path, new)))
    assert_reader(read_run_file, p)


@FUZZ
@given(data=st.binary(max_size=300))
def test_history_run_reader_on_bytes(data, tmp_path):
    from cacheprof.store.history_json import read_run_file

    p = tmp_path / "run.json"
    p.write_bytes(data)
    assert_reader(read_run_file, p)


toml_values = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.text(max_size=10),
                        st.booleans(), st.sampled_from(["nan", "inf", "-inf", "1e999", "[1, 2]", "{a = 1}"]))


@FUZZ
@given(keys=st.lists(st.sampled_from(["name", "context", "dockerfile", "scenarios", "repeat", "builder", "x"]),
                     max_size=6), vals=st.lists(toml_values, max_size=6), raw=st.binary(max_size=80))
def test_suite_reader(keys, vals, raw, tmp_path):
    from cacheprof.store.bench_results import read_suite

    body = "[[benchmark]]\n" + "".join(
        f"{k} = {v if isinstance(v, str) and v[:1] in '[{n-i1' else json.dumps(v)}\n"
        for k, v in zip(keys, vals, strict=False))
    p = tmp_path / "suite.toml"
    p.write_text(body)
    assert_reader(read_suite, p)
    p.write_bytes(raw)
    assert_reader(read_suite, p)


@FUZZ
@given(lines=st.lists(st.one_of(values.map(dump), st.text(max_size=30)), max_size=6), raw=st.binary(max_size=100))
def test_recorded_stream_reader(lines, raw, tmp_path):
    from cacheprof.capture.replay import read_recording
    from cacheprof.capture.runner import assemble
    from cacheprof.model import Builder

    p = tmp_path / "build-001.jsonl"
    for content in ("\n".join(lines).encode("utf-8", "surrogatepass"), raw):
        p.write_bytes(content)
        for builder in Builder:
            assert_reader(assemble, builder, read_recording(p), None)


@FUZZ
@given(lines=st.lists(st.one_of(
    st.sampled_from(["#1 [internal] load build definition from Dockerfile", "#5 [2/3] RUN echo hi", "#5 DONE 0.1s",
                     "#5 CACHED", "Step 1/2 : FROM busybox", " ---> Using cache", " ---> 0123456789ab",
                     "Successfully built 0123456789ab", "#5 ERROR: process did not complete successfully",
                     '{"stream": "Step 1/1 : FROM x\\n"}', '{"id": "x", "vertexes": 1}', "#99999999999999999999 DONE",
                     "#5 DONE nans", "#5 DONE 1e999s"]),
    st.text(max_size=40)), max_size=12), raw=st.binary(max_size=200))
def test_log_reader(lines, raw):
    from cacheprof.logparse import parse_log

    assert_reader(parse_log, lines)
    assert_reader(parse_log, [raw])
    assert_reader(parse_log, [ln.encode("utf-8", "surrogatepass") for ln in lines])


def test_fuzz_inputs_reach_the_readers():
    """The strategies make readable documents too, not only garbage: the mutated golden profile loads."""
    from cacheprof.store.profile_json import loads

    assert loads(dump(mutate(PROFILE, [], PROFILE)), "ok").builds
    assert Path(GOLDEN_PROFILES[0]).is_file()
