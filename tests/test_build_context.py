"""The build-context tar, scratch copies and their edits, and the default edit targets (no Docker needed)."""

from __future__ import annotations

import builtins
import io
import os
import tarfile
from pathlib import Path

import pytest

from cacheprof.context import walk
from cacheprof.context.dockerignore import DockerIgnore
from cacheprof.context.edits import default_edit_globs, pick_edit_target, plan_edit
from cacheprof.context.tar import ContextStream, make_tar
from cacheprof.context.walk import OUTSIDE_DOCKERFILE_PREFIX, context_fingerprint
from cacheprof.dockerfile import parse_text
from cacheprof.errors import UsageError


class Link(str):
    """A symlink target in a make_ctx spec."""


def make_ctx(root: Path, files: dict[str, str | bytes | Link | None]) -> Path:
    """Files (str/bytes content), symlinks (Link) and empty directories (None) under root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            p.mkdir()
        elif isinstance(content, Link):
            p.symlink_to(str(content))
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return root


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [m.name for m in tar.getmembers()]


def content(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        fh = tar.extractfile(name)
        assert fh is not None
        return fh.read()


def raw_headers(data: bytes) -> list[tuple[bytes, bytes]]:
    """(typeflag, magic) of every header block, read straight from the bytes (PAX would show as x/g)."""
    out = []
    pos = 0
    while pos + 512 <= len(data):
        block = data[pos : pos + 512]
        if block == b"\0" * 512:
            break
        typeflag, magic = block[156:157], block[257:265]
        size_field = block[124:136]
        size = int(size_field.rstrip(b"\0 ") or b"0", 8) if not size_field[0] & 0x80 else 0
        out.append((typeflag, magic))
        pos += 512 + (size + 511) // 512 * 512
    return out


DOCKERFILE = "FROM busybox\nCOPY . /app\n"


# --- make_tar ------------------------------------------------------------------------------------------


def test_tar_without_dockerignore_sends_everything_in_walk_order(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, "app.py": "print('hi')\n", "run.sh": "#!/bin/sh\n", "a-b.txt": "dash\n",
        "a/x": "in a\n", "src/sub/b.txt": "b\n", "empty": None, "link": Link("app.py"),
    })
    os.chmod(ctx / "run.sh", 0o755)
    os.chmod(ctx / "app.py", 0o640)
    data, df_name = make_tar(ctx, ctx / "Dockerfile")
    assert df_name == "Dockerfile"
    # Go's WalkDir order: a directory's content right after it, so a/x comes before a-b.txt.
    assert names(data) == [
        "Dockerfile", "a", "a/x", "a-b.txt", "app.py", "empty", "link", "run.sh", "src", "src/sub",
        "src/sub/b.txt",
    ]
    m = members(data)
    assert m["run.sh"].mode == 0o755 and m["app.py"].mode == 0o640
    assert m["link"].issym() and m["link"].linkname == "app.py"
    assert m["empty"].isdir() and m["src/sub"].isdir()
    assert all(i.uid == 0 and i.gid == 0 and i.uname == "" and i.gname == "" for i in m.values())
    assert m["app.py"].mtime == int(os.lstat(ctx / "app.py").st_mtime)
    assert content(data, "src/sub/b.txt") == b"b\n"


def test_tar_is_gnu_format_without_pax_headers(tmp_path: Path) -> None:
    long_name = "d" * 60 + "/" + "f" * 80 + ".txt"  # over 100 bytes: needs a GNU long-name record
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, long_name: "long\n", "caf\u00e9.txt": "x"})
    data, _ = make_tar(ctx, ctx / "Dockerfile")
    headers = raw_headers(data)
    flags = [flag for flag, _ in headers]
    assert b"x" not in flags and b"g" not in flags
    assert b"L" in flags  # GNU long name, not PAX
    assert all(magic == b"ustar  \0" for _, magic in headers)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.pax_headers == {}
        assert all(not m.pax_headers for m in tar.getmembers())
        assert long_name in tar.getnames() and "caf\u00e9.txt" in tar.getnames()


def test_dockerignore_filters_but_build_files_are_always_sent(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, ".dockerignore": "*.log\nbuild\n!build/keep.txt\nDockerfile\n.dockerignore\n",
        "app.py": "x", "debug.log": "log", "sub/trace.log": "kept: *.log is root-only",
        "build/keep.txt": "keep", "build/out.o": "obj",
    })
    data, df_name = make_tar(ctx, ctx / "Dockerfile")
    assert df_name == "Dockerfile"
    # build/ itself is excluded (no entry) but the walk enters it for the exception.
    assert names(data) == [".dockerignore", "Dockerfile", "app.py", "build/keep.txt", "sub", "sub/trace.log"]


def test_wildcard_exception_does_not_reach_into_an_excluded_directory(tmp_path: Path) -> None:
    # Docker prunes build/ because no exception starts with "build/": the file stays out even though
    # the matcher alone would keep it.
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, ".dockerignore": "build\n!*/keep.txt\n", "build/keep.txt": "keep",
        "other/keep.txt": "k",
    })
    assert not DockerIgnore.for_context(ctx).excluded("build/keep.txt")
    data, _ = make_tar(ctx, ctx / "Dockerfile")
    assert "build/keep.txt" not in names(data)
    assert "other/keep.txt" in names(data)


def test_dockerfile_inside_an_excluded_directory(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {
        ".dockerignore": "docker\n", "docker/Dockerfile": DOCKERFILE, "docker/notes.txt": "n", "app.py": "x",
    })
    data, df_name = make_tar(ctx, ctx / "docker" / "Dockerfile")
    assert df_name == "docker/Dockerfile"
    assert names(data) == [".dockerignore", "app.py", "docker/Dockerfile"]
    assert content(data, "docker/Dockerfile") == DOCKERFILE.encode()


def test_dockerfile_outside_the_context(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {"app.py": "x"})
    outside = tmp_path / "elsewhere" / "Dockerfile.prod"
    outside.parent.mkdir()
    outside.write_text(DOCKERFILE)
    data, df_name = make_tar(ctx, outside)
    assert df_name.startswith(OUTSIDE_DOCKERFILE_PREFIX) and len(df_name) > len(OUTSIDE_DOCKERFILE_PREFIX)
    assert content(data, df_name) == DOCKERFILE.encode()
    # As the CLI does: the added file is listed in the sent .dockerignore so COPY . does not take it.
    assert content(data, ".dockerignore").decode().split() == [".dockerignore", df_name]
    assert names(data) == ["app.py", df_name, ".dockerignore"]
    assert make_tar(ctx, outside)[1] == df_name  # stable across builds
    assert not (ctx / ".dockerignore").exists()  # the user's context is not written to


def test_dockerfile_outside_with_an_existing_dockerignore(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {"app.py": "x", "x.log": "log", ".dockerignore": "*.log"})
    outside = tmp_path / "Dockerfile"
    outside.write_text(DOCKERFILE)
    data, df_name = make_tar(ctx, outside)
    assert content(data, ".dockerignore") == f"*.log\n{df_name}\n".encode()
    assert names(data) == [".dockerignore", "app.py", df_name]
    assert (ctx / ".dockerignore").read_text() == "*.log"


def test_hard_links_are_sent_as_links(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "a.bin": b"\0data"})
    os.link(ctx / "a.bin", ctx / "b.bin")
    m = members(make_tar(ctx, ctx / "Dockerfile")[0])
    assert m["a.bin"].isfile() and m["a.bin"].size == 5
    assert m["b.bin"].islnk() and m["b.bin"].linkname == "a.bin"


def test_bad_context_and_dockerfile_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="build context not found"):
        make_tar(tmp_path / "missing", tmp_path / "Dockerfile")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is not a directory"):
        make_tar(tmp_path / "file", tmp_path / "file")
    ctx = make_ctx(tmp_path / "ctx", {"app.py": "x"})
    with pytest.raises(UsageError, match="Dockerfile not found"):
        make_tar(ctx, ctx / "Dockerfile")
    (ctx / ".dockerignore").write_text("[\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    with pytest.raises(UsageError, match=r"\.dockerignore:1: invalid pattern"):
        make_tar(ctx, ctx / "Dockerfile")


def deny_reading(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make `denied` unreadable for the context walk even when the tests run as root."""
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.path.realpath(file) == os.path.realpath(denied):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(walk, "open", fake_open, raising=False)


def test_unreadable_file_is_a_usage_error_unless_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "secret.key": "k", "app.py": "x"})
    deny_reading(monkeypatch, ctx / "secret.key")
    with pytest.raises(UsageError, match=r"cannot read .*secret\.key.*permission denied.*\.dockerignore"):
        make_tar(ctx, ctx / "Dockerfile")
    (ctx / ".dockerignore").write_text("*.key\n")
    assert "secret.key" not in names(make_tar(ctx, ctx / "Dockerfile")[0])


# --- TempContext -----------------------------------------------------------------------------------------


@pytest.fixture
def app_ctx(tmp_path: Path) -> Path:
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, ".dockerignore": "*.log\n", "requirements.txt": "flask==3.0\n",
        "src/a.py": "print('a')", "src/b.py": "print('b')\n", "src/sub/c.py": "c\n", "src/readme.md": "r\n",
        "data/blob.bin": b"\x00\x01\x02binary", "debug.log": "ignored\n", "link.py": Link("src/a.py"),
        "empty": None,
    })
    os.chmod(ctx / "requirements.txt", 0o444)
    os.chmod(ctx / "src" / "b.py", 0o755)
    return ctx


def edited_tar(ctx: Path, glob: str, nonce: str) -> tuple[list[str], bytes]:
    edit = plan_edit(ctx, glob, nonce)
    return list(edit.files), make_tar(ctx, ctx / "Dockerfile", overrides=edit.overrides)[0]


def test_edit_is_applied_in_the_tar_and_never_touches_the_original(app_ctx: Path) -> None:
    before = context_fingerprint(app_ctx)
    edited, data = edited_tar(app_ctx, "src/*.py", "n0nce-1")
    assert edited == ["src/a.py", "src/b.py"]  # not src/sub/c.py: * stays within a directory
    assert content(data, "src/a.py") == b"print('a')\n# cacheprof edit n0nce-1\n"
    assert content(data, "src/b.py") == b"print('b')\n# cacheprof edit n0nce-1\n"
    assert members(data)["src/b.py"].mode == 0o755
    assert members(data)["src/a.py"].size == len(b"print('a')\n# cacheprof edit n0nce-1\n")
    edited, data = edited_tar(app_ctx, "data", "n0nce-2")
    assert edited == ["data/blob.bin"]  # a directory edits what is in it
    assert content(data, "data/blob.bin") == b"\x00\x01\x02binaryn0nce-2"
    edited, data = edited_tar(app_ctx, "requirements.txt", "n0nce-3")
    assert edited == ["requirements.txt"]  # read-only: only read, never written
    assert content(data, "requirements.txt") == b"flask==3.0\n# cacheprof edit n0nce-3\n"
    assert context_fingerprint(app_ctx) == before
    assert (app_ctx / "src/a.py").read_text() == "print('a')"


def test_edit_globs(app_ctx: Path) -> None:
    assert plan_edit(app_ctx, "**/*.py", "n").files == ("src/a.py", "src/b.py", "src/sub/c.py")
    assert plan_edit(app_ctx, "src/**", "n").files == ("src/a.py", "src/b.py", "src/readme.md", "src/sub/c.py")
    assert plan_edit(app_ctx, "./src/sub/", "n").files == ("src/sub/c.py",)
    assert plan_edit(app_ctx, "src/[ab].py", "n").files == ("src/a.py", "src/b.py")
    assert plan_edit(app_ctx, "debug.log", "n").files == ("debug.log",)  # ignored files can be edited too
    with pytest.raises(UsageError, match=r"edit:nope/\*\.py matches no file in the context"):
        plan_edit(app_ctx, "nope/*.py", "n")


def test_edit_never_follows_symlinks(tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("user data\n")
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "ext.txt": Link(str(secret)), "own.txt": "o"})
    edited, data = edited_tar(ctx, "*.txt", "n")
    assert edited == ["own.txt"]
    assert members(data)["ext.txt"].issym()
    with pytest.raises(UsageError, match="matches no file"):
        plan_edit(ctx, "ext.txt", "n")
    assert secret.read_text() == "user data\n"


def test_edit_changes_only_that_file_in_the_tar(app_ctx: Path) -> None:
    original, _ = make_tar(app_ctx, app_ctx / "Dockerfile")
    _, edited = edited_tar(app_ctx, "src/sub/c.py", "xyz")
    assert names(edited) == names(original)
    changed = [n for n in names(original) if members(original)[n].isfile()
               and content(original, n) != content(edited, n)]
    assert changed == ["src/sub/c.py"]
    assert content(edited, "src/sub/c.py") == b"c\n# cacheprof edit xyz\n"


def test_edit_of_a_hard_linked_file_reaches_every_name(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "a.txt": "same\n"})
    os.link(ctx / "a.txt", ctx / "b.txt")
    edited, data = edited_tar(ctx, "b.txt", "n")  # only the second name matches; the tar holds the first
    assert edited == ["b.txt"]
    assert members(data)["b.txt"].islnk() and members(data)["b.txt"].linkname == "a.txt"
    assert content(data, "a.txt") == b"same\n# cacheprof edit n\n"


def test_edit_missing_context(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="build context not found"):
        plan_edit(tmp_path / "nope", "*", "n")


def test_tar_streams_in_bounded_chunks(tmp_path: Path) -> None:
    big = os.urandom(3 << 20)
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "big.bin": big, "small.txt": "s\n"})
    stream = ContextStream(ctx, ctx / "Dockerfile")
    chunks = list(stream)
    assert max(len(c) for c in chunks) <= 2 << 20  # a large file is read piecewise, never whole
    assert len(chunks) >= 3
    data = b"".join(chunks)
    assert stream.sent_bytes == len(data) and len(data) % 10240 == 0
    assert content(data, "big.bin") == big


# --- default edit targets --------------------------------------------------------------------------------


PY_DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["python", "app.py"]
"""


def test_default_edit_globs_pick_one_file_per_copy_source(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": PY_DOCKERFILE, ".dockerignore": "*.pyc\n", "requirements.txt": "flask\n",
        "app.py": "print(1)\n", "cache.pyc": b"\0",
    })
    model = parse_text(PY_DOCKERFILE, str(ctx / "Dockerfile"))
    globs = default_edit_globs(ctx, model)
    assert globs == ["requirements.txt", "app.py"]


def test_default_edit_globs_respect_dockerignore_and_skip_build_files(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": PY_DOCKERFILE, ".dockerignore": "app.py\n", "requirements.txt": "flask\n",
        "app.py": "print(1)\n", "server.py": "serve()\n", ".env": "X=1\n",
    })
    model = parse_text(PY_DOCKERFILE, str(ctx / "Dockerfile"))
    globs = default_edit_globs(ctx, model)
    assert globs[0] == "requirements.txt"
    assert globs[1] == "server.py"  # not the ignored app.py, nor Dockerfile/.dockerignore/.env
    for g in globs:  # the globs are usable as edit scenarios
        assert plan_edit(ctx, g, "n").files == (g,)


def test_default_edit_globs_broad_source_avoids_narrower_ones(tmp_path: Path) -> None:
    text = "FROM alpine\nCOPY --from=busybox /bin/sh /sh\nCOPY src/ /app/src/\nADD https://example.com/x /x\n" \
           "COPY . /app/\nCOPY ./src /again/\n"
    ctx = make_ctx(tmp_path / "ctx", {"Dockerfile": text, "src/a.py": "a", "src/b.py": "b", "z.txt": "z"})
    globs = default_edit_globs(ctx, parse_text(text, str(ctx / "Dockerfile")))
    assert globs == ["src/a.py", "z.txt"]  # ./src is src/ again: de-duplicated


def test_default_edit_globs_with_dockerfile_outside_and_only_build_files(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {".dockerignore": "x\n"})
    text = "FROM alpine\nCOPY . /app\nCOPY missing.txt /m\n"
    # .dockerignore is the only file copied: no edit a developer would make, so no edit scenario
    assert default_edit_globs(ctx, parse_text(text, str(tmp_path / "Dockerfile"))) == []


def test_pick_edit_target(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, "app/b.py": "b", "app/a.py": "a", "app/notes.md": "n", "app/sub/z.py": "z",
        "src/x.txt": "x", "readme.md": "r", "lnk": Link("readme.md"),
    })
    assert pick_edit_target(ctx, "app/*.py") == "app/a.py"
    assert pick_edit_target(ctx, "src/") == "src/x.txt"
    assert pick_edit_target(ctx, "/src") == "src/x.txt"
    assert pick_edit_target(ctx, ".") == "app/a.py"
    assert pick_edit_target(ctx, "lnk") is None  # a symlink is not an editable file
    assert pick_edit_target(ctx, "missing.txt") is None
    ignore = DockerIgnore.from_text("app/a.py\n")
    assert pick_edit_target(ctx, "app/*.py", ignore) == "app/b.py"
    # `*.py` excludes only app/*.py; of what is left a source file beats notes
    assert pick_edit_target(ctx, "app", excludes=["*.py"]) == "app/sub/z.py"
    assert pick_edit_target(ctx, "app", excludes=["*.py", "sub"]) == "app/notes.md"
    assert pick_edit_target(ctx, "app/", DockerIgnore.from_text("app\n")) is None


# --- context_fingerprint ---------------------------------------------------------------------------------


def test_context_fingerprint_sees_content_mode_names_and_links(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx", {"a.txt": "a", "d/b.txt": "b", "l": Link("a.txt")})
    fp = context_fingerprint(ctx)
    assert fp == context_fingerprint(ctx) and len(fp) == 64
    (ctx / "a.txt").write_text("A")
    fp2 = context_fingerprint(ctx)
    assert fp2 != fp
    os.chmod(ctx / "d/b.txt", 0o600)
    fp3 = context_fingerprint(ctx)
    assert fp3 != fp2
    (ctx / "l").unlink()
    (ctx / "l").symlink_to("d/b.txt")
    fp4 = context_fingerprint(ctx)
    assert fp4 != fp3
    (ctx / "d/b.txt").rename(ctx / "d/c.txt")
    assert context_fingerprint(ctx) != fp4


def test_buildkit_tar_leaves_out_an_excluded_dockerignore(tmp_path: Path) -> None:
    # BuildKit without a session never reads .dockerignore and copies the whole tar: sending an
    # excluded .dockerignore would put it into images that `COPY . .`. The Dockerfile must still go.
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    (ctx / "app.txt").write_text("x\n")
    classic, _ = make_tar(ctx, ctx / "Dockerfile")
    buildkit, name = make_tar(ctx, ctx / "Dockerfile", buildkit=True)
    assert set(names(classic)) == {"Dockerfile", ".dockerignore", "app.txt"}
    assert set(names(buildkit)) == {"Dockerfile", "app.txt"} and name == "Dockerfile"


def test_buildkit_tar_of_an_outside_dockerfile_adds_no_dockerignore(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text("x\n")
    outside = tmp_path / "Dockerfile.other"
    outside.write_text("FROM scratch\n")
    classic, name = make_tar(ctx, outside)
    buildkit, bk_name = make_tar(ctx, outside, buildkit=True)
    assert name == bk_name and name.startswith(".cacheprof-Dockerfile-")
    assert set(names(classic)) == {"app.txt", name, ".dockerignore"}
    assert set(names(buildkit)) == {"app.txt", name}


def test_edit_globs_walk_only_below_their_fixed_part(app_ctx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cacheprof.context import globs

    starts: list[str] = []
    real_walk = globs.walk_context

    def spy(root: str, ignore: object, start: str = "") -> object:
        starts.append(start)
        return real_walk(root, ignore, start)

    monkeypatch.setattr(globs, "walk_context", spy)
    assert plan_edit(app_ctx, "src/sub/c.py", "n").files == ("src/sub/c.py",)
    assert starts == []  # a plain file path is looked up, not searched for
    assert plan_edit(app_ctx, "src/*.py", "n").files == ("src/a.py", "src/b.py")
    assert plan_edit(app_ctx, "./src/sub/", "n").files == ("src/sub/c.py",)
    assert plan_edit(app_ctx, "**/c.py", "n").files == ("src/sub/c.py",)
    assert starts == ["src", "src/sub", ""]
    os.symlink("src", app_ctx / "alias")
    with pytest.raises(UsageError, match="matches no file"):  # a symlinked directory is never entered
        plan_edit(app_ctx, "alias/a.py", "n")
