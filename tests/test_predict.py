"""Prediction without building (pure) and the bad input of `advise --changed / --git-diff / --git-history`.
The expectations are Docker's cache rules, written down before the predictor ran on these files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cacheprof.advise.predict import context_files, predict
from cacheprof.dockerfile import parse_text
from cacheprof.model import Builder

DF = """\
FROM busybox:1.36 AS deps
WORKDIR /app
COPY requirements.txt .
RUN install-deps
FROM busybox:1.36 AS docs
COPY docs/ /docs
RUN build-docs
FROM busybox:1.36
ARG GIT_SHA=a1b2
ENV APP=1
COPY --from=deps /app /app
COPY app/ /srv/app/
RUN --mount=type=bind,source=tools,target=/tools run-tools
RUN echo done
LABEL sha=$GIT_SHA
"""


def _ctx(tmp_path: Path) -> Path:
    files = {"Dockerfile": DF, "requirements.txt": "a\n", "app/main.py": "x\n", "app/util.py": "y\n",
             "docs/index.md": "d\n", "tools/t.sh": "t\n", "notes.log": "n\n", ".dockerignore": "*.log\n"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def _run(tmp_path: Path, builder: Builder, changed=(), new_args=None):
    ctx = _ctx(tmp_path)
    model = parse_text(DF, str(ctx / "Dockerfile"))
    return predict(model, context_files(ctx, ctx / "Dockerfile", builder), changed, new_args=new_args)


def _rerun(p) -> list[tuple[str, int]]:
    return sorted(p.rebuild_keys)


@pytest.mark.parametrize("builder", list(Builder))
def test_source_edit_reruns_its_copy_and_what_follows(tmp_path, builder):
    p = _run(tmp_path, builder, ["app/main.py"])
    expected = [("2", 5), ("2", 6), ("2", 7)] + ([("2", 8)] if builder is Builder.CLASSIC else [])
    assert _rerun(p) == expected
    first = next(s for s in p.steps if s.rebuild)
    assert first.why == "`COPY app/ /srv/app/` (line 12): 1 file changed: `app/main.py`"
    assert next(s for s in p.steps if s.key == ("2", 6)).why.startswith("parent step re-ran: `COPY app/")


@pytest.mark.parametrize("builder", list(Builder))
def test_ignored_file_changes_nothing(tmp_path, builder):
    p = _run(tmp_path, builder, ["notes.log"])
    assert _rerun(p) == [] and p.ignored == ("notes.log",) and p.changed == ()


@pytest.mark.parametrize("builder", list(Builder))
def test_arg_change_reruns_first_run_after_it(tmp_path, builder):
    p = _run(tmp_path, builder, new_args={"GIT_SHA": "c3d4"})
    if builder is Builder.BUILDKIT:
        assert _rerun(p) == [("2", 6), ("2", 7)]  # RUNs see declared args; COPY does not
        assert next(s for s in p.steps if s.key == ("2", 6)).why == "ARG `GIT_SHA` changed: `a1b2` → `c3d4`"
    else:  # every instruction is a step; the first RUN after the ARG is where the key changes
        assert _rerun(p) == [("2", 6), ("2", 7), ("2", 8)]


def test_buildkit_skips_unneeded_stage_classic_builds_it(tmp_path):
    bk = _run(tmp_path / "a", Builder.BUILDKIT, ["docs/index.md"])
    assert "docs" in bk.skipped_stages and _rerun(bk) == []
    classic = _run(tmp_path / "b", Builder.CLASSIC, ["docs/index.md"])
    assert classic.skipped_stages == () and _rerun(classic) == [("docs", 2), ("docs", 3)]


def test_copy_from_stage_follows_that_stage(tmp_path):
    p = _run(tmp_path, Builder.BUILDKIT, ["requirements.txt"])
    assert ("deps", 3) in p.rebuild_keys and ("deps", 4) in p.rebuild_keys
    copy_from = next(s for s in p.steps if s.key == ("2", 4))
    assert copy_from.rebuild and not copy_from.certain and "stage `deps`" in copy_from.why


def test_bind_mount_source_keys_the_run(tmp_path):
    p = _run(tmp_path, Builder.BUILDKIT, ["tools/t.sh"])
    assert _rerun(p) == [("2", 6), ("2", 7)]
    assert "bind mount of `tools`" in next(s for s in p.steps if s.key == ("2", 6)).why


def test_pricing_sums_measured_seconds(tmp_path):
    ctx = _ctx(tmp_path)
    model = parse_text(DF, str(ctx / "Dockerfile"))
    costs = {("2", 5): 0.5, ("2", 6): 3.0, ("2", 7): 1.25}
    p = predict(model, context_files(ctx, ctx / "Dockerfile", Builder.BUILDKIT), ["app/util.py"], costs=costs)
    assert p.expected_s == pytest.approx(4.75)


# --- bad input: one line, exit 2, no traceback ------------------------------------------------------


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cacheprof.cli", "advise", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def _one_line(r: subprocess.CompletedProcess[str], needle: str) -> None:
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr, r.stderr


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _repo(tmp_path: Path, commits: int) -> Path:
    repo = _ctx(tmp_path / "repo")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "c0")
    for k in range(1, commits):
        (repo / "app" / "main.py").write_text(f"v{k}\n")
        _git(repo, "commit", "-qam", f"c{k}")
    return repo


def test_not_a_git_repository(tmp_path):
    ctx = _ctx(tmp_path / "plain")
    _one_line(_cli(str(ctx), "--git-diff", "HEAD~1"), "is not in a git repository")
    _one_line(_cli(str(ctx), "--git-history", "3"), "is not in a git repository")


def test_unknown_revision(tmp_path):
    repo = _repo(tmp_path, 2)
    _one_line(_cli(str(repo), "--git-diff", "nosuch"), "unknown revision 'nosuch'")
    _one_line(_cli(str(repo), "--git-diff", "HEAD~1..nosuch"), "unknown revision 'nosuch'")


def test_path_outside_the_context(tmp_path):
    repo = _repo(tmp_path, 1)
    _one_line(_cli(str(repo), "--changed", "../elsewhere.txt"), "outside the build context")
    _one_line(_cli(str(repo), "--changed", str(tmp_path)), "outside the build context")


def test_shallow_clone_with_fewer_commits(tmp_path):
    repo = _repo(tmp_path, 6)
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "3", f"file://{repo}", str(clone)], check=True,
                   capture_output=True)
    r = _cli(str(clone), "--git-history", "5")
    _one_line(r, "the repository has 3 commit(s) (a shallow clone")


def test_git_diff_predicts_from_git(tmp_path):
    repo = _repo(tmp_path, 2)
    r = _cli(str(repo), "--git-diff", "HEAD~1..HEAD", "--format", "json")
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads(r.stdout)["prediction"]
    assert doc["changed"] == ["app/main.py"]
    assert [s["line"] for s in doc["steps"] if s["rebuild"]] == [12, 13, 14]


def test_the_other_builder_is_named_where_it_differs(tmp_path):
    r = _cli(str(_ctx(tmp_path / "c")), "--changed", "docs/index.md", "--format", "json")
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads(r.stdout)["prediction"]
    assert doc["skipped_stages"] == ["docs"] and not any(s["rebuild"] for s in doc["steps"])
    assert doc["other_builder"] == {"builder": "classic", "differs": [
        "classic also re-runs line 6 (a stage BuildKit skips for this target)",
        "classic also re-runs line 7 (a stage BuildKit skips for this target)"]}


def test_classic_shared_stage_prefix_is_noted(tmp_path):
    ctx = _ctx(tmp_path)
    text = ("FROM busybox:1.36 AS deps\nWORKDIR /app\nCOPY requirements.txt .\n"
            "FROM busybox:1.36\nWORKDIR /app\nCOPY app/ .\n")
    model = parse_text(text, str(ctx / "Dockerfile"))
    classic = predict(model, context_files(ctx, ctx / "Dockerfile", Builder.CLASSIC), [])
    assert classic.notes == ("stage `deps` starts like a later stage (1 step(s) after FROM): after a --no-cache "
                             "build the classic builder re-runs it from line 3 once",)
    assert predict(model, context_files(ctx, ctx / "Dockerfile", Builder.BUILDKIT), []).notes == ()


def test_a_changed_directory_stands_for_its_files(tmp_path):
    p = _run(tmp_path, Builder.BUILDKIT, ["app"])
    assert p.changed == ("app/main.py", "app/util.py") and ("2", 5) in p.rebuild_keys


def test_git_history_prices_the_proposed_fix(tmp_path):
    """Corpus 01 (COPY . . before pip install) over 4 commits: 3 source edits and one requirements edit, priced
    by a profile where the install costs 30 s and each COPY 0.2 s."""
    import json
    import shutil

    from cacheprof.dockerfile import load
    from cacheprof.model import Build, Profile, Step, StepStatus
    from cacheprof.store.profile_json import dumps

    case = Path(__file__).resolve().parent.parent / "fixtures" / "advise-corpus" / "01-pip-copy-all"
    repo = tmp_path / "repo"
    shutil.copytree(case / "context", repo)
    shutil.copy(case / "Dockerfile", repo / "Dockerfile")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    src = sorted((repo / "app").glob("*.py"))[0]
    for k in range(3):
        src.write_text(src.read_text() + f"# {k}\n")
        _git(repo, "commit", "-qam", f"app {k}")
    (repo / "requirements.txt").write_text((repo / "requirements.txt").read_text() + "x\n")
    _git(repo, "commit", "-qam", "req")
    model = load(repo / "Dockerfile")
    cost = {"COPY": 0.2, "RUN": 30.0}
    steps = tuple(Step(n, i.stage, i.position, i.line, i.original, StepStatus.RUN, duration_s=cost.get(i.cmd, 0.0))
                  for n, i in enumerate(model.instructions, 1))
    prof = tmp_path / "p.json"
    prof.write_text(dumps(Profile(builder="buildkit", dockerfile="Dockerfile", context=str(repo),
                                  builds=(Build("cold", 1, True, None, 31.0, "x", steps),))))
    r = _cli(str(repo), "--git-history", "4", "--profile", str(prof), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [c["expected_s"] for c in doc["history"]["commits"]] == [30.2] * 4
    assert [c["expected_s"] for c in doc["history_proposed"]["commits"]] == [30.2, 0.2, 0.2, 0.2]  # newest first
    assert doc["history"]["costliest"][0]["instruction"].startswith("RUN pip install")
