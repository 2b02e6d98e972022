"""Warm-up builds (issue 8, item 1) and the monotonic clock (item 5), on the real daemon."""

from __future__ import annotations

import json
import shutil
import time
import uuid

import pytest

from cacheprof.capture.driver import DockerDriver
from cacheprof.capture.session import ProfileOptions, plan_profile, run_plan
from cacheprof.model import Builder, Reporter
from tests.conftest import FIXTURES
from tests.test_profile_docker import run_cli

pytestmark = pytest.mark.docker


@pytest.fixture
def python_app(tmp_path):
    # The install step sleeps about a second per requirement and reads requirements.txt; the good order
    # keeps it cached on an app edit, the naive order (COPY . . first) re-runs it.
    # A nonce comment in requirements.txt (the install skips comments): no earlier run's cache can hold
    # the install, so only this run's own builds (the warm-ups) can put it there.
    dst = tmp_path / "python-app"
    shutil.copytree(FIXTURES / "python-app", dst)
    with (dst / "requirements.txt").open("a") as fh:
        fh.write(f"# nonce {uuid.uuid4().hex}\n")
    return dst


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_an_edit_alone_is_measured_from_a_warm_cache(builder, docker_engine, python_app, tmp_path):
    # Only an edit scenario: without warm-ups the good order's first round has no cache of its own and
    # takes as long as the naive order, so three rounds cannot tell the two apart.
    out = tmp_path / "out"
    r = run_cli("compare", str(python_app / "Dockerfile.naive"), str(python_app / "Dockerfile"),
                "--builder", builder, "-s", "edit:app/main.py", "--repeat", "3", "--format", "json",
                "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    (edit,) = doc["scenarios"]
    assert edit["verdict"] == "faster", edit
    assert doc["warmups"] == {"before": 1, "after": 1}
    after = json.loads((out / "after" / "profile.json").read_text())
    assert after["warmups"] == 1
    # Every measured round of the good order kept the install cached, the first one included.
    for b in after["builds"]:
        install = next(s for s in b["steps"] if s["instruction"].startswith("RUN grep"))
        assert install["status"] == "CACHED", (b["repeat"], install)


def test_profile_records_its_warmups_and_warmup_zero_skips_them(docker_engine, python_app, tmp_path):
    r = run_cli("profile", str(python_app), "-s", "edit:app/main.py", "--warmup", "0", "--format", "json",
                "--out", str(tmp_path / "o0"), "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["warmups"] == 0
    r = run_cli("profile", str(python_app), "-s", "edit:app/main.py", "--warmup", "2", "--format", "json",
                "--out", str(tmp_path / "o2"), "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["warmups"] == 2 and len(doc["builds"]) == 1
    install = next(s for s in doc["builds"][0]["steps"] if s["instruction"].startswith("RUN grep"))
    assert install["status"] == "CACHED"
    # A cold-only plan needs no warm cache: no warm-up runs.
    r = run_cli("profile", str(python_app), "-s", "cold", "--format", "json", "--out", str(tmp_path / "oc"), "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["warmups"] == 0


def test_durations_come_from_a_monotonic_clock(docker_engine, make_context, monkeypatch):
    # The wall clock stands still (an NTP step would do worse): durations must not come from it.
    ctx = make_context({"Dockerfile": "FROM busybox:1.36\nCOPY nonce.txt /\nRUN sleep 1\n"})
    plan = plan_profile(ProfileOptions(context=ctx, dockerfile=None, scenarios=("cold",), repeat=1,
                                       builder=Builder.CLASSIC))
    driver = DockerDriver()
    try:
        monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)
        profile, failure = run_plan(driver, plan, reporter=Reporter())
    finally:
        monkeypatch.undo()
        driver.close()
    assert failure is None
    (build,) = profile.builds
    assert build.ok and build.duration_s >= 1.0, build.duration_s
    run = next(s for s in build.steps if s.instruction == "RUN sleep 1")
    assert 0.9 <= run.duration_s <= 10.0, run


def test_hit_rate_is_one_number_on_both_builders(docker_engine, make_context, tmp_path):
    # WORKDIR, ENV, LABEL and CMD do no work: BuildKit calls a cold WORKDIR cached, the classic builder
    # counts ENV/LABEL/CMD as steps. Only RUN/COPY/ADD count, so the builders agree and cold reads 0%.
    ctx = make_context({
        "Dockerfile": ("FROM busybox:1.36\nWORKDIR /app\nENV A=1\nLABEL x=y\nCOPY nonce.txt ./\n"
                       "RUN cat nonce.txt > /n\nCOPY src/ ./src/\nRUN ls src > /l\nCMD [\"sh\"]\n"),
        "src/a.txt": "a\n",
    })
    rates = {}
    for builder in ("buildkit", "classic"):
        r = run_cli("profile", str(ctx), "--builder", builder, "-s", "cold", "-s", "warm", "-s", "edit:src/a.txt",
                    "--format", "json", "--out", str(tmp_path / builder), "-q")
        assert r.returncode == 0, r.stderr
        rates[builder] = {k: v["hit_rate"] for k, v in json.loads(r.stdout)["summary"].items()}
    # 4 work steps: cold none cached, warm all, the edit keeps COPY nonce + RUN cat (2 of 4)
    assert rates["buildkit"] == rates["classic"] == {"cold": 0.0, "warm": 1.0, "edit:src/a.txt": 0.5}
