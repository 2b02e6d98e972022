"""Docker CLI conventions: --build-arg NAME from the environment, a warning for a build arg no ARG consumes,
-f - for a Dockerfile on stdin, and DOCKER_CONTEXT / `docker context use` read from the context store."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from cacheprof.cli import main
from cacheprof.commands.options import unused_build_args
from cacheprof.dockerfile import parse_text
from tests.conftest import DATA, FIXTURES

RECORDING = DATA / "streams" / "buildkit-python-app"


def test_unused_build_args_know_global_and_predefined_args():
    model = parse_text("ARG BASE=busybox\nFROM $BASE\nARG VERSION=1 OTHER\nRUN echo $VERSION\n")
    assert unused_build_args(model, ["BASE", "VERSION", "OTHER", "HTTP_PROXY", "no_proxy", "TYPO"]) == ["TYPO"]


def _profile(tmp_path: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None):
    ctx = tmp_path / "ctx"
    if not ctx.exists():
        shutil.copytree(FIXTURES / "python-app", ctx)
        shutil.copy(RECORDING / "Dockerfile", ctx / "Dockerfile")
    out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
    return CliRunner().invoke(main, ["profile", str(ctx), "--replay", str(RECORDING), "-q", "--format", "json",
                                     "-s", "cold", "-s", "warm", "-s", "edit:app/main.py", "--out", str(out), *args],
                              env=env, input=stdin)


def test_build_arg_name_alone_takes_the_environment(tmp_path: Path):
    import json

    r = _profile(tmp_path, "--build-arg", "PIP_INDEX", env={"PIP_INDEX": "https://mirror"})
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["build_args"] == {"PIP_INDEX": "https://mirror"}
    # No ARG PIP_INDEX in this Dockerfile: docker would warn, so does cacheprof.
    assert "build-args ['PIP_INDEX'] are not consumed by any ARG" in r.stderr


def test_build_arg_name_unset_is_left_out(tmp_path: Path):
    import json

    r = _profile(tmp_path, "--build-arg", "CACHEPROF_SURELY_UNSET")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["build_args"] == {}
    assert "not set in the environment, left out" in r.stderr


def test_an_arg_scenario_without_its_arg_is_called_out(tmp_path: Path):
    r = CliRunner().invoke(main, ["profile", str(FIXTURES / "python-app"), "-s", "arg:VERSION=2", "--replay",
                                  str(RECORDING), "-q", "--out", str(tmp_path / "o")])
    assert "scenario arg:VERSION=... measures nothing: no ARG VERSION" in r.stderr


def test_dockerfile_from_stdin(tmp_path: Path):
    import json

    r = _profile(tmp_path, "-f", "-", stdin=(RECORDING / "Dockerfile").read_text())
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    saved = Path(doc["dockerfile"])
    assert saved.name == "Dockerfile.stdin" and saved.read_text() == (RECORDING / "Dockerfile").read_text()
    assert [s["line"] for s in doc["builds"][0]["steps"]] == [2, 3, 4, 6, 8]  # lines from the piped Dockerfile
    assert not (tmp_path / "ctx" / "Dockerfile.stdin").exists()  # never written into the context


def test_dockerfile_from_empty_stdin_is_refused(tmp_path: Path):
    r = _profile(tmp_path, "-f", "-", stdin="")
    assert r.exit_code == 2 and "nothing on stdin" in r.stderr
