"""Recorded step inputs: what each instruction reads, and their round trip through profile.json (v2)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cacheprof.context.inputs import record_inputs
from cacheprof.dockerfile import parse_text
from cacheprof.model import Build, Builder, Profile
from cacheprof.store.profile_json import dumps, loads

SCHEMA = Path(__file__).resolve().parent.parent / "cacheprof" / "store" / "schemas" / "profile-v2.json"
DF = """\
FROM busybox:1.36 AS b
COPY src/ /src/
FROM busybox:1.36
ARG V=1
ENV X=$V
COPY --from=b /src /s
RUN --mount=type=bind,source=tools,target=/t echo
"""


def _ctx(tmp_path: Path) -> Path:
    for rel, text in {"src/a.c": "a", "src/b.c": "b", "tools/t": "t", "x.log": "x", ".dockerignore": "*.log\n",
                      "Dockerfile": DF}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_inputs_name_files_args_env_stage_and_parent(tmp_path):
    ctx = _ctx(tmp_path)
    model = parse_text(DF, str(ctx / "Dockerfile"))
    inputs, files = record_inputs(model, ctx, ctx / "Dockerfile", Builder.BUILDKIT, {"V": "2"})
    by = {i.key: i for i in inputs}
    assert by[("b", 2)].file_count == 2 and by[("b", 2)].sources == ("src/",)
    assert set(files) == {"src/a.c", "src/b.c", "tools/t"}  # only what some step reads; x.log is ignored
    assert by[("1", 4)].from_stage == "b" and by[("1", 4)].parent == ("1", 3)
    assert by[("1", 5)].args == {"V": "2"} and by[("1", 5)].env == {"X": "2"} and by[("1", 5)].file_count == 1
    assert by[("b", 1)].base == "busybox:1.36" and by[("1", 1)].from_stage is None
    # An edit (bytes appended while the tar streams) changes exactly that file's digest.
    st = (ctx / "src" / "a.c").stat()
    _, edited = record_inputs(model, ctx, ctx / "Dockerfile", Builder.BUILDKIT, {"V": "2"},
                              {(st.st_dev, st.st_ino): b"# edit\n"})
    assert [p for p in files if files[p] != edited[p]] == ["src/a.c"]


def test_inputs_round_trip_and_match_the_schema(tmp_path):
    ctx = _ctx(tmp_path)
    model = parse_text(DF, str(ctx / "Dockerfile"))
    inputs, files = record_inputs(model, ctx, ctx / "Dockerfile", Builder.CLASSIC, {})
    build = Build("warm", 1, True, None, 1.0, "sha256:x", inputs=inputs, files=files)
    profile = Profile(builder="classic", dockerfile="Dockerfile", context=str(ctx), builds=(build,))
    text = dumps(profile)
    jsonschema.validate(json.loads(text), json.loads(SCHEMA.read_text()))
    back = loads(text).builds[0]
    assert back.inputs == inputs and back.files == files


def _synthetic(tmp_path: Path) -> Profile:
    """cold, warm, then an edit of src/a.c: real recorded inputs, hand-set step statuses (Docker's rules)."""
    from cacheprof.model import Step, StepStatus

    ctx = _ctx(tmp_path)
    model = parse_text(DF, str(ctx / "Dockerfile"))
    inputs, files = record_inputs(model, ctx, ctx / "Dockerfile", Builder.BUILDKIT, {})
    st = (ctx / "src" / "a.c").stat()
    e_inputs, e_files = record_inputs(model, ctx, ctx / "Dockerfile", Builder.BUILDKIT, {},
                                      {(st.st_dev, st.st_ino): b"x"})
    keys = [("b", 1, 1, "FROM busybox:1.36 AS b"), ("b", 2, 2, "COPY src/ /src/"), ("1", 1, 3, "FROM busybox:1.36"),
            ("1", 4, 6, "COPY --from=b /src /s"), ("1", 5, 7, "RUN --mount=type=bind,source=tools,target=/t echo")]

    def steps(ran: set[tuple[str, int]]) -> tuple[Step, ...]:
        return tuple(Step(n, s, p, line, text, StepStatus.RUN if (s, p) in ran else StepStatus.CACHED,
                          duration_s=1.0) for n, (s, p, line, text) in enumerate(keys, 1))

    all_keys = {(s, p) for s, p, _, _ in keys if p > 1}
    builds = (Build("cold", 1, True, None, 5.0, "i1", steps(all_keys), inputs=inputs, files=files),
              Build("warm", 1, True, None, 1.0, "i1", steps(set()), inputs=inputs, files=files),
              Build("edit:src/a.c", 1, True, None, 3.0, "i2", steps({("b", 2), ("1", 4), ("1", 5)}),
                    inputs=e_inputs, files=e_files))
    return Profile(builder="buildkit", dockerfile=str(ctx / "Dockerfile"), context=str(ctx), builds=builds)


def test_explain_and_the_why_column(tmp_path):
    from cacheprof.analysis.explain import explain_all
    from cacheprof.render.terminal import render_profile

    profile = _synthetic(tmp_path)
    (e,) = [x for x in explain_all(profile) if x.scenario == "edit:src/a.c"]
    assert e.against_scenario == "warm"
    [(root, followers)] = e.causes()
    assert root.cause == "`COPY src/ /src/` (line 2): 1 file changed: `src/a.c`"
    assert [(f.line, f.why.split(":")[0]) for f in followers] == [(6, "stage `b` it copies from re-ran"),
                                                                (7, "parent step re-ran")]
    text = render_profile(profile, 160)
    block = text[text.index("== edit:src/a.c"):]
    assert " why" in block.splitlines()[1] and "1 file changed: `src/a.c`" in block and "after line 2" in block
    assert " why" not in text[text.index("== warm"):text.index("== edit")]  # warm has nothing to explain


def test_base_image_and_arg_causes(tmp_path):
    from dataclasses import replace

    from cacheprof.analysis.explain import explain

    profile = _synthetic(tmp_path)
    cold, warm, edit = profile.builds
    # The same edit build, but its base image id changed and nothing else did.
    moved = tuple(replace(i, base="busybox:1.36@sha256:new") if i.base else i for i in warm.inputs)
    rebased = replace(edit, inputs=moved, files=warm.files)
    p2 = replace(profile, builds=(cold, warm, rebased))
    [(root, _)] = explain(p2, 3, 2).causes()
    assert root.cause == "base image changed: `busybox:1.36` → `busybox:1.36@sha256:new`"
    # A build arg the RUN sees.
    argd = tuple(replace(i, args={"V": "2"}) if i.key == ("1", 5) else i for i in warm.inputs)
    p3 = replace(profile, builds=(cold, warm, replace(edit, inputs=argd, files=warm.files, steps=tuple(
        replace(s, status=s.status.__class__("RUN") if s.key == ("1", 5) else s.status.__class__("CACHED"))
        for s in edit.steps))))
    [(root, followers)] = explain(p3, 3, 2).causes()
    assert root.cause == "ARG `V` changed: `1` → `2`" and followers == []  # ARG V=1 in the Dockerfile


def test_history_cost_figures_and_chart():
    from cacheprof.advise.cost import history_cost
    from cacheprof.advise.predict import Prediction, StepPrediction
    from cacheprof.render.prediction import history_chart

    def pred(secs: list[float]) -> Prediction:
        steps = tuple(StepPrediction("0", k + 2, k + 2, f"RUN s{k}", True, "x", expected_s=v)
                      for k, v in enumerate(secs))
        return Prediction("buildkit", (), (), {}, steps)

    rows = [(f"c{k}", f"commit {k}", pred(v)) for k, v in enumerate([[1.0], [2.0, 8.0], [0.5], [4.0]])]
    h = history_cost(rows)
    assert [c.expected_s for c in h.commits] == [1.0, 10.0, 0.5, 4.0]
    assert h.mean_s == 3.875 and h.median_s == 2.5
    assert h.p90_s == pytest.approx(8.2)  # inclusive 90th percentile of 0.5, 1, 4, 10: 4 + 0.7 * (10 - 4)
    assert h.costliest[0][:2] == ("0", 3) and h.costliest[0][3] == 8.0  # RUN s1 only in commit c1
    assert history_chart(h, h).startswith(b"\x89PNG")


def test_explain_bad_input_one_line(tmp_path):
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cacheprof.cli", "explain", *args], capture_output=True,
                              text=True, timeout=60)

    profile = _synthetic(tmp_path / "c")
    good = tmp_path / "p.json"
    good.write_text(dumps(profile))
    bare = tmp_path / "bare.json"
    bare.write_text(dumps(Profile(builder="buildkit", dockerfile="D", context=".", builds=tuple(
        Build(b.scenario, b.repeat, b.ok, b.error, b.duration_s, b.image_id, b.steps) for b in profile.builds))))
    for args, needle in (((str(tmp_path / "none.json"),), "no such file"),
                         ((str(bare),), "no recorded step inputs"),
                         ((str(good), "--build", "9"), "--build 9: the profile has builds 1 to 3"),
                         ((str(good), "--against", "1"), "--against needs --build")):
        r = cli(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
    r = cli(str(good), "--build", "3", "--against", "1")
    assert r.returncode == 0 and "build 3 (edit:src/a.c) against build 1 (cold)" in r.stdout


def test_later_builds_store_only_the_files_that_differ(tmp_path):
    profile = _synthetic(tmp_path)
    doc = json.loads(dumps(profile))
    cold, warm, edit = doc["builds"]
    assert len(cold["files"]) == 3 and "files_base" not in cold
    assert warm["files"] == {} and warm["files_base"] == 1 and warm["files_removed"] == []
    assert list(edit["files"]) == ["src/a.c"] and edit["files_base"] == 2
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert [b.files for b in loads(dumps(profile)).builds] == [b.files for b in profile.builds]
    # A removed file, and a base that is not an earlier build.
    edit["files_removed"] = ["tools/t"]
    assert "tools/t" not in loads(json.dumps(doc)).builds[2].files
    edit["files_base"] = 3
    with pytest.raises(Exception, match="files_base"):
        loads(json.dumps(doc))
