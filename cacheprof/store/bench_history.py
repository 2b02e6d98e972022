"""Bench history: strict loading of `cacheprof/bench/v1` result files (the checks are in analysis/regressions).

Only what the checks need is kept in memory (per benchmark and scenario: builds, ok builds, median wall
seconds, hit rate); the full profiles stay in the files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFormatError
from .bench_results import BENCH_SCHEMA
from .profile_json import profile_from_dict


@dataclass(frozen=True)
class ScenarioResult:
    builds: int
    ok: int
    median_s: float | None
    hit_rate: float | None

    @property
    def all_ok(self) -> bool:
        return self.builds > 0 and self.ok == self.builds


@dataclass(frozen=True)
class BenchmarkResult:
    builder: str
    scenarios: dict[str, ScenarioResult]


@dataclass(frozen=True)
class BenchResult:
    id: str
    created: str
    machine: dict[str, str]
    benchmarks: dict[str, BenchmarkResult] = field(default_factory=dict)
    path: str = ""

    @property
    def machine_key(self) -> tuple[str, str]:
        # Timings are comparable only on the same hardware.
        return (self.machine.get("hostname", ""), self.machine.get("cpus", ""))


# --- loading -----------------------------------------------------------------------------------


def _get(obj: Any, key: str, kinds: tuple[type, ...], where: str, path: str, *, optional: bool = False) -> Any:
    full = f"{path}.{key}" if path else key
    if not isinstance(obj, Mapping):
        raise InputFormatError(f"{where}: field '{path or '(top)'}' is not an object")
    if key not in obj:
        raise InputFormatError(f"{where}: field '{full}' is missing")
    value = obj[key]
    if value is None and optional:
        return None
    # bool is an int in Python; keep them apart.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InputFormatError(f"{where}: field '{full}' should be {kinds[0].__name__}, not {value!r:.40}")
    return value


_NUM = (float, int)


def result_from_dict(data: Any, where: str) -> BenchResult:
    if not isinstance(data, Mapping):
        raise InputFormatError(f"{where}: not a JSON object; is this a cacheprof bench result?")
    schema = _get(data, "schema", (str,), where, "")
    if schema != BENCH_SCHEMA:
        raise InputFormatError(f"{where}: schema is {schema!r}, this cacheprof reads {BENCH_SCHEMA!r}")
    machine = _get(data, "machine", (dict,), where, "")
    for key in ("hostname", "cpus"):
        _get(machine, key, (str,), where, "machine")
    benchmarks: dict[str, BenchmarkResult] = {}
    for i, b in enumerate(_get(data, "benchmarks", (list,), where, "")):
        p = f"benchmarks[{i}]"
        name = _get(b, "name", (str,), where, p)
        scenarios: dict[str, ScenarioResult] = {}
        for scenario, s in _get(b, "summary", (dict,), where, p).items():
            sp = f"{p}.summary.{scenario}"
            scenarios[scenario] = ScenarioResult(
                builds=_get(s, "builds", (int,), where, sp),
                ok=_get(s, "ok", (int,), where, sp),
                median_s=_get(s, "median_total_s", _NUM, where, sp, optional=True),
                hit_rate=_get(s, "hit_rate", _NUM, where, sp, optional=True),
            )
        # The profile is checked too: a history file is also the record a report is rendered from.
        profile_from_dict(_get(b, "profile", (dict,), where, p), f"{where}: {p}.profile")
        benchmarks[name] = BenchmarkResult(builder=_get(b, "builder", (str,), where, p), scenarios=scenarios)
    return BenchResult(
        id=_get(data, "id", (str,), where, ""),
        created=_get(data, "created", (str,), where, ""),
        machine={str(k): str(v) for k, v in machine.items()},
        benchmarks=benchmarks,
        path=where,
    )


def load_result(path: Path) -> BenchResult:
    try:
        text = path.read_text()
    except OSError as e:
        raise InputFormatError(f"history file {path}: cannot read it ({e.strerror})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        what = f"{e.msg} at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else "not UTF-8"
        raise InputFormatError(
            f"history file {path}: not valid JSON ({what}); it may be truncated: fix or remove it"
        ) from None
    return result_from_dict(data, f"history file {path}")


def load_history(folder: Path) -> list[BenchResult]:
    """Every *.json directly in `folder` (reports/ below it is not history), oldest first."""
    if not folder.is_dir():
        return []
    results = [load_result(p) for p in sorted(folder.glob("*.json")) if p.is_file()]
    return sorted(results, key=lambda r: (r.created, r.path))
