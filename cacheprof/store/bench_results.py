"""`cacheprof bench` suites: SUITE.toml's [[benchmark]] and [[engine]] tables, read strictly, and the
identity of a run (UTC time, id, the suite's git commit and whether the tree was dirty)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFormatError, UsageError
from ..model import Builder

_KEYS = {"name", "context", "dockerfile", "scenarios", "repeat", "builder", "engine", "build_args", "volatile_args"}
_ENGINE_KEYS = {"name", "url", "tls_cert_path"}
_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL = re.compile(r"^(unix|tcp|ssh|npipe|http|https)://")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Benchmark:
    name: str
    context: Path
    dockerfile: Path | None
    scenarios: tuple[str, ...]
    repeat: int
    builder: Builder
    engine: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    volatile_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineEntry:
    name: str
    url: str
    tls_cert_path: Path | None = None


@dataclass(frozen=True)
class Suite:
    path: Path
    benchmarks: tuple[Benchmark, ...]
    engines: tuple[EngineEntry, ...] = ()


def _engines(path: Path, tables: object) -> tuple[EngineEntry, ...]:
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"{path}: 'engine' should be [[engine]] tables, each with name and url")
    out: list[EngineEntry] = []
    for i, t in enumerate(tables, 1):
        where = f"{path}: engine {i}"
        if not isinstance(t, dict):
            raise UsageError(f"{where}: should be an [[engine]] table")
        unknown = sorted(set(t) - _ENGINE_KEYS)
        if unknown:
            raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: name, url, tls_cert_path)")
        for key in ("name", "url"):
            if not isinstance(t.get(key), str) or not t[key]:
                raise UsageError(f"{where}: {key!r} is missing or not a string")
        if not _NAME.match(t["name"]):
            raise UsageError(f"{where}: name may hold only letters, digits, '.', '_' and '-'")
        if not _URL.match(t["url"]):
            raise UsageError(f"{where}: url {t['url']!r} should be a DOCKER_HOST-style address "
                             "(unix://, tcp://, ssh://)")
        if any(e.name == t["name"] for e in out):
            raise UsageError(f"{where}: the name {t['name']!r} is used twice")
        cert = t.get("tls_cert_path")
        if cert is not None:
            cert_dir = path.resolve().parent / str(cert)
            missing = [f for f in ("ca.pem", "cert.pem", "key.pem") if not (cert_dir / f).is_file()]
            if not isinstance(cert, str) or not t["url"].startswith("tcp://") or missing:
                raise UsageError(f"{where}: 'tls_cert_path' should be a folder with ca.pem, cert.pem and key.pem, "
                                 f"for a tcp:// url" + (f" (missing {missing[0]})" if missing else ""))
        out.append(EngineEntry(t["name"], t["url"], cert_dir if cert is not None else None))
    return tuple(out)


def load_suite(path: Path) -> list[Benchmark]:
    return list(read_suite(path).benchmarks)


def read_suite(path: Path) -> Suite:
    """Read SUITE.toml strictly: a typo in a key would otherwise silently measure something else."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"suite file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise InputFormatError(f"the suite file {path} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UsageError(f"cannot read the suite file {path}: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None
    extra = sorted(set(data) - {"benchmark", "engine"})
    if extra:
        raise UsageError(f"{path}: unknown top-level key {extra[0]!r}; a suite holds [[benchmark]] and "
                         "[[engine]] tables")
    engines = _engines(path, data["engine"]) if "engine" in data else ()
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
        engine = t.get("engine")
        if engine is not None and (not isinstance(engine, str) or engine not in {e.name for e in engines}):
            known = ", ".join(e.name for e in engines) or "none: add [[engine]] tables"
            raise UsageError(f"{where}: 'engine' {engine!r} is not an [[engine]] of this suite ({known})")
        build_args = t.get("build_args", {})
        if not isinstance(build_args, dict) or not all(
                isinstance(k, str) and _ARG.match(k) and isinstance(v, str) for k, v in build_args.items()):
            raise UsageError(f"{where}: 'build_args' should be a table of NAME = \"value\" strings")
        volatile = t.get("volatile_args", [])
        if not isinstance(volatile, list) or not all(isinstance(v, str) and _ARG.match(v) for v in volatile):
            raise UsageError(f"{where}: 'volatile_args' should be a list of build arg names")
        out.append(Benchmark(
            name=name, context=base / t["context"], dockerfile=base / dockerfile if dockerfile else None,
            scenarios=tuple(scenarios), repeat=repeat, builder=builder, engine=engine,
            build_args=tuple(sorted(build_args.items())), volatile_args=tuple(volatile),
        ))
    return Suite(path=path, benchmarks=tuple(out), engines=engines)


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit(folder: Path) -> str | None:
    """The commit the suite was measured at, so a regression can be bisected; None outside a repo."""
    r = _git(folder, "rev-parse", "HEAD")
    if r is None or r.returncode != 0:
        return None
    return r.stdout.strip() or None


def git_dirty(folder: Path) -> bool | None:
    """Whether the work tree had uncommitted changes, new files not ignored included (a build context
    copies them too): then the commit alone does not say what ran."""
    r = _git(folder, "status", "--porcelain")
    if r is None or r.returncode != 0:
        return None
    return bool(r.stdout.strip())


def new_run_id() -> tuple[str, str]:
    """(created ISO UTC with microseconds, uid): the uid starts with the UTC stamp, so it sorts by time,
    and ends in random hex, so two runs in the same second stay apart."""
    now = dt.datetime.now(dt.UTC)
    return now.isoformat(timespec="microseconds"), f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
