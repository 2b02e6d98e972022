"""What changed in the build context according to git: one diff (`--git-diff`), or each of the last N
commits (`--git-history`). Paths come back relative to the context; changes outside it are dropped,
since a build never sees them. Reads the repository with the `git` program; never writes to it."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    changed: tuple[str, ...]  # context-relative paths this commit changed (vs its first parent)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("git")
    if exe is None:
        raise UsageError("git is not installed; --git-diff and --git-history need it")
    return subprocess.run([exe, "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})


def repo_root(context: Path) -> Path:
    r = _git(context, "rev-parse", "--show-toplevel")
    if r.returncode != 0:
        raise UsageError(f"{context} is not in a git repository; --git-diff and --git-history read its "
                         "commits (use --changed PATH instead)")
    return Path(r.stdout.strip())


def _prefix(context: Path, root: Path) -> str:
    rel = os.path.relpath(os.path.realpath(context), os.path.realpath(root)).replace(os.sep, "/")
    return "" if rel == "." else rel + "/"


def _in_context(paths: list[str], prefix: str) -> tuple[str, ...]:
    return tuple(sorted(p[len(prefix):] for p in paths if p and p.startswith(prefix)))


def _verify(root: Path, rev: str) -> str:
    if rev.startswith("-"):
        raise UsageError(f"--git-diff {rev}: not a revision; give a commit, branch or tag, e.g. HEAD~1")
    r = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if r.returncode != 0:
        raise UsageError(f"unknown revision {rev!r} in {root}; give a commit, branch or tag, e.g. HEAD~1")
    return r.stdout.strip()


def _names(root: Path, *args: str) -> list[str]:
    r = _git(root, "-c", "core.quotepath=off", "diff", "--no-renames", "--name-only", "-z", *args)
    if r.returncode != 0:
        raise UsageError(f"git diff failed in {root}: {r.stderr.strip().splitlines()[-1] if r.stderr else ''}")
    return [p for p in r.stdout.split("\0") if p]


def diff_paths(context: Path, spec: str) -> tuple[str, ...]:
    """`REV` (REV against the working tree, untracked files left out) or `A..B`: changed context paths."""
    root = repo_root(context)
    if ".." in spec:
        a, _, b = spec.partition("..")
        names = _names(root, _verify(root, a or "HEAD"), _verify(root, b or "HEAD"), "--")
    else:
        names = _names(root, _verify(root, spec), "--")
    return _in_context(names, _prefix(context, root))


def history(context: Path, n: int) -> list[Commit]:
    """The last `n` commits of HEAD (newest first), each with the context paths it changed."""
    root = repo_root(context)
    r = _git(root, "rev-list", "--first-parent", f"--max-count={n + 1}", "HEAD")
    if r.returncode != 0:
        raise UsageError(f"{root} has no commits yet; --git-history needs at least {n + 1}")
    shas = r.stdout.split()
    if len(shas) < n + 1:
        shallow = _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
        why = " (a shallow clone: fetch more history with git fetch --deepen)" if shallow else ""
        raise UsageError(f"--git-history {n}: the repository has {len(shas)} commit(s){why}; each of {n} "
                         f"commits needs its parent, so pass at most {max(len(shas) - 1, 0)}")
    prefix = _prefix(context, root)
    out = []
    for sha, parent in itertools.pairwise(shas[: n + 1]):
        subject = _git(root, "log", "-1", "--format=%s", sha).stdout.strip()
        out.append(Commit(sha, subject, _in_context(_names(root, parent, sha, "--"), prefix)))
    return out


def file_at(context: Path, rev: str, rel: str) -> str | None:
    """A context file's text at a revision (None when it did not exist there)."""
    root = repo_root(context)
    r = _git(root, "show", f"{rev}:{_prefix(context, root)}{rel}")
    return r.stdout if r.returncode == 0 else None
