"""Hand-built bench runs for the history and regression tests (no engine involved)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from cacheprof.model import Build, EngineInfo, InternalVertex, Profile, Step, StepInputs, StepStatus
from cacheprof.store.history_db import ResultRecord, RunRecord

MACHINE = {"hostname": "vm", "cpus": "2", "machine": "x86_64", "platform": "Linux-6", "python": "3.11.7"}
DOCKERFILE = ("FROM busybox:1.36", "WORKDIR /app", "COPY deps.txt .", "RUN install deps", "COPY . .",
              "RUN build app")


def steps_for(statuses: str, *, instructions: tuple[str, ...] = DOCKERFILE, dur_run_s: float = 1.0) -> tuple[Step, ...]:
    """One step per instruction; statuses is a string of C (CACHED) / R (RUN) / E (ERROR) per step."""
    out = []
    for i, (ins, st) in enumerate(zip(instructions, statuses, strict=True), 1):
        status = {"C": StepStatus.CACHED, "R": StepStatus.RUN, "E": StepStatus.ERROR}[st]
        out.append(Step(index=i, stage="0", position=i, line=i, instruction=ins, status=status,
                        started=1000.0 + i, finished=1000.0 + i + (dur_run_s if st == "R" else 0.0),
                        duration_s=dur_run_s if st == "R" else 0.0, error="boom" if st == "E" else None,
                        size_bytes=1024 * i, log_tail=("make: *** [all] Error 1",) if st == "E" else ()))
    return tuple(out)


def build(scenario: str, repeat: int, duration_s: float, statuses: str, *, ok: bool = True,
          instructions: tuple[str, ...] = DOCKERFILE) -> Build:
    return Build(scenario=scenario, repeat=repeat, ok=ok, error=None if ok else "RUN failed", duration_s=duration_s,
                 image_id="sha256:" + "ab" * 32 if ok else None, steps=steps_for(statuses, instructions=instructions),
                 internal=(InternalVertex(name="[internal] load build context", cached=False, started=999.0,
                                          finished=999.5, duration_s=0.5),),
                 started=999.0, complete=True, transfer_s=0.25, image_size_bytes=4_400_000 if ok else None,
                 layer_ids=("sha256:" + "01" * 32, "sha256:" + "02" * 32) if ok else (),
                 inputs=(StepInputs(stage="0", position=3, line=3, instruction="COPY deps.txt .",
                                    files_digest="sha256:" + "0f" * 32, sources=("deps.txt",), file_count=1,
                                    args={"A": "1", "B": None}, env={"PATH": "/bin"}, parent=("0", 2)),),
                 files={"deps.txt": "sha256:" + "0e" * 32})


def profile(builds: tuple[Build, ...], *, engine_version: str = "26.1.0", builder: str = "buildkit") -> Profile:
    return Profile(builder=builder, dockerfile="/s/app/Dockerfile", context="/s/app", builds=builds,
                   engine=EngineInfo(version=engine_version, api_version="1.45", os="linux", arch="amd64",
                                     host="unix:///var/run/docker.sock"),
                   build_args={"A": "1"}, scenarios=tuple(dict.fromkeys(b.scenario for b in builds)),
                   created="2026-01-01T00:00:00+00:00", machine=dict(MACHINE), warmups=1)


def run(n: int, results: tuple[ResultRecord, ...], *, machine: dict[str, str] | None = None,
        commit: str | None = None) -> RunRecord:
    return RunRecord(uid=f"202601{n:02d}T000000Z-r{n:04d}", created_utc=f"2026-01-{n:02d}T00:00:00.000000+00:00",
                     tool_version="0.1.0", suite="/s/suite.toml", suite_commit=commit or f"c{n:07d}",
                     suite_dirty=False, machine=dict(machine or MACHINE), load_avg=(0.5, 0.4, 0.3), results=results)


def result(p: Profile, *, benchmark: str = "app", engine: str = "default", error: str | None = None) -> ResultRecord:
    return ResultRecord(benchmark=benchmark, engine_name=engine, builder=p.builder, profile=p,
                        engine_url="unix:///var/run/docker.sock", error=error)


def simple_run(n: int, *, warm_s: float = 0.5, warm_statuses: str = "CCCCCC", **kw) -> RunRecord:
    """Run n: cold twice (everything RUN, ~5 s) and warm twice."""
    p = profile((build("cold", 1, 5.0, "CRRRRR"), build("warm", 1, warm_s, warm_statuses),
                 build("cold", 2, 5.1, "CRRRRR"), build("warm", 2, warm_s, warm_statuses)))
    return run(n, (result(p),), **kw)


# --- where the tests keep their history ----------------------------------------------------------

DATABASE_ENV = "CACHEPROF_TEST_DATABASE_URL"


def _require_database() -> bool:
    return os.environ.get("CACHEPROF_REQUIRE_DATABASE") == "1"


def postgres_url() -> str:
    """The throwaway server's URL (scripts/postgres-up); fails instead of skipping when CI requires it."""
    url = os.environ.get(DATABASE_ENV)
    if not url:
        if _require_database():
            pytest.fail(f"CACHEPROF_REQUIRE_DATABASE=1 but {DATABASE_ENV} is not set (see scripts/postgres-up)")
        pytest.skip(f"no PostgreSQL for the tests: set {DATABASE_ENV} (scripts/postgres-up prints it)")
    return url


def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    import sqlalchemy as sa

    from cacheprof.store.history_db import parse_target

    url = postgres_url()
    t = parse_target(url)
    name = f"cp_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(t.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        if _require_database():
            pytest.fail(f"the test PostgreSQL at {t.display} does not answer: {e}")
        pytest.skip(f"the test PostgreSQL at {t.display} does not answer: {e}")
    try:
        yield t.url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
