"""Bench history: strict loading of `cacheprof/bench/v1` result files, and pure regression checks.

Only what the checks need is kept in memory (per benchmark and scenario: builds, ok builds, median wall
seconds, hit rate); the full profiles stay in the files.
"""

from __future__ import annotations

import json
import statistics
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


# --- checks ------------------------------------------------------------------------------------


def check_regressions(history: list[BenchResult], current: BenchResult, *, ratio: float = 0.10,
                      min_seconds: float = 0.5, window: int = 5, hit_drop: float = 0.05) -> list[str]:
    """Compare each (benchmark, scenario) of `current` with the same one in the last `window` earlier
    results of the same machine and builder. Slower counts only beyond both `ratio` and `min_seconds`,
    so noise on a short build and a small relative change on a long one are both ignored."""
    earlier = [
        h for h in history
        if h.id != current.id and h.created < current.created and h.machine_key == current.machine_key
    ]
    messages: list[str] = []
    for name, bench in current.benchmarks.items():
        for scenario, now in bench.scenarios.items():
            past = [
                h.benchmarks[name].scenarios[scenario] for h in earlier
                if name in h.benchmarks and h.benchmarks[name].builder == bench.builder
                and scenario in h.benchmarks[name].scenarios
            ][-window:] if window > 0 else []
            if not past:
                continue
            where = f"{name} {scenario}"
            if past[-1].all_ok and not now.all_ok:
                messages.append(f"{where}: now fails ({now.ok} of {now.builds} builds ok), built ok before")
                continue
            times = [p.median_s for p in past if p.all_ok and p.median_s is not None]
            if now.all_ok and now.median_s is not None and times:
                old = statistics.median(times)
                if now.median_s - old > min_seconds and now.median_s > old * (1 + ratio):
                    pct = (now.median_s / old - 1) * 100 if old > 0 else float("inf")
                    messages.append(
                        f"{where}: slower, median {now.median_s:.2f} s, was {old:.2f} s "
                        f"(median of {len(times)} earlier runs), +{pct:.0f}%"
                    )
            rates = [p.hit_rate for p in past if p.hit_rate is not None]
            if now.hit_rate is not None and rates:
                old_rate = statistics.median(rates)
                if old_rate - now.hit_rate > hit_drop:
                    messages.append(f"{where}: cache hit rate dropped to {now.hit_rate:.0%}, was {old_rate:.0%}")
    return messages


def comparable_runs(history: list[BenchResult], current: BenchResult) -> int:
    """How many earlier results of the same machine there are (0: a first run)."""
    return sum(h.id != current.id and h.created < current.created and h.machine_key == current.machine_key
               for h in history)
