"""Rejoin lines a console wrapped at its width (PowerShell's `Out-File`/transcripts, a terminal copy).

A wrapped log has many lines exactly as long as the longest one (the width) and a header cut there
goes on at the start of the next line (`Step 1/9 : FROM ` / `python:3.12`). The width is measured on
the log's first block; a line of that length is joined with the next one unless the next line starts
a line of its own (a build format's line start, a client line). A log whose lines are all padded to
the width (the tty display) never joins: every next line starts a line of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MIN_WIDTH = 60
MIN_WRAPPED = 3  # distinct lines exactly as wide as the widest
SHAPE = 6
DIGITS = re.compile(rb"\d")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[\]_][^\x07\x1b]*(?:\x07|\x1b\\)")
# Line starts of every format and of the client's own lines; a continuation starts with none of them.
OWN_LINE = re.compile(
    rb"\s*$|#(?:\d|\*)|Step \d|\s?--->|\s*=> |\s*\[\+\]|------|ERROR|WARNING|error|\s?> |Successfully |Removing "
    rb"intermediate|Sending build|\{|\s*```|\s*~~~|Dockerfile:|DEPRECATED|\s*[\xe2]"
)


def width_of(block: bytes) -> int | None:
    """The console width a block was wrapped at, or None. Besides several distinct lines exactly as wide as
    the widest, most of them must go on in the next line: output lines that merely share the widest
    length (a tty display, repeated output) are followed by lines of their own."""
    lines = [_visible(x) for x in block.split(b"\n")[:-1]]  # the last may be cut
    if not lines:
        return None
    widest = max(len(x) for x in lines)
    if widest < MIN_WIDTH:
        return None
    at = [i for i, x in enumerate(lines) if len(x) == widest]
    if len({lines[i] for i in at}) < MIN_WRAPPED:
        return None
    going_on = sum(1 for i in at if i + 1 < len(lines) and _continues(lines[i], lines[i + 1]))
    return widest if going_on >= MIN_WRAPPED - 1 and 2 * going_on >= len(at) else None


def _visible(line: bytes) -> bytes:
    """What a console shows of the line: without its line end and terminal control codes (a console
    wraps at a number of shown characters)."""
    line = line.rstrip(b"\r")
    return ANSI.sub(b"", line) if b"\x1b" in line else line


def _shape(line: bytes) -> bytes:
    return DIGITS.sub(b"0", line[:SHAPE])


def _continues(line: bytes, nxt: bytes) -> bool:
    """`nxt` is the rest of a wrapped `line`: it starts no line of its own, and not the way `line` starts
    (a CI prefix on every line)."""
    nxt, line = _visible(nxt), _visible(line)
    return OWN_LINE.match(nxt) is None and _shape(nxt) != _shape(line)


def unwrap(blocks: Iterator[bytes], width: int) -> Iterator[bytes]:
    """The blocks with every wrapped line rejoined (also across block ends)."""
    carry: bytes | None = None
    for block in blocks:
        lines = block.split(b"\n")
        if carry is not None:
            if not _continues(carry, lines[0]):
                lines.insert(0, carry)
            else:
                lines[0] = carry + lines[0]
            carry = None
        out: list[bytes] = []
        line = lines[0]
        seg = len(_visible(line))  # the length of the line's last wrapped piece
        for nxt in lines[1:]:
            if seg == width and _continues(line, nxt):
                line = line.rstrip(b"\r") + nxt  # joined; the piece joined may be wrapped again
                seg = len(_visible(nxt))
                continue
            out.append(line)
            line = nxt
            seg = len(_visible(line))
        if seg == width:
            carry = line
        else:
            out.append(line)
        if out:
            yield b"\n".join(out)
    if carry is not None:
        yield carry
