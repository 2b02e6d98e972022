"""The terminal as a user sees it, in tmux at 80 and 160 columns: the header comes before the builds, the
live view shows while builds run and is gone after, no line of the final output wraps, and the verdict is
there. The builds are real recorded streams played back at their recorded pace (no daemon needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import DATA, FIXTURES, ROOT

RECORDING = DATA / "streams" / "buildkit-python-app"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def capture(session: str, joined: bool) -> list[str]:
    out = tmux("capture-pane", "-p", "-S", "-", *(["-J"] if joined else []), "-t", session)
    return out.rstrip("\n").split("\n")


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    shutil.copytree(FIXTURES / "python-app", ctx)
    shutil.copy(RECORDING / "Dockerfile", ctx / "Dockerfile")
    return ctx


@pytest.mark.parametrize("columns", [80, 160])
def test_live_view_then_a_final_output_that_fits(context: Path, tmp_path: Path, columns: int):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (apt-get install -y tmux)")
    session = f"cacheprof-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "done"
    cmd = (f"cd {tmp_path} && CACHEPROF_REPLAY_SPEED=2 PYTHONPATH={ROOT} {sys.executable} -m cacheprof.cli "
           f"profile {context} --replay {RECORDING} -s cold -s warm -s edit:app/main.py; echo $? > {done}; "
           "sleep 60")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX")}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(columns), "-y", "60", cmd],
                   check=True, env=env)
    try:
        live_seen = False
        deadline = time.monotonic() + 60
        while not (done.exists() and done.read_text().strip()) and time.monotonic() < deadline:
            screen = "\n".join(capture(session, joined=False))
            live_seen = live_seen or ("ETA" in screen and "build " in screen)
            time.sleep(0.1)
        assert done.exists(), "the profile did not finish within 60 s"
        time.sleep(0.3)  # let tmux draw the last lines
        assert done.read_text().strip() == "0", "\n".join(capture(session, joined=False))
        visual = [line.rstrip() for line in capture(session, joined=False)]
        logical = [line.rstrip() for line in capture(session, joined=True)]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    text = "\n".join(visual)
    assert live_seen, f"the live view (build n/N ... ETA) never showed; final screen:\n{text}"
    # Header first: the Dockerfile and engine lines come before the first table.
    assert text.index("Dockerfile") < text.index("engine") < text.index("== cold")
    # The live view is transient: no ETA line stays behind.
    assert "ETA" not in text
    # Nothing wrapped: tmux joins wrapped lines with -J, so the two captures agree line for line.
    assert visual == logical
    assert max(len(line) for line in visual) <= columns
    assert any(line.startswith("Cold ") or " Cold " in line for line in visual), text
    # The tables use the width: the instruction is clipped at 80 columns, whole at 160.
    whole = "RUN grep -v '^#' requirements.txt | while read -r pkg; do echo"
    assert (whole in text) == (columns == 160)
