"""`bench --history` that cannot be opened or written is refused in one line BEFORE the first build (issue 16,
"Writes that are atomic and checked first"); no Docker: the builds are replaced by a function that fails the
test if it is ever reached. Read-only cases use a read-only bind mount made by the test (root)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cacheprof.capture import bench_run
from cacheprof.cli import main
from cacheprof.store.history_db import open_history


class BuildsStarted(Exception):
    pass


@pytest.fixture
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def no_builds(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise BuildsStarted

    monkeypatch.setattr(bench_run, "run_suite", no_builds)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:1.36\nRUN true\n")
    path = tmp_path / "suite.toml"
    path.write_text('[[benchmark]]\nname = "a"\ncontext = "ctx"\nscenarios = ["cold"]\nrepeat = 1\n')
    return path


def bench(suite: Path, history: Path | str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["bench", str(suite), "--history", str(history), "-q"])


def refused(r, says: str) -> None:  # type: ignore[no-untyped-def]
    assert "BuildsStarted" not in r.output, "the builds ran before the history was checked"
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cacheprof: error") and says in lines[0], r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture
def read_only_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    d = tmp_path / "ro"
    d.mkdir()
    open_history(d / "history.sqlite").close()  # an existing, valid history, before the folder turns read-only
    subprocess.run(["mount", "--bind", str(d), str(d)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(d)], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=True)


def test_a_history_on_a_read_only_file_system_is_refused_before_any_build(suite: Path, read_only_dir: Path) -> None:
    refused(bench(suite, read_only_dir / "history.sqlite"), "cannot write it (Read-only file system)")
    refused(bench(suite, read_only_dir / "new" / "history.sqlite"), "cannot write in")


def test_an_unopenable_history_is_refused_before_any_build(suite: Path, tmp_path: Path) -> None:
    (tmp_path / "folder.sqlite").mkdir()
    refused(bench(suite, tmp_path / "folder.sqlite"), "is a folder")
    (tmp_path / "file").write_text("x")
    refused(bench(suite, tmp_path / "file" / "history.sqlite"), "is not a folder")


def test_a_corrupt_history_is_not_refused_before_the_builds(suite: Path, tmp_path: Path) -> None:
    # Issue 10: the run goes on and is kept in a new file beside a corrupt history (test_bench_docker).
    (tmp_path / "corrupt.sqlite").write_bytes(b"not a database at all, really not\n")
    r = bench(suite, tmp_path / "corrupt.sqlite")
    assert "BuildsStarted" in r.output, r.output
    assert (tmp_path / "corrupt.sqlite").read_bytes() == b"not a database at all, really not\n"


def test_a_writable_history_is_checked_without_writing_anything(suite: Path, tmp_path: Path) -> None:
    before = set(tmp_path.rglob("*"))
    r = bench(suite, tmp_path / "reports" / "history.sqlite")
    assert "BuildsStarted" in r.output, r.output  # went on to the builds (the CLI calls it an internal error)
    assert set(tmp_path.rglob("*")) == before  # no history, folder or probe file was left
