"""The one way cacheprof parses a JSON document it did not just make: strict UTF-8, finite numbers in range,
bounded depth, strings that can be written back out. What is wrong is said in one line with the field path,
as an InputFormatError; every versioned reader (profile, history, recordings) parses through here and then
checks its own fields' types.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, UsageError

MAX_DEPTH = 64
# Beyond 2**53 an integer is no count, size or time any cacheprof document holds (and JavaScript, which
# reads the reports, could not hold it exactly).
MAX_INT = 2**53
# A lone surrogate is only allowed where Python itself puts one: an undecodable byte of a file name
# (surrogateescape, U+DC80..U+DCFF), which is written back out as that byte.
_BAD_SURROGATE = re.compile("[\ud800-\udbff\udc00-\udc7f\udd00-\udfff]")


class _Bad(ValueError):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_INT:
        raise _Bad(f"holds the integer {text[:20]}{'...' if len(text) > 20 else ''}, out of range")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > 1e15:
        raise _Bad(f"holds the number {text[:20]}, out of range")
    return value


def _constant(text: str) -> float:
    raise _Bad(f"holds {text}, which is no number")


def read_text(path: Path, what: str) -> str:
    """A file's text, strictly UTF-8: one line when it cannot be read or is not text."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot read it ({e.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputFormatError(f"{what} {path}: not UTF-8 text (line {line}, byte {e.start})") from None


def parse(text: str, where: str) -> Any:
    """Parse and check a JSON document; `where` starts every error line."""
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Bad as e:
        raise InputFormatError(f"{where}: {e.what}") from None
    except json.JSONDecodeError as e:
        raise InputFormatError(f"{where}: not valid JSON ({e.msg} at line {e.lineno}); it may be truncated") from None
    except RecursionError:
        raise InputFormatError(f"{where}: nested too deeply to be a cacheprof document") from None
    check(data, where)
    return data


def check(data: Any, where: str) -> None:
    """Depth and strings of an already parsed document (iteratively: a deep one must not blow the stack)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputFormatError(f"{where}: field '{path}' is nested more than {MAX_DEPTH} deep")
        if isinstance(value, str):
            if _BAD_SURROGATE.search(value):
                raise InputFormatError(f"{where}: field '{path or '.'}' holds a lone surrogate, no valid text")
        elif isinstance(value, dict):
            for k, v in value.items():
                if _BAD_SURROGATE.search(k):
                    raise InputFormatError(f"{where}: a key of '{path or '.'}' holds a lone surrogate")
                stack.append((v, f"{path}.{k}" if path else k, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
