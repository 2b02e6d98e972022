"""The Dockerfile model: stages, positions, the builders' step numbering, COPY sources, errors."""

from __future__ import annotations

import pytest

from cacheprof.dockerfile import load, parse_text
from cacheprof.errors import UsageError
from cacheprof.model import Kind, parse_build_arg, parse_scenario

MULTI = """\
ARG BASE=busybox:1.36
FROM $BASE AS builder
WORKDIR /src
ENV A=1
COPY src/ ./
RUN make
FROM busybox:1.36
COPY --from=builder /out /out
ADD https://example.com/x.tgz /x.tgz
COPY ["a b.txt", "c.txt", "/dst/"]
CMD ["sh"]
"""


def test_stages_positions_and_lines():
    m = parse_text(MULTI)
    assert [(s.index, s.name, s.label, s.buildkit_label) for s in m.stages] == [
        (0, "builder", "builder", "builder"), (1, None, "1", "stage-1")]
    assert [(i.stage, i.position, i.line, i.cmd) for i in m.instructions][:5] == [
        ("builder", 1, 2, "FROM"), ("builder", 2, 3, "WORKDIR"), ("builder", 3, 4, "ENV"),
        ("builder", 4, 5, "COPY"), ("builder", 5, 6, "RUN")]
    assert [a.original for a in m.global_args] == ["ARG BASE=busybox:1.36"]


def test_buildkit_numbering_counts_only_vertex_making_instructions():
    m = parse_text(MULTI)
    # [builder 3/4] is the third of FROM, WORKDIR, COPY, RUN: the COPY (ENV makes no vertex).
    assert m.buildkit_step("builder", 3).original == "COPY src/ ./"
    assert m.buildkit_step("stage-1", 2).original == "COPY --from=builder /out /out"
    assert m.buildkit_step("1", 4).original == 'COPY ["a b.txt", "c.txt", "/dst/"]'
    assert m.buildkit_step("builder", 9) is None and m.buildkit_step("nope", 1) is None


def test_classic_numbering_includes_global_args_when_the_total_does():
    m = parse_text(MULTI)
    n = len(m.instructions)
    assert m.classic_step(1, n).original == "FROM $BASE AS builder"
    assert m.classic_step(1, n + 1).original == "ARG BASE=busybox:1.36"
    assert m.classic_step(2, n + 1).original == "FROM $BASE AS builder"


def test_context_sources_skip_copy_from_and_remote_add():
    m = parse_text(MULTI)
    assert [src for _, src in m.copy_sources()] == ["src/", "a b.txt", "c.txt"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("FROM busybox\nFOO bar\n", "line 2: unknown instruction: FOO"),
        ("RUN echo\n", "RUN before the first FROM"),
        ("# only a comment\n", "file with no instructions"),
        ("ARG A=1\n", "no FROM instruction"),
    ],
)
def test_broken_dockerfiles_are_usage_errors(text, needle):
    with pytest.raises(UsageError) as e:
        parse_text(text, "Dockerfile")
    assert needle in e.value.message and e.value.exit_code == 2


def test_missing_dockerfile(tmp_path):
    with pytest.raises(UsageError, match="Dockerfile not found"):
        load(tmp_path / "Dockerfile")


@pytest.mark.parametrize(
    ("spec", "name", "kind"),
    [("cold", "cold", Kind.COLD), ("warm", "warm", Kind.WARM), ("edit:src/*.py", "edit:src/*.py", Kind.EDIT),
     ("arg:V=2", "arg:V=2", Kind.ARG), ("arg:V=", "arg:V=", Kind.ARG)],
)
def test_scenarios_parse(spec, name, kind):
    s = parse_scenario(spec)
    assert s.name == name and s.kind is kind


@pytest.mark.parametrize("spec", ["hot", "edit:", "edit:/etc/passwd", "edit:../x", "arg:1X=2", "arg:NOEQ"])
def test_bad_scenarios(spec):
    with pytest.raises(UsageError):
        parse_scenario(spec)


def test_build_args():
    assert parse_build_arg("A=b=c") == ("A", "b=c")
    with pytest.raises(UsageError):
        parse_build_arg("novalue")


def test_resolve_status_is_not_a_pull():
    # Built with the same runtime descriptor the decoder uses: a FROM vertex with only a `resolve`
    # status (a digest lookup) stays a local base; a download status marks a pull.
    from cacheprof.steps.trace_proto import _status_response_class, decode_status

    cls = _status_response_class()
    msg = cls()
    msg.statuses.add(ID="resolve docker.io/library/busybox:1.36", vertex="sha256:a")
    msg.statuses.add(ID="sha256:layer", vertex="sha256:b")
    assert decode_status(msg.SerializeToString()).status_vertices == ("sha256:b",)
