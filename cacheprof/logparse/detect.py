"""Which log format a line belongs to. The first line that says decides, per channel (service)."""

from __future__ import annotations

import json
import re
from enum import StrEnum


class Format(StrEnum):
    ENGINE_JSON = "engine-json"
    CLASSIC = "classic"
    PLAIN = "plain"
    RAWJSON = "rawjson"
    TTY = "tty"


PLAIN_SIGNAL = re.compile(rb"#(?:\d{1,9}|\*\*\*) \S")  # `#***`: CI secret masking hid the number
# BuildKit's tty display: its header, or a vertex line (` => [stage 2/5] …`, ` => CACHED […] …`).
TTY_SIGNAL = re.compile(rb"\[\+\] Building \d|\s{0,4}=> (?:CACHED |ERROR |CANCELED )?\[")
CLASSIC_SIGNAL = re.compile(rb"Step \d{1,9}(?:/\d{1,9})? : |Sending build context to Docker daemon")
ENGINE_KEYS = frozenset({"stream", "errorDetail"})
ENGINE_IDS = frozenset({"moby.buildkit.trace", "moby.image.id"})
RAWJSON_KEYS = frozenset({"vertexes", "statuses", "logs", "warnings"})


def json_format(obj: object) -> Format | None:
    """engine-json for an Engine API build message, rawjson for a BuildKit SolveStatus, else None."""
    if not isinstance(obj, dict):
        return None
    if obj.get("id") in ENGINE_IDS or not ENGINE_KEYS.isdisjoint(obj):
        return Format.ENGINE_JSON
    if "status" in obj and ("id" in obj or "progressDetail" in obj):
        return Format.ENGINE_JSON  # a pull progress message of a classic build
    if not RAWJSON_KEYS.isdisjoint(obj) and all(isinstance(obj[k], list) for k in RAWJSON_KEYS & obj.keys()):
        return Format.RAWJSON
    return None


def detect(line: bytes) -> Format | None:
    """The format a cleaned line belongs to, if it tells."""
    first = line[:1]
    if first == b"#":
        return Format.PLAIN if PLAIN_SIGNAL.match(line) else None
    if first == b"S":
        return Format.CLASSIC if CLASSIC_SIGNAL.match(line) else None
    if first in (b"[", b" ", b"="):
        return Format.TTY if TTY_SIGNAL.match(line) else None
    if first == b"{":
        try:
            return json_format(json.loads(line))
        except (ValueError, RecursionError):  # also UnicodeDecodeError
            return None
    return None
