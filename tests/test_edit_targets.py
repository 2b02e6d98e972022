"""Default edit targets a developer would make (issue 8, item 8). Each case states its expected file first."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacheprof.context.edits import default_edit_globs, default_edits, is_build_file
from cacheprof.dockerfile import parse_text


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.mark.parametrize(("rel", "expected"), [
    ("Dockerfile", True), ("after.Dockerfile", True), ("Dockerfile.naive", True), ("docker/Dockerfile-dev", True),
    ("Containerfile", True), ("app.dockerfile", True), (".dockerignore", True), ("Dockerfile.dockerignore", True),
    ("src/dockerfile_parser.py", False), ("dockerfiles.txt", False), ("app/main.py", False),
])
def test_build_files_by_name(rel, expected):
    assert is_build_file(rel) is expected


def test_copy_all_never_picks_a_dockerfile_in_the_context(tmp_path):
    # What compare saw: two Dockerfiles in the context and `COPY . .`; it picked after.Dockerfile.
    text = "FROM busybox:1.36\nWORKDIR /app\nCOPY . .\nRUN python -m compileall src\n"
    ctx = make(tmp_path, {"Dockerfile": text, "after.Dockerfile": text, "Dockerfile.naive": text,
                          ".dockerignore": "*.log\n", "README.md": "r\n", "src/app.py": "print(1)\n"})
    (edit,) = default_edits(ctx, parse_text(text, str(ctx / "Dockerfile")))
    assert edit.glob == "src/app.py"
    # the reason names the COPY and the step that reads the file's folder... or says it is source code
    assert "COPY . ." in edit.reason and "line 3" in edit.reason
    assert ".py source file" in edit.reason or "compileall" in edit.reason


def test_a_file_a_later_step_reads_comes_first(tmp_path):
    text = "FROM busybox:1.36\nCOPY . /w/\nWORKDIR /w\nRUN sh build.sh\nCMD [\"sh\", \"run.sh\"]\n"
    ctx = make(tmp_path, {"Dockerfile": text, "a.py": "1\n", "build.sh": "echo\n", "run.sh": "echo\n",
                          "notes.md": "n\n"})
    (edit,) = default_edits(ctx, parse_text(text, str(ctx / "Dockerfile")))
    assert edit.glob == "build.sh"
    assert "`RUN sh build.sh` (line 4) reads it" in edit.reason


def test_source_code_before_documentation_and_ignored_files_never(tmp_path):
    text = "FROM busybox:1.36\nCOPY . /app/\n"
    ctx = make(tmp_path, {"Dockerfile": text, ".dockerignore": "app/secret.py\n", "CHANGELOG.md": "c\n",
                          "LICENSE": "l\n", "app/main.py": "m\n", "app/secret.py": "s\n", "Makefile": "all:\n"})
    assert default_edit_globs(ctx, parse_text(text, str(ctx / "Dockerfile"))) == ["app/main.py"]


def test_only_documentation_and_build_files(tmp_path):
    text = "FROM busybox:1.36\nCOPY . /app/\n"
    ctx = make(tmp_path, {"Dockerfile": text, "README.md": "r\n"})
    (edit,) = default_edits(ctx, parse_text(text, str(ctx / "Dockerfile")))
    assert edit.glob == "README.md" and "only documentation" in edit.reason
    bare = make(tmp_path / "bare", {"Dockerfile": text, "Dockerfile.prod": text, ".dockerignore": "x\n"})
    assert default_edits(bare, parse_text(text, str(bare / "Dockerfile"))) == []
