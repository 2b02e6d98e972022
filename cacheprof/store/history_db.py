"""The bench history database: one schema, versioned migrations, SQLite (default) or PostgreSQL.

Both stores go through SQLAlchemy Core, so there is one code path. SQLite runs in WAL mode with a busy
timeout and takes its write lock at BEGIN (IMMEDIATE), so two bench processes on one file queue up instead
of failing. A file that is not a cacheprof history (corrupt, or another program's SQLite database) is
refused with one line and never written to; an unreachable PostgreSQL server is exit 3.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import HistoryUnreachableError, InputFormatError
from ..model import PROFILE_SCHEMA, Build, EngineInfo, InternalVertex, Profile, Step, StepStatus
from .profile_json import inputs_to_dict, profile_from_dict

APPLICATION = "cacheprof-history"
BUSY_TIMEOUT_S = 60.0
_SQLITE_MAGIC = b"SQLite format 3\x00"


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRecord:
    """One benchmark measured on one engine in one run. `error` says why it has no (or partial) builds,
    e.g. its engine was unreachable or died."""

    benchmark: str
    engine_name: str
    builder: str
    profile: Profile
    engine_url: str = ""
    error: str | None = None


@dataclass(frozen=True)
class RunRecord:
    uid: str
    created_utc: str
    tool_version: str
    suite: str
    suite_commit: str | None
    suite_dirty: bool | None
    machine: dict[str, str]
    load_avg: tuple[float, float, float] | None
    results: tuple[ResultRecord, ...] = ()
    source: str = "bench"


@dataclass(frozen=True)
class RunSummary:
    uid: str
    created_utc: str
    suite_commit: str | None
    suite_dirty: bool | None
    hostname: str
    benchmarks: int
    builds: int
    failed_builds: int
    source: str


@dataclass(frozen=True)
class ResultMeta:
    """What decides whether two results are comparable, without their builds."""

    result_id: int
    run_uid: str
    created_utc: str
    suite_commit: str | None
    benchmark: str
    engine_name: str
    machine_key: str
    engine_version: str
    builder: str
    error: str | None


@dataclass(frozen=True)
class BuildRow:
    result_id: int
    build_id: int
    scenario: str
    ok: bool
    duration_s: float | None


@dataclass(frozen=True)
class StepRow:
    build_id: int
    stage: str
    position: int
    line: int | None
    instruction: str
    status: str
    duration_s: float | None


def machine_key(machine: dict[str, str]) -> str:
    """Timings are comparable on the same host with the same CPUs and architecture (a kernel or Python
    update does not start a new baseline)."""
    return "/".join(machine.get(k, "") for k in ("hostname", "cpus", "machine"))


# --- schema ------------------------------------------------------------------------------------

metadata = sa.MetaData()

schema_versions = sa.Table(
    "cacheprof_schema", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("application", sa.String(64), nullable=False),
    sa.Column("applied_utc", sa.String(40), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uid", sa.String(80), nullable=False, unique=True),
    sa.Column("created_utc", sa.String(40), nullable=False, index=True),
    sa.Column("tool_version", sa.String(40), nullable=False),
    sa.Column("suite", sa.Text, nullable=False),
    sa.Column("suite_commit", sa.String(64)),
    sa.Column("suite_dirty", sa.Boolean),
    sa.Column("hostname", sa.Text, nullable=False),
    sa.Column("machine_key", sa.Text, nullable=False),
    sa.Column("machine_json", sa.Text, nullable=False),
    sa.Column("load_1m", sa.Float),
    sa.Column("load_5m", sa.Float),
    sa.Column("load_15m", sa.Float),
    sa.Column("source", sa.String(16), nullable=False),
)

results = sa.Table(
    "results", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("benchmark", sa.Text, nullable=False),
    sa.Column("engine_name", sa.Text, nullable=False),
    sa.Column("engine_url", sa.Text, nullable=False),
    sa.Column("engine_version", sa.String(64), nullable=False),
    sa.Column("engine_api_version", sa.String(32), nullable=False),
    sa.Column("engine_os", sa.String(32), nullable=False),
    sa.Column("engine_arch", sa.String(32), nullable=False),
    sa.Column("engine_host", sa.Text, nullable=False),
    sa.Column("builder", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("dockerfile", sa.Text, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("target", sa.Text),
    sa.Column("build_args_json", sa.Text, nullable=False),
    sa.Column("scenarios_json", sa.Text, nullable=False),
    sa.Column("profile_created", sa.String(40), nullable=False),
    sa.Column("profile_machine_json", sa.Text, nullable=False),
    sa.Column("profile_source", sa.String(16), nullable=False),
    # v2
    sa.Column("warmups", sa.Integer, nullable=False, server_default="0"),
    sa.Column("profile_schema", sa.String(40)),
    sa.Index("ix_results_benchmark_engine", "benchmark", "engine_name"),
)

builds = sa.Table(
    "builds", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("result_id", sa.Integer, sa.ForeignKey("results.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("scenario", sa.Text, nullable=False),
    sa.Column("repeat", sa.Integer, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("duration_s", sa.Float),
    sa.Column("image_id", sa.Text),
    sa.Column("started", sa.Float),
    sa.Column("complete", sa.Boolean, nullable=False),
    # v2
    sa.Column("transfer_s", sa.Float),
    sa.Column("image_size_bytes", sa.BigInteger),
    sa.Column("layer_ids_json", sa.Text),
    # what each instruction read and the digests of the context files they read (profile v2), as JSON
    sa.Column("inputs_json", sa.Text),
)

steps = sa.Table(
    "steps", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("build_id", sa.Integer, sa.ForeignKey("builds.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("instruction", sa.Text, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("error", sa.Text),
    # v2
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("log_tail_json", sa.Text),
)

vertices = sa.Table(
    "internal_vertices", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("build_id", sa.Integer, sa.ForeignKey("builds.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("error", sa.Text),
)

OUR_TABLES = frozenset(t.name for t in metadata.sorted_tables)


def _v1(conn: sa.Connection) -> None:
    # A new history gets the current tables at once; the later steps then find nothing to add. A history
    # made by an older cacheprof gets exactly the columns its version lacks.
    metadata.create_all(conn, tables=[runs, results, builds, steps, vertices])


def _add_missing(conn: sa.Connection, table: sa.Table, names: Sequence[str]) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name in have:
            continue
        col = table.c[name]
        ddl = col.type.compile(dialect=conn.dialect)
        default = f" DEFAULT {col.server_default.arg}" if col.server_default is not None else ""
        null = "" if col.nullable else " NOT NULL"
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl}{default}{null}"))


def _v2(conn: sa.Connection) -> None:
    _add_missing(conn, steps, ["size_bytes", "log_tail_json"])
    _add_missing(conn, builds, ["transfer_s", "image_size_bytes", "layer_ids_json", "inputs_json"])
    _add_missing(conn, results, ["warmups", "profile_schema"])


# (version, description, step). Appended to, never edited: a history written by version N is migrated
# by running the steps after N, each in the same transaction as its version row.
MIGRATIONS: tuple[tuple[int, str, Callable[[sa.Connection], None]], ...] = (
    (1, "runs, results, builds, steps, internal vertices", _v1),
    (2, "profile v2: step sizes and log tails, build transfer, image size, layers and inputs, warm-ups", _v2),
)
LATEST_VERSION = MIGRATIONS[-1][0]


# --- opening -----------------------------------------------------------------------------------


def _is_url(target: str) -> bool:
    return "://" in target


def _display(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _short(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _check_sqlite_file(path: Path) -> None:
    """Refuse, without writing a byte, a file that is not an empty file or a cacheprof history."""
    if not path.exists():
        return
    if path.is_dir():
        raise InputFormatError(f"history {path} is a folder; give a file (e.g. reports/history.sqlite) "
                               "or import the folder with `cacheprof history import`")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise InputFormatError(f"history {path}: cannot read it ({e.strerror})") from None
    if not head:
        return
    if head != _SQLITE_MAGIC:
        raise InputFormatError(f"history {path} is not a SQLite database (corrupt, or another kind of file); "
                               "it was left untouched")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if names and "cacheprof_schema" not in names:
                shown = ", ".join(sorted(names)[:4])
                raise InputFormatError(f"history {path} is a SQLite database of another program (tables: {shown}); "
                                       "cacheprof will not write to it")
            if names:
                app = con.execute("SELECT DISTINCT application FROM cacheprof_schema").fetchall()
                if [a for (a,) in app] not in ([APPLICATION], []):
                    raise InputFormatError(f"history {path} was not written by cacheprof; it was left untouched")
        finally:
            con.close()
    except sqlite3.OperationalError as e:  # not corrupt: e.g. WAL files it cannot make on a read-only mount
        raise InputFormatError(f"history {path}: cannot open it ({e}); it was left untouched") from None
    except sqlite3.DatabaseError as e:
        raise InputFormatError(f"history {path} is corrupt ({e}); it was left untouched") from None


class HistoryDB:
    """One open history. Every write is one transaction; every method maps driver errors to one line."""

    def __init__(self, engine: sa.Engine, where: str) -> None:
        self.engine = engine
        self.where = where
        self.is_sqlite = engine.dialect.name == "sqlite"

    # --- error mapping --------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.IntegrityError:
            raise  # a duplicate: the caller knows what it means
        except sa_exc.OperationalError as e:
            text = _short(e)
            if self.is_sqlite and "locked" in text:
                raise HistoryUnreachableError(f"history {self.where} stayed locked for {BUSY_TIMEOUT_S:.0f} s "
                                              "by another process") from None
            if self.is_sqlite and ("malformed" in text or "not a database" in text):
                raise InputFormatError(f"history {self.where} is corrupt ({text}); it was left untouched") from None
            if self.is_sqlite:
                raise InputFormatError(f"history {self.where}: {text}") from None
            raise HistoryUnreachableError(f"history database {self.where} does not answer ({text})") from None
        except sa_exc.DatabaseError as e:
            if self.is_sqlite:
                text = _short(e)
                raise InputFormatError(f"history {self.where} is corrupt ({text}); it was left untouched") from None
            raise InputFormatError(f"history database {self.where}: {_short(e)}") from None

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self._errors(), self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.begin() as conn:
            return _current_version(conn)

    def migrate(self, migrations: Sequence[tuple[int, str, Callable[[sa.Connection], None]]] = MIGRATIONS) -> int:
        """Bring the schema to the newest version. Concurrent openers are serialized (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: an advisory lock), and the version is read again under the lock."""
        latest = migrations[-1][0]
        with self.begin() as conn:
            if not self.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7261902)"))
            names = set(sa.inspect(conn).get_table_names())
            if "cacheprof_schema" not in names:
                clash = sorted(names & OUR_TABLES)
                if clash:
                    raise InputFormatError(f"history {self.where} holds tables named {', '.join(clash)} that "
                                           "cacheprof did not create; it was left untouched")
                schema_versions.create(conn)
                current = 0
            else:
                apps = {a for (a,) in conn.execute(sa.select(schema_versions.c.application).distinct())}
                if apps - {APPLICATION}:
                    raise InputFormatError(f"history {self.where} was not written by cacheprof; it was left untouched")
                current = _current_version(conn)
            if current > latest:
                raise InputFormatError(f"history {self.where} has schema version {current}; this cacheprof knows "
                                       f"up to {latest}: use a newer cacheprof")
            for version, description, step in migrations:
                if version <= current:
                    continue
                step(conn)
                conn.execute(schema_versions.insert().values(
                    version=version, application=APPLICATION, description=description,
                    applied_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ))
                current = version
        return current

    # --- writing --------------------------------------------------------------------------------

    def add_run(self, run: RunRecord) -> int:
        """Store a run with every build and step, in one transaction. Returns its row id."""
        try:
            with self.begin() as conn:
                return _insert_run(conn, run)
        except sa_exc.IntegrityError:
            raise InputFormatError(f"history {self.where} already holds run {run.uid}") from None

    def has_run(self, uid: str) -> bool:
        with self.begin() as conn:
            return conn.execute(sa.select(runs.c.id).where(runs.c.uid == uid)).first() is not None

    # --- reading --------------------------------------------------------------------------------

    def list_runs(self, limit: int | None = None) -> list[RunSummary]:
        b = builds
        counts = (
            sa.select(results.c.run_id, sa.func.count(sa.distinct(results.c.id)).label("benchmarks"),
                      sa.func.count(b.c.id).label("builds"),
                      sa.func.coalesce(sa.func.sum(sa.case((b.c.ok.is_(False), 1), else_=0)), 0).label("failed"))
            .select_from(results.outerjoin(b, b.c.result_id == results.c.id))
            .group_by(results.c.run_id).subquery()
        )
        q = (sa.select(runs.c.uid, runs.c.created_utc, runs.c.suite_commit, runs.c.suite_dirty, runs.c.hostname,
                       runs.c.source, counts.c.benchmarks, counts.c.builds, counts.c.failed)
             .select_from(runs.outerjoin(counts, counts.c.run_id == runs.c.id))
             .order_by(runs.c.created_utc.desc(), runs.c.id.desc()))
        if limit:
            q = q.limit(limit)
        with self.begin() as conn:
            rows = conn.execute(q).all()
        return [RunSummary(uid=r.uid, created_utc=r.created_utc, suite_commit=r.suite_commit,
                           suite_dirty=r.suite_dirty, hostname=r.hostname, benchmarks=r.benchmarks or 0,
                           builds=r.builds or 0, failed_builds=int(r.failed or 0), source=r.source)
                for r in reversed(rows)]

    def run_uids(self) -> list[str]:
        with self.begin() as conn:
            return [u for (u,) in conn.execute(
                sa.select(runs.c.uid).order_by(runs.c.created_utc, runs.c.id))]

    def load_run(self, uid: str) -> RunRecord:
        with self.begin() as conn:
            run = conn.execute(sa.select(runs).where(runs.c.uid == uid)).first()
            if run is None:
                # A prefix is enough when it is unambiguous, as with git commits.
                found = conn.execute(sa.select(runs).where(runs.c.uid.startswith(uid, autoescape=True))
                                     .limit(2)).all()
                if len(found) != 1:
                    what = "no run" if not found else "more than one run"
                    raise InputFormatError(
                        f"history {self.where}: {what} matches {uid!r}; see `cacheprof history list`")
                run = found[0]
            return _load_run(conn, run)

    def iter_runs(self) -> Iterator[RunRecord]:
        for uid in self.run_uids():
            yield self.load_run(uid)

    def result_metas(self, *, until_created: str | None = None) -> list[ResultMeta]:
        q = (sa.select(results.c.id, runs.c.uid, runs.c.created_utc, runs.c.suite_commit, results.c.benchmark,
                       results.c.engine_name, runs.c.machine_key, results.c.engine_version, results.c.builder,
                       results.c.error)
             .select_from(results.join(runs, runs.c.id == results.c.run_id))
             .order_by(runs.c.created_utc, runs.c.id, results.c.id))
        if until_created is not None:
            q = q.where(runs.c.created_utc <= until_created)
        with self.begin() as conn:
            return [ResultMeta(result_id=r[0], run_uid=r[1], created_utc=r[2], suite_commit=r[3], benchmark=r[4],
                               engine_name=r[5], machine_key=r[6], engine_version=r[7], builder=r[8], error=r[9])
                    for r in conn.execute(q)]

    def build_rows(self, result_ids: Iterable[int]) -> list[BuildRow]:
        ids = sorted(set(result_ids))
        out: list[BuildRow] = []
        with self.begin() as conn:
            for chunk in _chunks(ids):
                q = (sa.select(builds.c.result_id, builds.c.id, builds.c.scenario, builds.c.ok, builds.c.duration_s)
                     .where(builds.c.result_id.in_(chunk)).order_by(builds.c.result_id, builds.c.seq))
                out.extend(BuildRow(*r) for r in conn.execute(q))
        return out

    def step_rows(self, build_ids: Iterable[int], *, work_steps_only: bool = False) -> list[StepRow]:
        ids = sorted(set(build_ids))
        out: list[StepRow] = []
        word = sa.func.upper(sa.func.substr(steps.c.instruction, 1, 4))
        with self.begin() as conn:
            for chunk in _chunks(ids):
                q = (sa.select(steps.c.build_id, steps.c.stage, steps.c.position, steps.c.line, steps.c.instruction,
                               steps.c.status, steps.c.duration_s)
                     .where(steps.c.build_id.in_(chunk)).order_by(steps.c.build_id, steps.c.idx))
                if work_steps_only:
                    # RUN, COPY, ADD: the steps whose cache state means something (see analysis.regressions)
                    q = q.where(word.in_(["RUN ", "COPY", "ADD "]))
                out.extend(StepRow(*r) for r in conn.execute(q))
        return out

    def created_of(self, uid: str) -> str:
        with self.begin() as conn:
            created = conn.execute(sa.select(runs.c.created_utc).where(runs.c.uid == uid)).scalar()
        if created is None:
            raise InputFormatError(f"history {self.where}: no run {uid!r}")
        return created

    def series_rows(self, current_uid: str | None, depth: int, *, work_steps_only: bool = True
                    ) -> tuple[list[ResultMeta], list[BuildRow], list[StepRow]]:
        """What the checks and the trend read: for each benchmark-on-engine (of run `current_uid` only,
        when given), its last `depth` results up to that run, with their builds and the steps of those
        builds. Older runs are never loaded, so a check costs the same on a long history."""
        until = self.created_of(current_uid) if current_uid is not None else None
        metas = self.result_metas(until_created=until)
        groups: dict[tuple[str, str], list[ResultMeta]] = {}
        for m in metas:
            groups.setdefault((m.benchmark, m.engine_name), []).append(m)
        keep = [m for g in groups.values() if current_uid is None or g[-1].run_uid == current_uid
                for m in g[-depth:]]
        build_list = self.build_rows(m.result_id for m in keep)
        step_list = self.step_rows((b.build_id for b in build_list), work_steps_only=work_steps_only)
        return keep, build_list, step_list

    def latest_uid(self) -> str | None:
        with self.begin() as conn:
            return conn.execute(sa.select(runs.c.uid).order_by(runs.c.created_utc.desc(), runs.c.id.desc())
                                .limit(1)).scalar()

    def count_rows(self) -> dict[str, int]:
        with self.begin() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in (runs, results, builds, steps, vertices)}


def _chunks(ids: list[int], size: int = 900) -> Iterator[list[int]]:
    # SQLite caps bound parameters per statement; keep IN lists well under it.
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _current_version(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(schema_versions.c.version))).scalar() or 0


def _insert_run(conn: sa.Connection, run: RunRecord) -> int:
    load = run.load_avg or (None, None, None)
    run_id = conn.execute(runs.insert().values(
        uid=run.uid, created_utc=run.created_utc, tool_version=run.tool_version, suite=run.suite,
        suite_commit=run.suite_commit, suite_dirty=run.suite_dirty, hostname=run.machine.get("hostname", ""),
        machine_key=machine_key(run.machine), machine_json=json.dumps(run.machine, sort_keys=True),
        load_1m=load[0], load_5m=load[1], load_15m=load[2], source=run.source,
    )).inserted_primary_key[0]
    for r in run.results:
        p = r.profile
        e = p.engine or EngineInfo(version="", api_version="")
        result_id = conn.execute(results.insert().values(
            run_id=run_id, benchmark=r.benchmark, engine_name=r.engine_name, engine_url=r.engine_url,
            engine_version=e.version, engine_api_version=e.api_version, engine_os=e.os, engine_arch=e.arch,
            engine_host=e.host, builder=r.builder, error=r.error, dockerfile=p.dockerfile, context=p.context,
            target=p.target, build_args_json=json.dumps(p.build_args, sort_keys=True),
            scenarios_json=json.dumps(list(p.scenarios)), profile_created=p.created,
            profile_machine_json=json.dumps(p.machine, sort_keys=True), profile_source=p.source,
            warmups=p.warmups, profile_schema=p.schema,
        )).inserted_primary_key[0]
        for seq, b in enumerate(p.builds):
            build_id = conn.execute(builds.insert().values(
                result_id=result_id, seq=seq, scenario=b.scenario, repeat=b.repeat, ok=b.ok, error=b.error,
                duration_s=b.duration_s, image_id=b.image_id, started=b.started, complete=b.complete,
                transfer_s=b.transfer_s, image_size_bytes=b.image_size_bytes,
                layer_ids_json=json.dumps(list(b.layer_ids)) if b.layer_ids else None,
                inputs_json=json.dumps({"inputs": [inputs_to_dict(i) for i in b.inputs], "files": b.files})
                if b.inputs or b.files else None,
            )).inserted_primary_key[0]
            if b.steps:
                conn.execute(steps.insert(), [
                    {"build_id": build_id, "idx": s.index, "stage": s.stage, "position": s.position, "line": s.line,
                     "instruction": s.instruction, "status": s.status.value, "started": s.started,
                     "finished": s.finished, "duration_s": s.duration_s, "error": s.error,
                     "size_bytes": s.size_bytes, "log_tail_json": json.dumps(list(s.log_tail)) if s.log_tail else None}
                    for s in b.steps
                ])
            if b.internal:
                conn.execute(vertices.insert(), [
                    {"build_id": build_id, "seq": i, "name": v.name, "cached": v.cached, "started": v.started,
                     "finished": v.finished, "duration_s": v.duration_s, "error": v.error}
                    for i, v in enumerate(b.internal)
                ])
    return run_id


def _inputs(text: str | None) -> dict[str, Any]:
    """Build.inputs and Build.files from their JSON, read by the profile reader (one format, one parser)."""
    if not text:
        return {}
    doc = json.loads(text)
    one = {"schema": PROFILE_SCHEMA, "builder": "", "dockerfile": "", "context": "", "builds": [
        {"scenario": "", "repeat": 0, "ok": True, "steps": [], "inputs": doc["inputs"], "files": doc["files"]}]}
    b = profile_from_dict(one, "history inputs").builds[0]
    return {"inputs": b.inputs, "files": b.files}


def _load_run(conn: sa.Connection, run: Any) -> RunRecord:
    result_rows = conn.execute(sa.select(results).where(results.c.run_id == run.id).order_by(results.c.id)).all()
    out: list[ResultRecord] = []
    for r in result_rows:
        build_rows = conn.execute(sa.select(builds).where(builds.c.result_id == r.id).order_by(builds.c.seq)).all()
        ids = [b.id for b in build_rows]
        step_map: dict[int, list[Step]] = {i: [] for i in ids}
        vertex_map: dict[int, list[InternalVertex]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            for s in conn.execute(sa.select(steps).where(steps.c.build_id.in_(chunk))
                                  .order_by(steps.c.build_id, steps.c.id)):
                step_map[s.build_id].append(Step(
                    index=s.idx, stage=s.stage, position=s.position, line=s.line, instruction=s.instruction,
                    status=StepStatus(s.status), started=s.started, finished=s.finished, duration_s=s.duration_s,
                    error=s.error, size_bytes=s.size_bytes,
                    log_tail=tuple(json.loads(s.log_tail_json)) if s.log_tail_json else (),
                ))
            for v in conn.execute(sa.select(vertices).where(vertices.c.build_id.in_(chunk))
                                  .order_by(vertices.c.build_id, vertices.c.seq)):
                vertex_map[v.build_id].append(InternalVertex(
                    name=v.name, cached=v.cached, started=v.started, finished=v.finished, duration_s=v.duration_s,
                    error=v.error,
                ))
        profile = Profile(
            builder=r.builder, dockerfile=r.dockerfile, context=r.context,
            builds=tuple(Build(
                scenario=b.scenario, repeat=b.repeat, ok=b.ok, error=b.error, duration_s=b.duration_s,
                image_id=b.image_id, steps=tuple(step_map[b.id]), internal=tuple(vertex_map[b.id]),
                started=b.started, complete=b.complete, transfer_s=b.transfer_s, image_size_bytes=b.image_size_bytes,
                layer_ids=tuple(json.loads(b.layer_ids_json)) if b.layer_ids_json else (),
                **_inputs(b.inputs_json),
            ) for b in build_rows),
            engine=EngineInfo(version=r.engine_version, api_version=r.engine_api_version, os=r.engine_os,
                              arch=r.engine_arch, host=r.engine_host) if (r.engine_version or r.engine_host) else None,
            target=r.target, build_args=json.loads(r.build_args_json), scenarios=tuple(json.loads(r.scenarios_json)),
            created=r.profile_created, machine=json.loads(r.profile_machine_json), source=r.profile_source,
            warmups=r.warmups or 0, schema=r.profile_schema or PROFILE_SCHEMA,
        )
        out.append(ResultRecord(benchmark=r.benchmark, engine_name=r.engine_name, builder=r.builder, profile=profile,
                                engine_url=r.engine_url, error=r.error))
    loads = (run.load_1m, run.load_5m, run.load_15m)
    return RunRecord(
        uid=run.uid, created_utc=run.created_utc, tool_version=run.tool_version, suite=run.suite,
        suite_commit=run.suite_commit, suite_dirty=run.suite_dirty, machine=json.loads(run.machine_json),
        load_avg=None if loads[0] is None else loads, results=tuple(out), source=run.source,
    )


# --- the one way in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryTarget:
    """Where the history lives: a SQLite file path, or a database URL."""

    url: sa.URL
    display: str
    sqlite_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_target(target: str | Path) -> HistoryTarget:
    text = str(target)
    if not _is_url(text):
        path = Path(text)
        return HistoryTarget(url=sa.URL.create("sqlite+pysqlite", database=str(path)), display=str(path),
                             sqlite_path=path)
    try:
        url = sa.make_url(text)
    except sa_exc.ArgumentError:
        raise InputFormatError(f"--history {text!r}: not a database URL (postgresql://user@host/db) "
                               "nor a file path") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database or "")
        if not url.database:
            raise InputFormatError("--history sqlite:// needs a file path, e.g. sqlite:///reports/history.sqlite")
        return HistoryTarget(url=url.set(drivername="sqlite+pysqlite"), display=str(path), sqlite_path=path)
    if backend in ("postgresql", "postgres"):
        # psycopg 3 is the driver cacheprof installs; plain postgresql:// URLs mean it.
        url = url.set(drivername="postgresql+psycopg")
        return HistoryTarget(url=url, display=_display(url))
    raise InputFormatError(f"--history {_display(url)}: cacheprof keeps its history in SQLite or PostgreSQL, "
                           f"not {backend}")


def open_history(target: str | Path, *, create: bool = True) -> HistoryDB:
    """Open a history and bring its schema up to date; `create=False` refuses a SQLite file that does not
    exist yet. Refuses foreign or corrupt stores untouched."""
    t = parse_target(target)
    if t.sqlite_path is not None:
        _check_sqlite_file(t.sqlite_path)
        if not create and not t.sqlite_path.exists():
            raise InputFormatError(f"history {t.display} does not exist")
        try:
            t.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputFormatError(f"history {t.display}: cannot create its folder ({e.strerror})") from None
        engine = sa.create_engine(t.url, connect_args={"timeout": BUSY_TIMEOUT_S})
        _sqlite_setup(engine)
    else:
        engine = sa.create_engine(t.url, connect_args={"connect_timeout": 5}, pool_pre_ping=True)
    db = HistoryDB(engine, t.display)
    try:
        with db._errors(), engine.connect():
            pass
        # Readers migrate too: an older history gains the newer columns (nothing it holds is changed).
        db.migrate()
    except BaseException:
        engine.dispose()
        raise
    return db


def check_writable(target: str | Path) -> None:
    """Before any build (`bench`): a history that cannot be opened or written is refused now, in one line,
    not after an hour of builds. A SQLite file is probed without writing to it: a folder is refused, an
    existing file must open for writing, and its folder (or the nearest one that exists, where the folders
    would be made) must take new files: SQLite in WAL mode writes a -wal and a -shm file beside the history,
    and a run whose history turns out corrupt or foreign is kept in a new file there. What the file holds is
    not judged here: a corrupt or foreign history still gets this run's builds, kept beside it (exit 2).
    A server is opened and closed."""
    t = parse_target(target)
    if t.sqlite_path is None:
        open_history(target).close()
        return
    path = t.sqlite_path
    if path.is_dir():
        raise InputFormatError(f"history {path} is a folder; give a file (e.g. reports/history.sqlite) "
                               "or import the folder with `cacheprof history import`")
    if path.is_file():
        try:
            with path.open("r+b"):
                pass
        except OSError as e:
            raise InputFormatError(f"history {t.display}: cannot write it ({e.strerror}); nothing was built") from None
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputFormatError(f"history {t.display}: {folder} is not a folder; nothing was built")
    try:
        fd, probe = tempfile.mkstemp(prefix=".cacheprof-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputFormatError(f"history {t.display}: cannot write in {folder} ({e.strerror}); "
                               "nothing was built") from None


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below be the only transaction control (pysqlite's own is off).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue on the busy timeout instead of one
        # failing when it upgrades a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
