"""The history database on SQLite and on a real PostgreSQL server: the same tests on both."""

from __future__ import annotations

import multiprocessing
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from cacheprof.errors import HistoryUnreachableError, InputFormatError
from cacheprof.store.history_db import LATEST_VERSION, MIGRATIONS, open_history
from cacheprof.store.history_json import read_run_file, run_from_dict, run_to_dict, write_run_file

from .history_helpers import MACHINE, build, fresh_postgres_database, profile, result, run, simple_run


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "hist" / "history.sqlite")
    else:
        yield from fresh_postgres_database()


def test_run_round_trips_every_step(history_url):
    r1 = simple_run(1)
    failing = profile((build("cold", 1, 2.0, "CRRRRE", ok=False),), engine_version="27.0.0", builder="classic")
    r2 = run(2, (result(failing, benchmark="other", engine="big"),
                 result(profile(()), benchmark="dead", engine="gone", error="engine unreachable")))
    with open_history(history_url) as db:
        db.add_run(r1)
        db.add_run(r2)
        assert db.load_run(r1.uid) == r1
        assert db.load_run(r2.uid) == r2
        assert db.load_run("20260102") == r2  # an unambiguous prefix is enough
        counts = db.count_rows()
    assert counts == {"runs": 2, "results": 3, "builds": 5, "steps": 30, "internal_vertices": 5}


def test_list_counts_builds_and_failures(history_url):
    bad = profile((build("cold", 1, 2.0, "CRRRRE", ok=False), build("cold", 2, 2.0, "CRRRRR")))
    with open_history(history_url) as db:
        db.add_run(simple_run(3))
        db.add_run(run(4, (result(bad),)))
        listed = db.list_runs()
    assert [r.uid for r in listed] == ["20260103T000000Z-r0003", "20260104T000000Z-r0004"]
    assert [(r.benchmarks, r.builds, r.failed_builds) for r in listed] == [(1, 4, 0), (1, 2, 1)]


def test_same_run_twice_is_refused(history_url):
    with open_history(history_url) as db:
        db.add_run(simple_run(1))
        with pytest.raises(InputFormatError, match="already holds run"):
            db.add_run(simple_run(1))
        assert db.count_rows()["runs"] == 1


def test_reopening_keeps_data_and_version(history_url):
    with open_history(history_url) as db:
        db.add_run(simple_run(1))
    with open_history(history_url) as db:
        assert db.schema_version() == LATEST_VERSION
        assert db.count_rows()["steps"] == 24


def test_pending_migrations_run_once_in_order(history_url):
    applied: list[int] = []

    def v2(conn: sa.Connection) -> None:
        applied.append(2)
        conn.execute(sa.text("CREATE INDEX ix_test_steps_status ON steps (status)"))

    with open_history(history_url) as db:
        db.add_run(simple_run(1))
        nxt = LATEST_VERSION + 1
        more = (*MIGRATIONS, (nxt, "index on step status", v2))
        assert db.migrate(more) == nxt
        assert db.migrate(more) == nxt
        assert applied == [2]
        assert db.load_run(simple_run(1).uid) == simple_run(1)
    # This cacheprof does not know that version: a history from the future is refused.
    with pytest.raises(InputFormatError, match=f"schema version {LATEST_VERSION + 1}") as e:
        open_history(history_url)
    assert e.value.exit_code == 2


def test_a_version_1_history_is_migrated_and_keeps_its_runs(history_url):
    # Make a history as version 1 wrote it: without the version-2 columns and version row.
    v1_run = simple_run(1)
    with open_history(history_url) as db:
        db.add_run(v1_run)
        with db.begin() as conn:
            for table, cols in (("steps", ["size_bytes", "log_tail_json"]),
                                ("builds", ["transfer_s", "image_size_bytes", "layer_ids_json", "inputs_json"]),
                                ("results", ["warmups", "profile_schema"])):
                for col in cols:
                    conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {col}"))
            conn.execute(sa.text("DELETE FROM cacheprof_schema WHERE version > 1"))
    with open_history(history_url, create=False) as db:  # reading is enough to migrate
        assert db.schema_version() == LATEST_VERSION == 2
        old = db.load_run(v1_run.uid)
        # What version 1 kept is all there; the version-2 fields read as unknown.
        assert [len(r.profile.builds) for r in old.results] == [4]
        assert old.results[0].profile.builds[0].steps[2].size_bytes is None
        assert old.results[0].profile.builds[0].layer_ids == () and old.results[0].profile.warmups == 0
        assert [s.instruction for s in old.results[0].profile.builds[0].steps] == [
            s.instruction for s in v1_run.results[0].profile.builds[0].steps]
        db.add_run(simple_run(2))
        assert db.load_run(simple_run(2).uid) == simple_run(2)


def test_queries_for_the_checks(history_url):
    with open_history(history_url) as db:
        for n in (1, 2):
            db.add_run(simple_run(n))
        metas = db.result_metas()
        assert [(m.run_uid, m.benchmark, m.engine_name, m.engine_version, m.builder) for m in metas] == [
            ("20260101T000000Z-r0001", "app", "default", "26.1.0", "buildkit"),
            ("20260102T000000Z-r0002", "app", "default", "26.1.0", "buildkit"),
        ]
        assert metas[0].machine_key == "vm/2/x86_64"
        assert db.result_metas(until_created="2026-01-01T12:00:00") == metas[:1]
        rows = db.build_rows([metas[1].result_id])
        assert [(b.scenario, b.duration_s) for b in rows] == [("cold", 5.0), ("warm", 0.5), ("cold", 5.1),
                                                              ("warm", 0.5)]
        st = db.step_rows([rows[1].build_id])
        assert [s.status for s in st] == ["CACHED"] * 6 and st[3].instruction == "RUN install deps"


def test_postgres_unreachable_is_exit_3():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HistoryUnreachableError) as e:
        open_history(f"postgresql://nobody:secret@127.0.0.1:{port}/history")
    assert e.value.exit_code == 3
    text = str(e.value)
    assert "\n" not in text and "secret" not in text and f"127.0.0.1:{port}" in text


def test_unknown_database_kind_is_refused():
    with pytest.raises(InputFormatError, match="not mysql"):
        open_history("mysql://u@h/db")


# --- SQLite files that are not a cacheprof history are never written ---------------------------


def _untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-journal").exists()


def test_foreign_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "app.db"
    con = __import__("sqlite3").connect(path)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO users (name) VALUES ('ann')")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(InputFormatError, match="another program") as e:
        open_history(path)
    assert e.value.exit_code == 2 and "\n" not in str(e.value)
    _untouched(path, before)


@pytest.mark.parametrize("content", [b"not a database at all\n" * 50, b"{\"schema\": \"cacheprof/bench/v1\"}"])
def test_non_sqlite_file_is_refused_untouched(tmp_path, content):
    path = tmp_path / "history.sqlite"
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match="not a SQLite database"):
        open_history(path)
    _untouched(path, content)


def test_corrupt_history_is_refused_untouched(tmp_path):
    path = tmp_path / "history.sqlite"
    with open_history(path) as db:
        for n in range(1, 6):
            db.add_run(simple_run(n))
    data = bytearray(path.read_bytes())
    assert len(data) > 8192
    data[4096:len(data) - 100] = b"\xff" * (len(data) - 4196)  # keep the header, wreck the pages
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(InputFormatError, match=r"corrupt|not a SQLite") as e:
        with open_history(path) as db:
            db.list_runs()
    assert e.value.exit_code == 2 and "\n" not in str(e.value)
    assert path.read_bytes() == before


def test_folder_given_as_history_file(tmp_path):
    with pytest.raises(InputFormatError, match="is a folder"):
        open_history(tmp_path)


# --- JSON run documents ---------------------------------------------------------------------------


def test_run_document_round_trip(tmp_path):
    r = run(5, (result(profile((build("warm", 1, 0.5, "CCCCCR"),)), engine="a"),
                result(profile((), engine_version="27"), benchmark="b", engine="b", error="engine died")),
            machine={**MACHINE, "hostname": "ci-7"})
    path = write_run_file(tmp_path / "r.json", r)
    back = read_run_file(path)
    assert back.results == r.results and back.machine == r.machine and back.uid == r.uid
    assert back.load_avg == r.load_avg and back.suite_dirty is False and back.tool_version == "0.1.0"
    assert back.source == "import"


def test_run_document_from_the_first_bench_format():
    # A result file written by `bench` before the database (no uid, tool version, load or engine names).
    old = run_to_dict(simple_run(7))
    for key in ("uid", "tool_version", "commit_dirty", "load_avg"):
        del old[key]
    for b in old["benchmarks"]:
        for key in ("engine_name", "engine_url", "error"):
            del b[key]
    back = run_from_dict(old, "old.json")
    assert back.uid == "20260107T000000Z-r0007"  # built from created and the short id, as the file name was
    assert back.results[0].engine_name == "default" and back.results[0].profile == simple_run(7).results[0].profile
    assert back.suite_dirty is None and back.load_avg is None


def test_bad_run_document_names_the_field():
    doc = run_to_dict(simple_run(1))
    doc["benchmarks"][0]["profile"]["builds"][0]["ok"] = "yes"
    with pytest.raises(InputFormatError, match=r"builds\[0\]\.ok"):
        run_from_dict(doc, "f.json")


# --- two writers on one SQLite file ---------------------------------------------------------------


def _writer(path: str, first: int, count: int) -> None:
    with open_history(path) as db:
        for n in range(first, first + count):
            r = simple_run(1)
            db.add_run(type(r)(**{**r.__dict__, "uid": f"w-{n:04d}"}))


def test_two_processes_writing_one_sqlite_file_lose_nothing(tmp_path):
    path = str(tmp_path / "history.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, first, 40)) for first in (0, 1000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with open_history(path) as db:
        counts = db.count_rows()
        uids = db.run_uids()
    assert counts["runs"] == 80 and counts["steps"] == 80 * 24
    assert len(set(uids)) == 80
