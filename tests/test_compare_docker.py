"""`cacheprof compare` against the real daemon: Docker's own naive-vs-good ordering example."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from tests.conftest import FIXTURES
from tests.test_profile_docker import image_ids, new_images, run_cli

pytestmark = pytest.mark.docker


@pytest.fixture
def python_app(tmp_path):
    # No nonce file here: `COPY . .` would copy it into only one side's image. The cold builds run
    # without cache and every edit writes fresh content, so earlier runs' cache cannot decide anything.
    dst = tmp_path / "python-app"
    shutil.copytree(FIXTURES / "python-app", dst)
    return dst


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_good_order_is_faster_on_an_app_edit(builder, docker_engine, python_app, tmp_path):
    images_before = image_ids(docker_engine)
    out = tmp_path / "out"
    r = run_cli("compare", str(python_app / "Dockerfile.naive"), str(python_app / "Dockerfile"),
                "--builder", builder, "-s", "cold", "-s", "warm", "-s", "edit:app/main.py", "--repeat", "3",
                "--check-equivalent", "--format", "json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cacheprof/compare/v2"
    edit = next(s for s in doc["scenarios"] if s["scenario"] == "edit:app/main.py")
    assert edit["verdict"] == "faster", edit
    assert len(edit["before"]["runs_s"]) == 3 and len(edit["after"]["runs_s"]) == 3
    assert edit["ci95_s"][1] < 0
    # Each side takes cache only from its own builds: the shared first steps (FROM, WORKDIR) must not
    # send one side's warm build onto the other's layers (the classic builder would, by default).
    warm = next(s for s in doc["scenarios"] if s["scenario"] == "warm")
    assert warm["verdict"] == "no clear difference", warm
    for side in ("before", "after"):
        side_doc = json.loads((out / side / "profile.json").read_text())
        for b in side_doc["builds"]:
            if b["scenario"] == "warm":
                assert {s["status"] for s in b["steps"]} == {"CACHED"}, (side, b["steps"])

    # The saving is the dependency install that BEFORE re-runs and AFTER takes from the cache.
    before = json.loads((out / "before" / "profile.json").read_text())
    installs = [s["duration_s"] for b in before["builds"] if b["scenario"] == "edit:app/main.py"
                for s in b["steps"] if s["instruction"].startswith("RUN grep")]
    assert len(installs) == 3 and all(d > 2.5 for d in installs)
    install = sorted(installs)[1]
    saving = -edit["diff_s"]
    assert abs(saving - install) <= 0.2 * install, (saving, install)
    assert any("re-run on every edit:app/main.py before, and is CACHED after" in c["message"]
               for c in doc["step_changes"])
    assert doc["equivalence"]["equivalent"] is True, doc["equivalence"]
    assert doc["equivalence"]["files_compared"] > 100
    for name in ("compare.json", "compare.md", "compare.html", "charts/side_by_side.png",
                 "before/profile.json", "after/profile.json"):
        assert (out / name).is_file(), name
    assert not new_images(docker_engine, images_before)
    assert not docker_engine.containers.list(all=True, filters={"label": "org.cacheprof.export"})


def test_a_dockerfile_compared_with_itself_shows_no_clear_difference(docker_engine, python_app, tmp_path):
    df = python_app / "Dockerfile"
    r = run_cli("compare", str(df), str(df), "-s", "cold", "-s", "warm", "-s", "edit:app/main.py",
                "--repeat", "3", "--format", "json", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    verdicts = {s["scenario"]: s["verdict"] for s in json.loads(r.stdout)["scenarios"]}
    assert verdicts == {"cold": "no clear difference", "warm": "no clear difference",
                        "edit:app/main.py": "no clear difference"}


def test_failing_after_is_reported_and_before_is_written(docker_engine, make_context, tmp_path):
    ctx = make_context({
        "Dockerfile": "FROM busybox:1.36\nCOPY nonce.txt /\nRUN true\n",
        "Dockerfile.broken": f"FROM busybox:1.36\nCOPY nonce.txt /\nRUN echo {uuid.uuid4().hex} && exit 7\n",
    })
    out = tmp_path / "out"
    r = run_cli("compare", str(ctx / "Dockerfile"), str(ctx / "Dockerfile.broken"), "-s", "cold",
                "--repeat", "1", "--format", "json", "--out", str(out))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "AFTER failed to build" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["scenarios"][0]["verdict"] == "failed"
    assert "7" in doc["errors"]["after"][0]
    before = json.loads((out / "before" / "profile.json").read_text())
    assert before["builds"][0]["ok"] is True


@pytest.mark.parametrize(
    ("files", "args", "needle"),
    [
        ({"Dockerfile": "FROM busybox:1.36\n"}, ["{ctx}/Dockerfile", "{ctx}/missing"], "AFTER Dockerfile not found"),
        ({"Dockerfile": "FROM busybox:1.36\n", "Dockerfile.b": "FROM busybox:1.36\nCOPY src/ /src/\n"},
         ["{ctx}/Dockerfile", "{ctx}/Dockerfile.b"], "has no such file"),
    ],
)
def test_compare_bad_input_exits_2(files, args, needle, make_context, tmp_path):
    ctx = make_context(files)
    r = run_cli("compare", *[a.replace("{ctx}", str(ctx)) for a in args], "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
