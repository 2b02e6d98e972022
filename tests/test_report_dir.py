"""The report folder never lands in the user's build context unless asked, and is new for every run."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cacheprof.cli import main
from cacheprof.errors import UsageError
from cacheprof.render.report_dir import claim_new_dir, folder_name, prepare_report_dir
from tests.conftest import DATA, FIXTURES

RECORDING = DATA / "streams" / "buildkit-python-app"


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_default_is_reports_in_cwd_when_cwd_is_outside_the_context(tmp_path: Path):
    ctx, cwd = tmp_path / "ctx", tmp_path / "work"
    ctx.mkdir()
    cwd.mkdir()
    got = prepare_report_dir(None, ctx, "ctx", cwd=cwd, env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert got.path.parent == cwd / "reports" and got.path.is_dir() and not got.warnings


@pytest.mark.parametrize("where", ["context", "subfolder"])
def test_default_goes_to_the_user_cache_when_cwd_is_in_the_context(tmp_path: Path, where: str):
    ctx = tmp_path / "ctx"
    cwd = ctx if where == "context" else ctx / "src"
    cwd.mkdir(parents=True)
    got = prepare_report_dir(None, ctx, "ctx", cwd=cwd, env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert got.path.parent == tmp_path / "cache" / "cacheprof" / "reports"
    assert list(ctx.rglob("*")) == ([] if where == "context" else [cwd])


def test_without_xdg_the_cache_is_under_home(tmp_path: Path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    got = prepare_report_dir(None, ctx, "ctx", cwd=ctx, env={"HOME": str(tmp_path / "home")})
    assert got.path.parent == tmp_path / "home" / ".cache" / "cacheprof" / "reports"


def test_two_runs_in_the_same_second_get_two_folders(tmp_path: Path):
    name = folder_name("my app", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert name == "20260102T030405Z-my-app"
    a, b = claim_new_dir(tmp_path, name), claim_new_dir(tmp_path, name)
    assert a != b and a.is_dir() and b.is_dir()


def test_explicit_out_refuses_a_non_empty_folder_unless_forced(tmp_path: Path):
    ctx, out = tmp_path / "ctx", tmp_path / "out"
    ctx.mkdir()
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(UsageError, match=r"not empty.*--force"):
        prepare_report_dir(out, ctx, "ctx")
    assert prepare_report_dir(out, ctx, "ctx", force=True).path == out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_report_dir(empty, ctx, "ctx").path == empty


def test_explicit_out_inside_the_context_warns(tmp_path: Path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    got = prepare_report_dir(ctx / "reports" / "r1", ctx, "ctx")
    assert len(got.warnings) == 1 and "inside the build context" in got.warnings[0]
    assert not prepare_report_dir(tmp_path / "elsewhere", ctx, "ctx").warnings


def _replay_profile(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["profile", ".", "--replay", str(RECORDING), "-q", "-s", "cold", "-s", "warm",
                                  "-s", "edit:app/main.py", *args], env=env)
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_profile_run_inside_its_own_context_writes_nothing_into_it(tmp_path: Path, monkeypatch, fmt: str):
    ctx = tmp_path / "myproject"
    shutil.copytree(FIXTURES / "python-app", ctx)
    shutil.copy(RECORDING / "Dockerfile", ctx / "Dockerfile")
    before = tree(ctx)
    monkeypatch.chdir(ctx)
    cache = tmp_path / "cache"
    code, out, err = _replay_profile(["--format", fmt], {"XDG_CACHE_HOME": str(cache)})
    assert code == 0, err
    assert tree(ctx) == before
    page = next((cache / "cacheprof" / "reports").glob("*-myproject/report.html"))
    # Where the report went is on stderr, also when stdout is a JSON document.
    assert f"report: {page.resolve()}" in err.splitlines()
    if fmt == "json":
        assert json.loads(out)["builds"]
        assert "report:" not in out


def test_profile_out_on_a_non_empty_folder_exits_2_before_building(tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    monkeypatch.chdir(FIXTURES / "python-app")
    shutil.copy(RECORDING / "Dockerfile", tmp_path / "Dockerfile")
    code, _, err = _replay_profile(["-f", str(tmp_path / "Dockerfile"), "--out", str(out)], dict(os.environ))
    assert code == 2 and "--force" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_closed_stdout_pipe_exits_quietly_with_the_report_written(tmp_path: Path):
    """`cacheprof profile ... | head -2`: the reader is gone before the table is written."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    ctx = tmp_path / "ctx"
    shutil.copytree(FIXTURES / "python-app", ctx)
    shutil.copy(RECORDING / "Dockerfile", ctx / "Dockerfile")
    out = tmp_path / "out"
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "cacheprof.cli", "profile", str(ctx), "--replay", str(RECORDING),
                               "-q", "-s", "cold", "-s", "warm", "--out", str(out)], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert (out / "profile.json").is_file() and (out / "report.html").is_file()
    assert f"report: {(out / 'report.html').resolve()}" in proc.stderr


def test_open_launches_the_report_page(tmp_path: Path, monkeypatch):
    import click

    opened: list[str] = []
    monkeypatch.setattr(click, "launch", lambda url, **kw: opened.append(url) or 0)
    ctx = tmp_path / "ctx"
    shutil.copytree(FIXTURES / "python-app", ctx)
    shutil.copy(RECORDING / "Dockerfile", ctx / "Dockerfile")
    r = CliRunner().invoke(main, ["profile", str(ctx), "--replay", str(RECORDING), "-q", "-s", "cold", "-s", "warm",
                                  "--out", str(tmp_path / "out"), "--open"])
    assert r.exit_code == 0, r.output
    assert opened == [str((tmp_path / "out" / "report.html").resolve())]
