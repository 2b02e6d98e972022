"""Rejoin lines a console wrapped at its width (PowerShell's `Out-File`/transcripts, a terminal copy).

A wrapped log has many lines exactly as long as the longest one (the width) and a header cut there
goes on at the start of the next line (`Step 1/9 : FROM ` / `python:3.12`). The width is measured on
the log's first block; a line of that length is joined with the next one unless the next line starts
a line of its own (a build format's line start, a client line). A log whose lines are all padded to
the width (the tty display) never joins: every next line starts a line of its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

MIN_WIDTH = 60
MIN_WRAPPED = 3  # distinct lines exactly as wide as the widest
SHAPE = 6
DIGITS = re.compile(rb"\d")
# Line starts of every format and of the client's own lines; a continuation starts with none of them.
OWN_LINE = re.compile(
    rb"\s*$|#(?:\d|\*)|Step \d|\s?--->|\s*=> |\s*\[\+\]|------|ERROR|WARNING|error|\s?> |Successfully |Removing "
    rb"intermediate|Sending build|\{|\s*```|\s*~~~|Dockerfile:|DEPRECATED|\s*[\xe2]"
)


def width_of(block: bytes) -> int | None:
    """The console width a block was wrapped at, or None."""
    lines = {x.rstrip(b"\r") for x in block.split(b"\n")[:-1]}  # the last may be cut
    lengths = Counter(len(x) for x in lines)
    if not lengths:
        return None
    widest = max(lengths)
    if widest >= MIN_WIDTH and lengths[widest] >= MIN_WRAPPED:
        return widest
    return None


def _shape(line: bytes) -> bytes:
    return DIGITS.sub(b"0", line[:SHAPE])


def _continues(line: bytes, nxt: bytes) -> bool:
    """`nxt` is the rest of a wrapped `line`: it starts no line of its own, and not the way `line` starts
    (a CI prefix on every line)."""
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
        seg = len(line.rstrip(b"\r"))  # the length of the line's last wrapped piece
        for nxt in lines[1:]:
            if seg == width and _continues(line, nxt):
                line = line.rstrip(b"\r") + nxt  # joined; the piece joined may be wrapped again
                seg = len(nxt.rstrip(b"\r"))
                continue
            out.append(line)
            line = nxt
            seg = len(line.rstrip(b"\r"))
        if seg == width:
            carry = line
        else:
            out.append(line)
        if out:
            yield b"\n".join(out)
    if carry is not None:
        yield carry
