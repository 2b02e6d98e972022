"""`cacheprof bench`: a suite file of benchmarks, run with the profile session, saved as one versioned
result file (`cacheprof/bench/v1`) in a history folder that nightly runs accumulate."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import subprocess
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Builder, Profile
from .profile_json import profile_to_dict, scenario_summary

BENCH_SCHEMA = "cacheprof/bench/v1"

_KEYS = {"name", "context", "dockerfile", "scenarios", "repeat", "builder"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Benchmark:
    name: str
    context: Path
    dockerfile: Path | None
    scenarios: tuple[str, ...]
    repeat: int
    builder: Builder


def load_suite(path: Path) -> list[Benchmark]:
    """Read SUITE.toml strictly: a typo in a key would otherwise silently measure something else."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"suite file not found: {path}") from None
    except OSError as e:
        raise UsageError(f"cannot read the suite file {path}: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None
    extra = sorted(set(data) - {"benchmark"})
    if extra:
        raise UsageError(f"{path}: unknown top-level key {extra[0]!r}; a suite holds [[benchmark]] tables")
    tables = data.get("benchmark")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"{path}: no [[benchmark]] table; each needs at least name and context")
    base = path.resolve().parent
    out: list[Benchmark] = []
    for i, t in enumerate(tables, 1):
        where = f"{path}: benchmark {i}"
        unknown = sorted(set(t) - _KEYS)
        if unknown:
            raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
        for key in ("name", "context"):
            if not isinstance(t.get(key), str) or not t[key]:
                raise UsageError(f"{where}: {key!r} is missing or not a string")
        name = t["name"]
        where = f"{path}: benchmark {name!r}"
        # The name becomes a folder under reports/: keep it a plain file name.
        if not _NAME.match(name):
            raise UsageError(f"{where}: name may hold only letters, digits, '.', '_' and '-'")
        if any(b.name == name for b in out):
            raise UsageError(f"{where}: the name is used twice")
        dockerfile = t.get("dockerfile")
        if dockerfile is not None and not isinstance(dockerfile, str):
            raise UsageError(f"{where}: 'dockerfile' should be a string")
        scenarios = t.get("scenarios", [])
        if not isinstance(scenarios, list) or not all(isinstance(s, str) for s in scenarios):
            raise UsageError(f"{where}: 'scenarios' should be a list of strings")
        repeat = t.get("repeat", 3)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 100:
            raise UsageError(f"{where}: 'repeat' should be an integer from 1 to 100")
        try:
            builder = Builder(t.get("builder", "buildkit"))
        except ValueError:
            raise UsageError(f"{where}: 'builder' should be buildkit or classic") from None
        out.append(Benchmark(
            name=name, context=base / t["context"], dockerfile=base / dockerfile if dockerfile else None,
            scenarios=tuple(scenarios), repeat=repeat, builder=builder,
        ))
    return out


def git_commit(folder: Path) -> str | None:
    """The commit the suite was measured at, so a regression can be bisected; None outside a repo."""
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    return r.stdout.strip() or None


def new_run_id() -> tuple[str, str, str]:
    """(created ISO with microseconds, file stamp, short id): the stamp sorts by time, the id keeps two
    runs in the same second apart."""
    now = dt.datetime.now(dt.UTC)
    return now.isoformat(timespec="microseconds"), now.strftime("%Y%m%dT%H%M%SZ"), secrets.token_hex(3)


def result_dict(*, run_id: str, created: str, suite: Path, machine: dict[str, str], engine: Any,
                profiles: dict[str, Profile]) -> dict[str, Any]:
    return {
        "schema": BENCH_SCHEMA,
        "id": run_id,
        "created": created,
        "suite": str(suite.resolve()),
        "commit": git_commit(suite.resolve().parent),
        "machine": machine,
        "engine": asdict(engine) if engine is not None else None,
        "benchmarks": [
            {"name": name, "builder": p.builder, "summary": scenario_summary(p), "profile": profile_to_dict(p)}
            for name, p in profiles.items()
        ],
    }


def write_result(history: Path, stamp: str, data: dict[str, Any]) -> Path:
    path = history / f"{stamp}-{data['id']}.json"
    try:
        history.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n")
    except OSError as e:
        raise UsageError(f"cannot write the result file {path}: {e.strerror}; pass a writable --history") from None
    return path
