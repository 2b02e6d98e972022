"""Files that vanish or change while the build context is read: left out or sent as read once, named, never
an error; the tar stays valid (every header's size is what follows it). No Docker needed."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cacheprof.context import tar as tar_mod
from cacheprof.context import walk as walk_mod
from cacheprof.context.tar import ContextStream, read_warnings
from cacheprof.context.walk import context_fingerprint

DOCKERFILE = "FROM busybox:1.36\nCOPY . /app\n"


def read_tar(data: bytes) -> dict[str, bytes | None]:
    """Every member, its content for regular files; tarfile raises on a header whose size does not match."""
    out: dict[str, bytes | None] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            fh = tar.extractfile(m) if m.isfile() else None
            out[m.name] = fh.read() if fh else None
            if fh:
                assert len(out[m.name] or b"") == m.size
    return out


def consume(stream: ContextStream) -> dict[str, bytes | None]:
    data = b"".join(stream)
    assert len(data) % 10240 == 0
    return read_tar(data)


def vanishing(monkeypatch: pytest.MonkeyPatch, gone: dict[str, object]) -> None:
    """Each listed path in `gone` is acted on right after the walk lists it, before the tar reads it:
    None removes it, a callable is called with its path."""
    real = tar_mod.walk_context

    def walk(*args, **kwargs) -> Iterator[walk_mod.ContextEntry]:  # type: ignore[no-untyped-def]
        for entry in real(*args, **kwargs):
            if entry.rel in gone:
                act = gone[entry.rel]
                if act is None:
                    shutil.rmtree(entry.path) if os.path.isdir(entry.path) else os.unlink(entry.path)
                else:
                    act(entry.path)  # type: ignore[operator]
            yield entry

    monkeypatch.setattr(tar_mod, "walk_context", walk)


def ctx_with(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "Dockerfile").write_text(DOCKERFILE)
    return root


def test_a_file_removed_between_listing_and_reading_is_left_out_and_named(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ctx_with(tmp_path / "ctx", {"a.txt": b"a\n", "gone.log": b"x" * 100, "big.log": b"y" * (3 << 20),
                                      "dir/in.txt": b"i\n", "z.txt": b"z\n"})
    (ctx / "link").symlink_to("a.txt")
    vanishing(monkeypatch, {"gone.log": None, "big.log": None, "link": None, "dir": None})
    stream = ContextStream(ctx, ctx / "Dockerfile")
    got = consume(stream)
    assert "gone.log" not in got and "big.log" not in got and "link" not in got
    assert got["a.txt"] == b"a\n" and got["z.txt"] == b"z\n" and "dir/in.txt" not in got
    assert sorted(stream.vanished) == ["big.log", "dir", "gone.log", "link"]
    assert stream.changed == []
    lines = read_warnings(stream)
    assert len(lines) == 1 and "4 context path(s) vanished" in lines[0] and "gone.log" in lines[0]


def test_a_name_replaced_by_a_symlink_or_fifo_is_never_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"TOP SECRET")
    ctx = ctx_with(tmp_path / "ctx", {"a.txt": b"a\n", "b.txt": b"b\n"})

    def to_link(path: str) -> None:
        os.unlink(path)
        os.symlink(secret, path)

    def to_fifo(path: str) -> None:
        os.unlink(path)
        os.mkfifo(path)  # opening it to read would block forever

    vanishing(monkeypatch, {"a.txt": to_link, "b.txt": to_fifo})
    stream = ContextStream(ctx, ctx / "Dockerfile")
    got = consume(stream)
    assert "a.txt" not in got and "b.txt" not in got
    assert all(b"TOP SECRET" not in (v or b"") for v in got.values())
    assert stream.vanished == ["a.txt", "b.txt"]


def test_the_second_name_of_a_hard_link_carries_the_content_when_the_first_vanished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ctx_with(tmp_path / "ctx", {"a.bin": b"shared"})
    os.link(ctx / "a.bin", ctx / "b.bin")
    vanishing(monkeypatch, {"a.bin": None})
    stream = ContextStream(ctx, ctx / "Dockerfile")
    got = consume(stream)
    assert "a.bin" not in got and got["b.bin"] == b"shared"


def test_an_entry_gone_between_the_directory_listing_and_its_stat(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ctx_with(tmp_path / "ctx", {"a.txt": b"a", "gone.txt": b"g"})
    real = walk_mod._sorted_dir

    def listed_then_removed(path, *args):  # type: ignore[no-untyped-def]
        entries = real(path, *args)
        if os.path.exists(os.path.join(path, "gone.txt")):
            os.unlink(os.path.join(path, "gone.txt"))
        return entries

    monkeypatch.setattr(walk_mod, "_sorted_dir", listed_then_removed)
    stream = ContextStream(ctx, ctx / "Dockerfile")
    got = consume(stream)
    assert "gone.txt" not in got and stream.vanished == ["gone.txt"]
    (ctx / "gone.txt").write_bytes(b"g")
    context_fingerprint(ctx)  # the same walk: no error


def test_a_large_file_cut_short_while_read_is_padded_to_its_declared_size(tmp_path: Path) -> None:
    # Larger than what the reader thread may hold ahead (8 chunks of 1 MiB), so it is cut mid-read.
    ctx = ctx_with(tmp_path / "ctx", {"log.txt": b"x" * (24 << 20), "after.txt": b"after\n"})
    stream = ContextStream(ctx, ctx / "Dockerfile")
    it = iter(stream)
    first = next(it)  # opened at 24 MiB and being read...
    os.truncate(ctx / "log.txt", 5)  # ...when something cuts it
    got = read_tar(first + b"".join(it))
    log = got["log.txt"] or b""
    assert len(log) == 24 << 20 and log.startswith(b"x" * (1 << 20)) and log.endswith(b"\0" * (1 << 20))
    assert got["after.txt"] == b"after\n"  # the tar goes on, aligned
    assert stream.changed == ["log.txt"] and stream.vanished == []
    assert "changed while read" in read_warnings(stream)[0]


def test_a_small_file_rewritten_between_listing_and_reading_is_sent_as_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ctx_with(tmp_path / "ctx", {"grow.txt": b"short", "shrink.txt": b"a much longer first version"})
    vanishing(monkeypatch, {"grow.txt": lambda p: Path(p).write_bytes(b"now a longer content"),
                            "shrink.txt": lambda p: Path(p).write_bytes(b"tiny")})
    got = consume(ContextStream(ctx, ctx / "Dockerfile"))
    assert got["grow.txt"] == b"now a longer content" and got["shrink.txt"] == b"tiny"


TOKEN = 8


def _version(n: int, size: int) -> bytes:
    return (f"v{n:06d}\n".encode() * (size // TOKEN + 1))[:size - size % TOKEN]


def test_a_context_churned_by_a_writer_thread_always_gives_a_valid_tar(tmp_path: Path) -> None:
    """A writer thread deletes, recreates, truncates and rewrites files (one of them over the read-whole
    bound) while tars are made over and over: every tar is valid, every name at most once, what vanished is
    absent and named, and an unchanged small file holds one whole version (never two mixed)."""
    ctx = ctx_with(tmp_path / "ctx", {})
    names = [f"logs/f{i:02d}.log" for i in range(40)]
    for i, name in enumerate(names):
        (ctx / name).parent.mkdir(exist_ok=True)
        (ctx / name).write_bytes(_version(0, 64 + i * 8))
    (ctx / "cache").mkdir()
    (ctx / "big.bin").write_bytes(_version(0, 3 << 20))
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            for i, name in enumerate(names):
                path = ctx / name
                if (n + i) % 3 == 0:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(_version(n, 64 + ((n + i) % 50) * 8))  # truncates, then writes
            sub = ctx / "cache" / f"d{n % 4}"
            shutil.rmtree(sub, ignore_errors=True)
            sub.mkdir(exist_ok=True)
            (sub / "x").write_bytes(_version(n, 16))
            if n % 5 == 0:
                os.truncate(ctx / "big.bin", (n % 3) << 20)
                (ctx / "big.bin").write_bytes(_version(n, 3 << 20))

    writer = threading.Thread(target=churn, daemon=True)
    writer.start()
    vanished = changed = 0
    try:
        for _ in range(40):
            stream = ContextStream(ctx, ctx / "Dockerfile")
            data = b"".join(stream)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                members = tar.getmembers()
                assert len({m.name for m in members}) == len(members)
                got = {m.name: (tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                       for m in members}
            assert not set(stream.vanished) & {n for n, v in got.items() if v is not None}
            for name, content in got.items():
                if name.startswith("logs/") and name not in stream.changed and content:
                    tokens = {content[k:k + TOKEN] for k in range(0, len(content), TOKEN)}
                    assert len(tokens) == 1 and len(content) % TOKEN == 0, name
            vanished += len(stream.vanished)
            changed += len(stream.changed)
    finally:
        stop.set()
        writer.join()
    assert vanished + changed > 0  # the churn did reach the reader (else this test proved nothing)


def test_profile_says_which_file_vanished_and_the_build_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    from click.testing import CliRunner

    from cacheprof.cli import main
    from tests.conftest import DATA

    recording = DATA / "streams" / "classic-python-app"
    ctx = ctx_with(tmp_path / "ctx", {"app.py": b"print()\n", "server.log": b"GET /\n"})
    vanishing(monkeypatch, {"server.log": None})
    r = CliRunner().invoke(main, ["profile", str(ctx), "-f", str(recording / "Dockerfile"), "--replay",
                                  str(recording), "--builder", "classic", "-s", "cold", "-q", "--format", "json",
                                  "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.stderr.splitlines() if "vanished" in ln]
    assert warnings == ["cacheprof: warning: build 1 (cold): 1 context path(s) vanished while read, left out of "
                        "the build: server.log"], r.stderr
    assert "Traceback" not in r.stderr
