"""Recorded step inputs: what each instruction reads, and their round trip through profile.json (v2)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

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
