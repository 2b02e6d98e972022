"""Run documents (`cacheprof/bench/v1`) <-> history records: the result file a bench run keeps beside a
history it could not write, the JSON history folders of earlier versions (`history import`), and
`history export --json`. Fields are only ever added to v1 (uid, tool_version, commit_dirty, load_avg, and
per benchmark engine_name, engine_url, error), so older readers still read what newer ones write."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, UsageError
from .history_db import ResultRecord, RunRecord
from .profile_json import profile_from_dict, profile_to_dict

BENCH_SCHEMA = "cacheprof/bench/v1"
DEFAULT_ENGINE = "default"


def run_uid(created_utc: str, short_id: str) -> str:
    """`<UTC stamp>-<id>`: sorts by time like the result file names, and two runs in one second differ."""
    try:
        stamp = dt.datetime.fromisoformat(created_utc).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    except ValueError:
        stamp = "unknown"
    return f"{stamp}-{short_id}"


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    _stamp, _, short = run.uid.partition("-")
    engines = {r.engine_name: r.profile.engine for r in run.results if r.profile.engine is not None}
    only = next(iter(engines.values())) if len(engines) == 1 else None
    return {
        "schema": BENCH_SCHEMA,
        "id": short or run.uid,
        "uid": run.uid,
        "created": run.created_utc,
        "tool_version": run.tool_version,
        "suite": run.suite,
        "commit": run.suite_commit,
        "commit_dirty": run.suite_dirty,
        "machine": dict(run.machine),
        "load_avg": list(run.load_avg) if run.load_avg is not None else None,
        # v1 readers expect one engine here; with several, each benchmark names its own.
        "engine": asdict(only) if only is not None else None,
        "benchmarks": [
            {"name": r.benchmark, "builder": r.builder, "engine_name": r.engine_name, "engine_url": r.engine_url,
             "error": r.error, "summary": _summary(r), "profile": profile_to_dict(r.profile)}
            for r in run.results
        ],
    }


def _summary(r: ResultRecord) -> dict[str, Any]:
    from .profile_json import scenario_summary

    return scenario_summary(r.profile)


def _req(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise InputFormatError(f"{where}: field '{key}' is missing; is this a cacheprof bench result?")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InputFormatError(f"{where}: field '{key}' has the wrong type")
    return value


def _opt(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InputFormatError(f"{where}: field '{key}' has the wrong type")
    return value


def run_from_dict(data: Any, where: str, *, source: str = "import") -> RunRecord:
    if not isinstance(data, Mapping):
        raise InputFormatError(f"{where}: not a JSON object; is this a cacheprof bench result?")
    schema = _req(data, "schema", str, where)
    if schema != BENCH_SCHEMA:
        raise InputFormatError(f"{where}: schema is {schema!r}, this cacheprof reads {BENCH_SCHEMA!r}")
    created = _req(data, "created", str, where)
    short = _req(data, "id", str, where)
    machine = _req(data, "machine", dict, where)
    top_engine = _opt(data, "engine", dict, where) or {}
    load = _opt(data, "load_avg", list, where)
    out: list[ResultRecord] = []
    for i, b in enumerate(_req(data, "benchmarks", list, where)):
        bw = f"{where}: benchmarks[{i}]"
        if not isinstance(b, Mapping):
            raise InputFormatError(f"{bw}: not an object")
        profile = profile_from_dict(_req(b, "profile", dict, bw), f"{bw}.profile")
        out.append(ResultRecord(
            benchmark=_req(b, "name", str, bw), engine_name=_opt(b, "engine_name", str, bw) or DEFAULT_ENGINE,
            builder=_req(b, "builder", str, bw), profile=profile,
            engine_url=_opt(b, "engine_url", str, bw) or str(top_engine.get("host", "")),
            error=_opt(b, "error", str, bw),
        ))
    return RunRecord(
        uid=_opt(data, "uid", str, where) or run_uid(created, short), created_utc=created,
        tool_version=_opt(data, "tool_version", str, where) or "", suite=_opt(data, "suite", str, where) or "",
        suite_commit=_opt(data, "commit", str, where), suite_dirty=_opt(data, "commit_dirty", bool, where),
        machine={str(k): str(v) for k, v in machine.items()},
        load_avg=tuple(float(x) for x in load) if load else None,  # type: ignore[arg-type]
        results=tuple(out), source=source,
    )


def read_run_file(path: Path) -> RunRecord:
    from .safe_json import parse, read_text

    try:
        text = read_text(path, "history file")
    except UsageError as e:
        raise InputFormatError(e.message) from None
    return run_from_dict(parse(text, f"history file {path}"), f"history file {path}")


def write_run_file(path: Path, run: RunRecord) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run_to_dict(run), indent=1) + "\n")
    return path
