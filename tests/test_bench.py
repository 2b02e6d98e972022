"""`cacheprof bench` suites without Docker: strict reading of [[benchmark]] and [[engine]] tables, and
which engine runs which benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacheprof.capture.bench_run import EngineSpec, assign
from cacheprof.errors import UsageError
from cacheprof.store.bench_results import load_suite, new_run_id, read_suite

# --- suites ------------------------------------------------------------------------------------


def suite(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_suite_defaults_and_relative_paths(tmp_path):
    path = suite(tmp_path, '[[benchmark]]\nname = "a"\ncontext = "ctx"\n\n'
                           '[[benchmark]]\nname = "b"\ncontext = "ctx"\ndockerfile = "ctx/D"\n'
                           'scenarios = ["cold"]\nrepeat = 1\nbuilder = "classic"\n')
    a, b = load_suite(path)
    assert (a.context, a.dockerfile, a.scenarios, a.repeat, str(a.builder)) == (tmp_path / "ctx", None, (), 3,
                                                                                 "buildkit")
    assert (b.dockerfile, b.scenarios, b.repeat, str(b.builder)) == (tmp_path / "ctx" / "D", ("cold",), 1, "classic")


def test_bundled_nightly_suite_parses():
    benchmarks = load_suite(Path(__file__).resolve().parent.parent / "benchmarks" / "nightly.toml")
    assert len(benchmarks) == 3 and all(b.context.is_dir() for b in benchmarks)


@pytest.mark.parametrize(("text", "says"), [
    (None, "suite file not found"),
    ('[[benchmark]\nname = "a"', "not valid TOML"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nrepeats = 2\n', "unknown key 'repeats'"),
    ('[[benchmark]]\ncontext = "."\n', "'name' is missing"),
    ('[[benchmark]]\nname = "a"\n', "'context' is missing"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nrepeat = 0\n', "'repeat'"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nbuilder = "kaniko"\n', "'builder'"),
    ('[[benchmark]]\nname = "a/b"\ncontext = "."\n', "name may hold only"),
    ('title = "x"\n', "unknown top-level key"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nengine = "big"\n', "'engine' 'big' is not an"),
    ('[[engine]]\nname = "e"\nurl = "docker.sock"\n[[benchmark]]\nname = "a"\ncontext = "."\n', "DOCKER_HOST-style"),
    ('[[engine]]\nname = "e"\n[[benchmark]]\nname = "a"\ncontext = "."\n', "'url' is missing"),
    ('[[engine]]\nname = "e"\nurl = "unix:///a"\nport = 1\n[[benchmark]]\nname = "a"\ncontext = "."\n',
     "unknown key 'port'"),
    ('[[engine]]\nname = "e"\nurl = "unix:///a"\n[[engine]]\nname = "e"\nurl = "unix:///b"\n'
     '[[benchmark]]\nname = "a"\ncontext = "."\n', "used twice"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nbuild_args = {V = 1}\n', "'build_args'"),
    ('[[engine]]\nname = "e"\nurl = "tcp://10.1.2.3:2376"\ntls_cert_path = "certs"\n'
     '[[benchmark]]\nname = "a"\ncontext = "."\n', "missing ca.pem"),
    ('[[benchmark]]\nname = "a"\ncontext = "."\nvolatile_args = ["1X"]\n', "'volatile_args'"),
])
def test_bad_suite_is_one_clear_line(tmp_path, text, says):
    path = tmp_path / "missing.toml" if text is None else suite(tmp_path, text)
    with pytest.raises(UsageError, match=says) as e:
        load_suite(path)
    assert "\n" not in str(e.value) and e.value.exit_code == 2


def test_engines_build_args_and_volatile_args(tmp_path):
    path = suite(tmp_path, '[[engine]]\nname = "left"\nurl = "unix:///run/a.sock"\n'
                           '[[engine]]\nname = "right"\nurl = "tcp://127.0.0.1:2376"\n'
                           '[[benchmark]]\nname = "a"\ncontext = "."\nengine = "right"\n'
                           'build_args = {VERSION = "1.2"}\nvolatile_args = ["BUILD_DATE"]\n'
                           '[[benchmark]]\nname = "b"\ncontext = "."\n[[benchmark]]\nname = "c"\ncontext = "."\n')
    s = read_suite(path)
    assert [(e.name, e.url) for e in s.engines] == [("left", "unix:///run/a.sock"), ("right", "tcp://127.0.0.1:2376")]
    a = s.benchmarks[0]
    assert (a.engine, a.build_args, a.volatile_args) == ("right", (("VERSION", "1.2"),), ("BUILD_DATE",))


def test_assignment_is_stable_and_honours_the_suite():
    engines = [EngineSpec("left", "unix:///a"), EngineSpec("right", "unix:///b")]
    got = assign(["a", "b", "c", "d"], {"a": "right"}, engines)
    # a where the suite says; the others round-robin in suite order, the same every night
    assert {n: e.name for n, e in got.items()} == {"a": "right", "b": "left", "c": "right", "d": "left"}
    assert assign(["a", "b", "c", "d"], {"a": "right"}, engines) == got
    with pytest.raises(UsageError, match="asks for engine 'gone'"):
        assign(["a"], {"a": "gone"}, engines)


def test_run_ids_sort_by_time_and_differ():
    (c1, u1), (c2, u2) = new_run_id(), new_run_id()
    assert u1 != u2 and u1[:16] <= u2[:16] and c1 <= c2 and c1.endswith("+00:00")


def test_suite_commit_and_dirty_flag(tmp_path):
    import subprocess

    from cacheprof.store.bench_results import git_commit, git_dirty

    assert git_commit(tmp_path) is None and git_dirty(tmp_path) is None  # not a repository
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}

    def git(*args: str) -> str:
        import os

        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True,
                              env={**os.environ, **env}).stdout.strip()

    git("init", "-q")
    (tmp_path / "suite.toml").write_text("a\n")
    git("add", "suite.toml")
    git("commit", "-q", "-m", "suite")
    assert git_commit(tmp_path) == git("rev-parse", "HEAD") and git_dirty(tmp_path) is False
    (tmp_path / ".gitignore").write_text("reports/\n")
    git("add", ".gitignore")
    git("commit", "-q", "-m", "ignore")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "history.sqlite").write_text("x\n")
    assert git_dirty(tmp_path) is False  # ignored files (the history itself) do not count
    (tmp_path / "new.py").write_text("x\n")
    assert git_dirty(tmp_path) is True  # a new file does: `COPY . .` sends it
    (tmp_path / "new.py").unlink()
    (tmp_path / "suite.toml").write_text("b\n")
    assert git_dirty(tmp_path) is True
