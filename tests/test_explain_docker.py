"""`cacheprof explain` on real builds, both builders: each re-run step gets the right first cause.
The expected causes below were written from Docker's cache rules before explain ran on these builds.

The two stages start differently on purpose: after a --no-cache build the classic builder holds two
identical images for an identical stage prefix and continues the next build from the newest one, which
makes the warm build re-run the other stage's steps (then explain rightly leaves them out)."""

from __future__ import annotations

import json

import pytest

from .test_profile_docker import run_cli

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM busybox:1.36 AS builder
COPY nonce.txt /nonce
WORKDIR /src
COPY src/ ./
RUN cat *.c > /out.bin
FROM busybox:1.36
COPY nonce.txt /nonce-final
ARG GIT_SHA=a1b2
COPY VERSION /etc/v
COPY --from=builder /out.bin /app.bin
RUN echo "$GIT_SHA" > /sha
"""


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_explain_names_the_first_cause(builder, docker_engine, make_context, tmp_path):
    ctx = make_context({"Dockerfile": DOCKERFILE, "src/main.c": "int main;\n", "VERSION": "1\n",
                        "notes.log": "n\n", ".dockerignore": "*.log\n"})
    out = tmp_path / "out"
    r = run_cli("profile", str(ctx), "--builder", builder, "--format", "json", "--out", str(out),
                "-s", "cold", "-s", "warm", "-s", "edit:src/main.c", "-s", "edit:notes.log",
                "-s", "arg:GIT_SHA=c3d4", "-s", "edit:VERSION")
    assert r.returncode == 0, r.stderr
    profile = json.loads(r.stdout)
    assert all(b["inputs"] for b in profile["builds"])
    e = run_cli("explain", str(out / "profile.json"), "--format", "json")
    assert e.returncode == 0, e.stderr
    by = {b["scenario"]: b for b in json.loads(e.stdout)["builds"]}
    assert all(by[s]["against_scenario"] == "warm" for s in ("edit:src/main.c", "edit:notes.log", "arg:GIT_SHA=c3d4"))

    # A copied file: the COPY names it; the RUN after it, and the other stage's COPY --from, follow.
    causes = by["edit:src/main.c"]["causes"]
    assert [c["cause"] for c in causes] == ["`COPY src/ ./` (line 4): 1 file changed: `src/main.c`"]
    followed = {f["line"]: f["why"] for f in causes[0]["followed"]}
    assert 5 in followed, e.stdout
    assert followed[5].startswith("parent step re-ran: `COPY src/ ./`")
    assert followed[10].startswith("stage `builder` it copies from re-ran: `COPY src/ ./`")
    assert 11 in followed

    # An ignored file: nothing re-ran, nothing to explain.
    assert by["edit:notes.log"]["steps"] == [] and by["edit:notes.log"]["causes"] == []

    # A build arg: the first step that sees it.
    causes = by["arg:GIT_SHA=c3d4"]["causes"]
    assert [c["cause"] for c in causes] == ["ARG `GIT_SHA` changed: `a1b2` → `c3d4`"]
    assert causes[0]["line"] == 11

    # A file of the final stage: its COPY, and what follows it there only.
    causes = by["edit:VERSION"]["causes"]
    assert [c["cause"] for c in causes] == ["`COPY VERSION /etc/v` (line 9): 1 file changed: `VERSION`"]
    assert {f["line"] for f in causes[0]["followed"]} == {10, 11}
