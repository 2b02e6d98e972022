"""The context cacheprof sends against the one the docker CLI sends (issue 8, item 9): the same context with a
non-trivial .dockerignore, built by `docker build` (COPY . /ctx, RUN find /ctx) and listed from cacheprof's
own tar. Differential: neither side's answer is written by hand, so a rule both get wrong would pass; the
unit tests in test_dockerignore.py hold the hand-written cases."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

from cacheprof.context.tar import make_tar

pytestmark = pytest.mark.docker

DOCKERIGNORE = """\
# neither .dockerignore nor Dockerfile is excluded: both must reach the build
**/*.pyc
!src/keep.pyc
docs
!docs/keep
build/
!build/important.txt
.git
node_modules
**/*.log
*.txt
!notes.txt
deep/**/skip*
"""

FILES = [
    "src/a.py", "src/b.pyc", "src/sub/c.pyc", "src/keep.pyc", "src/sub/d.py", "docs/x.md", "docs/keep/y.md",
    "build/out.o", "build/important.txt", ".git/HEAD", "node_modules/p/index.js", "README.md", "notes.txt",
    "other.txt", "deep/a/b/c/d.log", "deep/a/b/skip_me.py", "deep/a/keep.py", ".env", "sub.txt/inner.py",
]


@pytest.fixture
def context(tmp_path):
    ctx = tmp_path / "ctx"
    for rel in FILES:
        p = ctx / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"{rel} {uuid.uuid4().hex}\n")
    os.symlink("src/a.py", ctx / "link")
    (ctx / ".dockerignore").write_text(DOCKERIGNORE)
    (ctx / "Dockerfile").write_text(
        "FROM busybox:1.36\nCOPY . /ctx\nRUN cd /ctx && find . \\( -type f -o -type l \\) | sort > /list.txt\n")
    return ctx


def _docker_cli_files(ctx, docker_engine) -> set[str]:
    if shutil.which("docker") is None:
        pytest.fail("the docker CLI is needed for the differential test")
    tag = f"cacheprof-ctxdiff:{uuid.uuid4().hex[:12]}"
    # The classic path: the CLI itself applies .dockerignore and sends the tar (no buildx here).
    r = subprocess.run(["docker", "build", "--no-cache", "-q", "-t", tag, str(ctx)], capture_output=True, text=True,
                       env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=300)
    assert r.returncode == 0, r.stderr
    try:
        out = docker_engine.containers.run(tag, ["cat", "/list.txt"], remove=True).decode()
    finally:
        docker_engine.images.remove(tag, force=True)
    return {line[2:] for line in out.splitlines() if line.startswith("./")}


def test_cacheprof_sends_the_files_the_docker_cli_sends(context, docker_engine):
    docker_side = _docker_cli_files(context, docker_engine)
    data, name = make_tar(context, context / "Dockerfile")
    assert name == "Dockerfile"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        ours = {m.name for m in tar.getmembers() if m.isreg() or m.issym() or m.islnk()}
    assert ours == docker_side, (sorted(ours - docker_side), sorted(docker_side - ours))
    # and the case is not trivial: exceptions re-include, ** excludes deep files, build files stay
    for rel in ("src/keep.pyc", "docs/keep/y.md", "build/important.txt", "notes.txt", ".dockerignore",
                "Dockerfile", "link", "deep/a/keep.py"):
        assert rel in docker_side, rel
    for rel in ("src/b.pyc", "src/sub/c.pyc", "docs/x.md", "build/out.o", ".git/HEAD", "deep/a/b/c/d.log",
                "deep/a/b/skip_me.py", "other.txt", "node_modules/p/index.js", "sub.txt/inner.py"):
        assert rel not in docker_side, rel
