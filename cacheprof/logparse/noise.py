"""What CI systems and pastes wrap around a build log, and how to take it off one line at a time.

Everything here works on bytes: most lines of a big log are skipped without ever being decoded.
"""

from __future__ import annotations

import re

# ANSI CSI/OSC sequences and Buildkite's `ESC _bk;t=…BEL` timestamps.
ANSI_B = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[\]_][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]")
# Prefixes added by CI runners, stripped repeatedly (a timestamp can precede `remote: `):
# GitHub Actions / Azure `2024-05-01T10:00:00.1234567Z `, Jenkins `[2024-05-01T10:00:00.123Z] `,
# git push hooks `remote: `, GitLab's `section_start:1700000000:name` when no text follows it.
TIMESTAMP = rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)? ?"
PREFIX_B = re.compile(
    rb"(?:" + TIMESTAMP +
    rb"|\[\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[^\]]{0,40}\] ?"
    rb"|remote:(?: |$)"
    rb"|section_(?:start|end):\d+:\S*)"
)
PREFIX_FIRST = frozenset(b"0123456789[rs")
# A timestamp on every line (GitHub Actions, Azure) would send every line down the slow path: once one is
# seen, it is removed from whole blocks at once, in C (`\n<timestamp>` -> `\n`).
TIMESTAMP_LINE = re.compile(TIMESTAMP)
TIMESTAMP_BLOCK = re.compile(rb"\n" + TIMESTAMP)
FENCE_B = re.compile(rb"\s*(?:```|~~~)")
# `service-a  | …` (docker compose / compose v1 `name_1  | …`): one build per service.
CHANNEL_B = re.compile(rb"([A-Za-z0-9][A-Za-z0-9_.-]{0,62})\s*\| ")


def clean(raw: bytes) -> bytes | None:
    """One log line without its line end, terminal control codes or CI prefixes; None to drop it."""
    line = raw.rstrip(b"\r\n")
    if b"\x1b" in line:
        line = ANSI_B.sub(b"", line)
    if b"\r" in line:
        # A terminal shows only what follows the last carriage return (progress bars, GitLab's
        # `section_start:…\r\e[0K` headers).
        line = line[line.rfind(b"\r") + 1 :]
    for _ in range(3):
        if not line or line[0] not in PREFIX_FIRST:
            break
        m = PREFIX_B.match(line)
        if m is None or not m.end():
            break
        line = line[m.end() :]
    if line[:3] in (b"```", b"~~~") or (line[:1] in (b" ", b"\t") and FENCE_B.match(line)):
        return None  # a Markdown code fence around a pasted log
    return line


def split_channel(line: bytes) -> tuple[str, bytes] | None:
    """(`service`, rest) for a `service  | rest` line, else None."""
    if b"| " not in line:
        return None
    m = CHANNEL_B.match(line)
    if m is None:
        return None
    return m.group(1).decode("ascii"), line[m.end() :]


def text(line: bytes) -> str:
    return line.decode("utf-8", "replace")
