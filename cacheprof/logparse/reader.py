"""Lines of a log, read in fixed chunks: memory stays bounded however long the log or any one line is.

Splitting 64 KiB chunks with bytes.split is as fast as iterating a file's lines, and unlike readline it
never builds a line longer than `max_line`: such a line is dropped (and counted) while it streams past.
Lines come without their `\\n`; a `\\r` before it stays (noise.clean removes it).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

CHUNK = 1 << 16


class LineSource:
    def __init__(self, read: Callable[[int], bytes], max_line: int) -> None:
        self.read = read
        self.max_line = max_line
        self.skipped = 0  # over-long lines dropped
        self.cut = False  # the last line has no line end: the log was cut off mid-line
        self.empty = True
        self.on_drop: Callable[[], None] | None = None

    @classmethod
    def of_file(cls, fh: BinaryIO, max_line: int) -> LineSource:
        peek = getattr(fh, "peek", None)
        head = peek(4)[:4] if peek is not None else b""
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            # PowerShell's `>` writes UTF-16: re-encode as UTF-8 chunk by chunk.
            text = io.TextIOWrapper(fh, encoding="utf-16", errors="replace", newline="")  # type: ignore[type-var]
            return cls(lambda n: text.read(n).encode("utf-8"), max_line)
        if head.startswith(b"\xef\xbb\xbf"):
            fh.read(3)  # a UTF-8 byte order mark
        return cls(getattr(fh, "read1", fh.read), max_line)

    def _dropped(self) -> None:
        self.skipped += 1
        if self.on_drop is not None:
            self.on_drop()

    def blocks(self) -> Iterator[bytes]:
        """The log as blocks of whole lines joined by `\n` (no trailing one); the last block may be a
        line cut off mid-way."""
        read, limit = self.read, self.max_line
        rest = b""
        dropping = False  # inside an over-long line: discard up to its end
        while True:
            buf = read(CHUNK)
            if not buf:
                break
            self.empty = False
            if dropping:
                nl = buf.find(b"\n")
                if nl < 0:
                    continue
                buf = buf[nl + 1 :]  # past the over-long line's end
                dropping = False
            elif rest:
                buf = rest + buf
            nl = buf.rfind(b"\n")
            if nl < 0:
                rest = buf
            else:
                rest = buf[nl + 1 :]
                yield buf[:nl]
            if len(rest) > limit:
                rest = b""
                dropping = True
                self._dropped()
        if dropping or rest:
            self.cut = True
        if rest:
            yield rest


def lines_of(items: Iterable[str | bytes]) -> Iterator[bytes]:
    """Blocks of given lines (str or bytes, with or without line ends), for tests and callers with text."""
    batch: list[bytes] = []
    for item in items:
        b = item.encode("utf-8") if isinstance(item, str) else item
        batch.append(b[:-1] if b.endswith(b"\n") else b)
        if len(batch) >= 1024:
            yield b"\n".join(batch)
            batch = []
    if batch:
        yield b"\n".join(batch)
