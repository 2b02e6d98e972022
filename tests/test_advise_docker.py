"""`cacheprof advise --measure` against the real daemon, on the corpus cases that build offline (FROM busybox,
stand-in pip/npm that read the manifests and take time): the proposed reorder builds an image equivalent to
the original, is faster on the edit the finding names, and leaves no trace in the context or the temp folder.
The npm case is a workspace: the rewrite must copy every member's package.json, or the members' node_modules
would differ."""

from __future__ import annotations

import json
import shutil

import pytest

from cacheprof.context.walk import context_fingerprint
from tests.conftest import FIXTURES
from tests.test_profile_docker import run_cli

pytestmark = pytest.mark.docker

OFFLINE = sorted(p for p in (FIXTURES / "advise-corpus").iterdir()
                 if p.is_dir() and json.loads((p / "expected.json").read_text()).get("builds_offline"))


def test_there_are_offline_cases():
    assert len(OFFLINE) >= 2


@pytest.mark.parametrize("case", OFFLINE, ids=lambda p: p.name)
def test_measure_proves_the_proposed_order(docker_engine, tmp_path, case):
    # No nonce file: `COPY . .` would copy it into the images. The cold builds run without cache and every
    # edit writes fresh content, so earlier runs' cache cannot decide anything.
    shutil.copytree(case, tmp_path / "case", symlinks=True)
    ctx, dockerfile = tmp_path / "case" / "context", tmp_path / "case" / "Dockerfile"
    fingerprint = context_fingerprint(ctx)
    scratch = tmp_path / "tmp"  # TMPDIR of the command: where the proposed Dockerfile lives meanwhile
    scratch.mkdir()
    out = tmp_path / "out"

    r = run_cli("advise", str(ctx), "-f", str(dockerfile), "--measure", "--repeat", "3", "--format", "json",
                "--out", str(out), "--quiet", env={"TMPDIR": str(scratch)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    [expected] = json.loads((case / "expected.json").read_text())["findings"]
    [finding] = doc["findings"]
    assert (finding["rule"], finding["line"], finding["related_line"]) == (
        expected["rule"], expected["line"], expected["related_line"])
    assert finding["fix"] is not None and finding["scenario"].startswith("edit:")

    measured = doc["measure"]
    assert measured["equivalent"] is True, measured["comparison"]["equivalence"]
    assert measured["verdicts"][finding["scenario"]] == "faster", measured["comparison"]["scenarios"]
    install = (f"`{finding['related_instruction']}` was re-run on every {finding['scenario']} before, "
               "and is CACHED after")
    assert install in [c["message"] for c in measured["comparison"]["step_changes"]]
    assert (out / "compare.json").is_file()
    assert list(scratch.iterdir()) == []
    assert context_fingerprint(ctx) == fingerprint
