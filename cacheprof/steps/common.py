"""What both builders' step assemblers and the log parsers share: engine events and ANSI stripping."""

from __future__ import annotations

import re
from typing import Any

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text) if "\x1b" in text else text


# An engine message with its arrival time (epoch seconds), as drivers yield and recordings keep it.
Event = tuple[float, dict[str, Any]]
ARRIVAL_KEY = "_t"
