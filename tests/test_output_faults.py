"""Outputs that cannot be written (issue 16, "Writes that are atomic and checked first"): a full disk (a tiny tmpfs
made by the test) keeps what was measured elsewhere and says where in one line; a read-only --out fails before
any build; long scenario names make short, distinct chart names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cacheprof.render.charts import slug
from cacheprof.store import atomic
from tests.conftest import DATA

RECORDING = DATA / "streams" / "buildkit-failing-run"


def replay(ctx, out, env=None) -> subprocess.CompletedProcess:
    live = json.loads((RECORDING / "live-profile.json").read_text())
    scenarios = [a for b in live["builds"] for a in ("-s", b["scenario"])]
    return subprocess.run(
        [sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "-f", str(RECORDING / "Dockerfile"),
         "--replay", str(RECORDING), "--builder", live["builder"], "--out", str(out), "-q", *scenarios],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


def one_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("cacheprof: error")]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture
def tiny_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_disk_keeps_the_measured_data_elsewhere_and_says_where(tiny_tmpfs, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with open(tiny_tmpfs / "filler", "wb", buffering=0) as fh:  # fill it: the next write gets ENOSPC
        try:
            while True:
                fh.write(b"x" * 4096)
        except OSError:
            pass
    cache = tmp_path / "cache"
    r = replay(ctx, tiny_tmpfs / "out", env={"XDG_CACHE_HOME": str(cache)})
    assert r.returncode == 2, r.stderr
    line = one_line(r)
    assert "No space left on device" in line
    rescued = line.rsplit("written to ", 1)[1].strip()
    assert rescued.startswith(str(cache)), line
    doc = json.loads(open(rescued).read())
    assert len(doc["builds"]) == len(json.loads((RECORDING / "live-profile.json").read_text())["builds"])
    # No truncated profile.json (nor a temporary file) in the full folder.
    assert not [p.name for p in (tiny_tmpfs / "out").iterdir()] if (tiny_tmpfs / "out").exists() else True


def test_atomic_write_leaves_the_old_file_or_the_new_one(tiny_tmpfs):
    path = tiny_tmpfs / "result.json"
    atomic.write_text(path, "old\n")
    with pytest.raises(OSError):
        atomic.write_text(path, "x" * 200_000)  # more than the tmpfs holds
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["result.json"]
    with pytest.raises(FileExistsError):
        atomic.write_text(path, "new\n", exclusive=True)
    assert path.read_text() == "old\n"


def test_long_and_undecodable_scenario_names_make_short_distinct_file_names():
    long_a = "edit:" + "a" * 300 + "/x.py"
    long_b = "edit:" + "a" * 300 + "/y.py"
    undecodable = "edit:caf\udce9/*.py"  # a name Python read from bytes that are not UTF-8
    names = [slug(n) for n in (long_a, long_b, undecodable)]
    assert all(len(n.encode()) <= 80 for n in names)
    assert len(set(names)) == 3
    assert all(n.isascii() for n in names)


def test_an_undecodable_file_name_round_trips_into_every_output(tmp_path):
    """A context file whose name is not UTF-8 (Python sees a lone surrogate): JSON keeps it exact, CSV keeps
    its bytes, HTML/Markdown/charts show it escaped, chart file names stay ASCII."""
    import shutil

    from tests.conftest import FIXTURES

    rec = DATA / "streams" / "buildkit-python-app"
    ctx = tmp_path / "ctx"
    shutil.copytree(FIXTURES / "python-app", ctx)
    name = b"caf\xe9.py"
    (ctx / "app" / os.fsdecode(name)).write_bytes(b"print(1)\n")
    out = tmp_path / "out"
    r = subprocess.run([os.fsencode(sys.executable), b"-m", b"cacheprof.cli", b"profile", os.fsencode(ctx),
                        b"-f", os.fsencode(rec / "Dockerfile"), b"--replay", os.fsencode(rec), b"--builder",
                        b"buildkit", b"--out", os.fsencode(out), b"-q", b"-s", b"cold", b"-s", b"warm",
                        b"-s", b"edit:app/" + name], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in r.stderr
    doc = json.loads((out / "profile.json").read_text())
    assert doc["scenarios"][-1] == "edit:app/" + os.fsdecode(name)
    assert b"caf\xe9.py" in (out / "steps.csv").read_bytes()
    assert "caf\\xe9.py" in (out / "report.html").read_text(encoding="utf-8")
    assert all(p.name.isascii() for p in (out / "charts").iterdir())


@pytest.fixture
def read_only_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    d = tmp_path / "ro"
    d.mkdir()
    subprocess.run(["mount", "--bind", str(d), str(d)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(d)], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=True)


def test_a_read_only_record_folder_fails_before_any_build(read_only_dir, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    live = json.loads((RECORDING / "live-profile.json").read_text())
    r = subprocess.run(
        [sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "-f", str(RECORDING / "Dockerfile"),
         "--replay", str(RECORDING), "--builder", live["builder"], "--out", str(tmp_path / "out"), "-q",
         "--record", str(read_only_dir / "rec"), "-s", "cold"],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    line = one_line(r)
    assert str(read_only_dir / "rec") in line and "Read-only file system" in line


def test_a_full_record_folder_stops_recording_not_measuring(tiny_tmpfs, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    live = json.loads((RECORDING / "live-profile.json").read_text())
    scenarios = [a for b in live["builds"] for a in ("-s", b["scenario"])]
    with open(tiny_tmpfs / "filler", "wb", buffering=0) as fh:  # leave a few KB: the recording starts, then fills
        try:
            while os.statvfs(tiny_tmpfs).f_bavail * os.statvfs(tiny_tmpfs).f_frsize > 8192:
                fh.write(b"x" * 4096)
        except OSError:
            pass
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "-f", str(RECORDING / "Dockerfile"),
         "--replay", str(RECORDING), "--builder", live["builder"], "--out", str(out), "-q",
         "--record", str(tiny_tmpfs / "rec"), *scenarios],
        capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert r.returncode in (0, 1), r.stderr  # the recording's builds include a failing one (exit 1)
    assert "recording" in r.stderr and "No space left on device" in r.stderr
    assert len(json.loads((out / "profile.json").read_text())["builds"]) == len(live["builds"])


def test_report_never_overwrites_another_runs_folder(tmp_path):
    from tests.test_replay_cli import STREAMS

    src = tmp_path / "a" / "profile.json"
    src.parent.mkdir()
    src.write_text((STREAMS[0] / "live-profile.json").read_text())
    other = tmp_path / "b"
    other.mkdir()
    theirs = (STREAMS[1] / "live-profile.json").read_text()
    (other / "profile.json").write_text(theirs)
    r = subprocess.run([sys.executable, "-m", "cacheprof.cli", "report", str(src), "--out", str(other)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "never overwritten" in one_line(r)
    assert (other / "profile.json").read_text() == theirs
    # In place (the folder holding the profile it reads) still renders.
    r = subprocess.run([sys.executable, "-m", "cacheprof.cli", "report", str(src)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
