"""Line prefixes nobody listed: found from the log itself, not from a list of known ones.

A wrapper (Go's log package `2024/03/29 14:03:39 `, a tool's `api ──  `, a job name) puts the same thing
before every line, so no line starts with a build format's signal and the log looks build-less. When a
line holds a signal after some text, that text is a candidate prefix; it is taken once the next line
starts with the same shape too (digits may differ: timestamps tick). From then on it is removed from
the start of every line: by a regex over whole blocks (`\\n<prefix>` -> `\\n`, in C) and per line.
"""

from __future__ import annotations

import re

# What starts a line of some build format, searched for inside a line (after a prefix).
SIGNAL = re.compile(
    rb"#(?:\d{1,9}|\*{3}) (?:\[|building with|DONE|CACHED|ERROR|CANCELED|sha256:|\d+\.\d+ )"
    rb"|Step \d{1,9}(?:/\d{1,9})? : "
    rb"|Sending build context to Docker daemon"
    rb"|\[\+\] Building \d"
    rb"|=> (?:CACHED |ERROR |CANCELED )?\[[^\]]{1,80}\] "
    rb"|\{\"(?:stream|id|aux|errorDetail|vertexes|statuses|logs|status)\":"
)
MAX_PREFIX = 80


def shape(prefix: bytes) -> bytes:
    """A regex for the prefix's shape: digits may vary, everything else is literal."""
    parts = re.split(rb"(\d+)", prefix)
    return b"".join(rb"\d+" if p.isdigit() else re.escape(p) for p in parts if p)


def candidate(line: bytes) -> re.Pattern[bytes] | None:
    """The shape of the text before a build signal in this line, if any and not too long."""
    m = SIGNAL.search(line, 1, MAX_PREFIX + 40)
    if m is None or m.start() > MAX_PREFIX:
        return None
    prefix = line[: m.start()]
    if len(prefix) < 2 and not prefix.strip():
        return None  # one space: the parsers take it
    return re.compile(shape(prefix))


class PrefixFinder:
    """Feed lines no format claimed; `found` is the confirmed prefix shape."""

    def __init__(self) -> None:
        self.pending: re.Pattern[bytes] | None = None
        self.held: bytes = b""
        self.found: re.Pattern[bytes] | None = None

    def offer(self, line: bytes) -> list[bytes]:
        """Lines to process now, without the prefix, once it is confirmed (the held line first)."""
        if self.pending is not None and self.pending.match(line):
            self.found = self.pending
            held, self.held, self.pending = self.held, b"", None
            return [self.strip(held), self.strip(line)]
        self.pending = candidate(line)
        self.held = line if self.pending is not None else b""
        return []

    def strip(self, line: bytes) -> bytes:
        if self.found is None:
            return line
        m = self.found.match(line)
        return line[m.end():] if m is not None else line

    def block_pattern(self) -> re.Pattern[bytes]:
        assert self.found is not None
        return re.compile(b"\n" + self.found.pattern)
