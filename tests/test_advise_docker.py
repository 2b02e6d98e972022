"""`cacheprof advise --measure` against the real daemon: the proposed reorder of the naive fixture is
faster on an app edit, builds an equivalent image, and leaves no trace in the context or the temp folder."""

from __future__ import annotations

import json
import shutil

import pytest

from cacheprof.context.walk import context_fingerprint
from tests.conftest import FIXTURES
from tests.test_profile_docker import run_cli

pytestmark = pytest.mark.docker


def test_measure_proves_the_proposed_order(docker_engine, tmp_path):
    # No nonce file: `COPY . .` would copy it into the images. The cold builds run without cache and every
    # edit writes fresh content, so earlier runs' cache cannot decide anything.
    ctx = tmp_path / "python-app"
    shutil.copytree(FIXTURES / "python-app", ctx)
    fingerprint = context_fingerprint(ctx)
    scratch = tmp_path / "tmp"  # TMPDIR of the command: where the proposed Dockerfile lives meanwhile
    scratch.mkdir()
    out = tmp_path / "out"

    r = run_cli("advise", str(ctx), "-f", str(ctx / "Dockerfile.naive"), "--measure", "--repeat", "2",
                "--format", "json", "--out", str(out), "--quiet", env={"TMPDIR": str(scratch)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cacheprof/advice/v1"
    [finding] = doc["findings"]
    assert (finding["kind"], finding["line"], finding["related_line"]) == ("copy-before-install", 4, 6)
    assert finding["scenario"] == "edit:app/main.py" and finding["fixed"] is True

    measured = doc["measure"]
    assert measured["verdicts"] == {"cold": measured["verdicts"]["cold"], "warm": measured["verdicts"]["warm"],
                                    "edit:app/main.py": "faster"}, measured["comparison"]["scenarios"]
    assert measured["equivalent"] is True, measured["comparison"]["equivalence"]
    assert any("re-run on every edit:app/main.py before, and is CACHED after" in c["message"]
               for c in measured["comparison"]["step_changes"])
    assert (out / "compare.json").is_file() and (out / "after" / "profile.json").is_file()

    assert list(scratch.iterdir()) == []
    assert context_fingerprint(ctx) == fingerprint
