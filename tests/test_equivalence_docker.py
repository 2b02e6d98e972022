"""The image equivalence check and the Dockerfiles compare accepts (issue 8, item 7), on the real daemon."""

from __future__ import annotations

import json
import uuid

import pytest

from cacheprof.capture.driver import export_path
from cacheprof.errors import UsageError
from tests.test_profile_docker import run_cli

pytestmark = pytest.mark.docker

BUILDERS = ["buildkit", "classic"]


@pytest.mark.parametrize(("member", "path"), [
    ("./.marker", "/.marker"), (".marker", "/.marker"), ("marker", "/marker"), ("./etc/", "/etc"),
    ("..dots", "/..dots"), ("./.config/x", "/.config/x"), ("/abs", "/abs"), ("./", "/"), (".", "/"),
])
def test_export_paths_keep_their_leading_dots(member, path):
    assert export_path(member) == path


def _compare(before, after, ctx, tmp_path, builder, *extra):
    return run_cli("compare", str(before), str(after), "--context", str(ctx), "--builder", builder, "-s", "cold",
                   "--repeat", "1", "--check-equivalent", "--format", "json", "--out",
                   str(tmp_path / f"out-{uuid.uuid4().hex[:6]}"), "-q", *extra)


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_dotted_name_is_not_the_same_file(builder, docker_engine, make_context, tmp_path):
    nonce = uuid.uuid4().hex
    ctx = make_context({
        "a.Dockerfile": f"FROM busybox:1.36\nRUN echo {nonce} > /.marker\n",
        "b.Dockerfile": f"FROM busybox:1.36\nRUN echo {nonce} > /marker\n",
    })
    r = _compare(ctx / "a.Dockerfile", ctx / "b.Dockerfile", ctx, tmp_path, builder)
    assert r.returncode == 0, r.stderr
    eq = json.loads(r.stdout)["equivalence"]
    assert eq["equivalent"] is False
    assert "only in BEFORE: /.marker" in eq["differences"] and "only in AFTER: /marker" in eq["differences"]


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_dockerfile_outside_the_context_builds_the_same_image(builder, docker_engine, make_context, tmp_path):
    # The context's .dockerignore does not exclude itself, so `COPY . .` copies it. The one line cacheprof
    # (like the docker CLI) appends to it for a Dockerfile sent from outside must not count as a difference.
    text = "FROM busybox:1.36\nWORKDIR /app\nCOPY . .\n"
    ctx = make_context({"Dockerfile": text, ".dockerignore": "Dockerfile\n*.log\n", "src/app.py": "print(1)\n"})
    outside = tmp_path / "elsewhere" / "Dockerfile"
    outside.parent.mkdir()
    outside.write_text(text)
    r = _compare(ctx / "Dockerfile", outside, ctx, tmp_path, builder)
    assert r.returncode == 0, r.stderr
    eq = json.loads(r.stdout)["equivalence"]
    assert eq["equivalent"] is True, eq
    assert eq["files_compared"] > 100
    # ...while a real difference in the same place still shows.
    other = tmp_path / "elsewhere" / "Dockerfile.other"
    other.write_text(text + "RUN echo changed > /app/.dockerignore\n")
    r = _compare(ctx / "Dockerfile", other, ctx, tmp_path, builder)
    assert r.returncode == 0, r.stderr
    assert "/app/.dockerignore: content differs" in json.loads(r.stdout)["equivalence"]["differences"]


def test_variables_and_heredocs_pass_the_source_check(tmp_path):
    # This engine's built-in frontend predates heredocs (and no registry serves a newer one), so the
    # heredoc half is checked where cacheprof refused it: its own check before the first build.
    from cacheprof.capture.session import check_sources
    from cacheprof.dockerfile import parse_text

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print(1)\n")
    ok = parse_text("FROM busybox:1.36\nARG SRC=app\nCOPY $SRC/ /app/\nCOPY ${SRC}/main.py /m.py\n"
                    "COPY <<EOF /etc/motd\nhello\nEOF\nCOPY --chmod=644 <<-EOT /x\n  hi\nEOT\n"
                    "COPY $FROM_ENV/ /other/\n")
    check_sources(tmp_path, ok, "AFTER")
    assert ok.copy_sources()[-1][1] == "$FROM_ENV/"  # unknown: left to the build
    assert all(not src.startswith("<<") for _, src in ok.copy_sources())
    # a variable that expands to a missing folder is still named before building
    bad = parse_text("FROM busybox:1.36\nARG SRC=lib\nCOPY $SRC/ /app/\n")
    with pytest.raises(UsageError, match="has no such file"):
        check_sources(tmp_path, bad, "AFTER")
    check_sources(tmp_path, bad, "AFTER", {"SRC": "app"})  # --build-arg SRC=app


@pytest.mark.parametrize("builder", BUILDERS)
def test_copy_of_a_variable_is_measured(builder, docker_engine, make_context, tmp_path):
    ctx = make_context({
        "app/main.py": "print('hi')\n",
        "Dockerfile": "FROM busybox:1.36\nARG SRC=app\nCOPY $SRC/ /app/\nCOPY nonce.txt /\n",
        "Dockerfile.b": "FROM busybox:1.36\nARG SRC=app\nCOPY nonce.txt /\nCOPY ${SRC}/ /app/\n",
    })
    r = run_cli("compare", str(ctx / "Dockerfile"), str(ctx / "Dockerfile.b"), "--builder", builder, "-s", "cold",
                "--repeat", "1", "--check-equivalent", "--format", "json", "--out", str(tmp_path / "o"), "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["scenarios"][0]["verdict"] != "failed" and doc["equivalence"]["equivalent"] is True
