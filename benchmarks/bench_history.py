"""Benchmark: the regression check of the newest run over a bench history of 1,000,000 step rows on
SQLite (target: under 2 s), plus the trend report's data over the last 60 runs.

    python benchmarks/bench_history.py [--steps 1000000] [--db PATH] [--repeat 3]

The history is synthetic but shaped like a real one: nightly runs of 10 benchmarks x 3 scenarios (cold,
warm, an edit) x 3 repetitions x 12 steps (FROM + 11 RUN/COPY), on one machine and engine. It is written
in bulk with the history's own tables (the schema a real `bench` writes), then the check is timed exactly
as `bench` runs it: the rows query, the points, and the pure check. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from cacheprof.analysis.regressions import Thresholds, check_run, series_from_rows
from cacheprof.analysis.trends import trends
from cacheprof.store import history_db as h

BENCHMARKS, SCENARIOS, REPEATS, STEPS = 10, ("cold", "warm", "edit:src/main.py"), 3, 12
START = dt.datetime(2024, 1, 1, 3, 0, tzinfo=dt.UTC)
MACHINE = {"hostname": "nightly-1", "cpus": "8", "machine": "x86_64"}


def fill(db: h.HistoryDB, total_steps: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    per_run = BENCHMARKS * len(SCENARIOS) * REPEATS * STEPS
    n_runs = max(1, -(-total_steps // per_run))  # at least total_steps rows
    instrs = ["FROM python:3.12-slim"] + [
        f"RUN make part-{i}" if i % 3 else f"COPY part{i}/ /app/part{i}/" for i in range(1, STEPS)]
    run_rows, result_rows, build_rows, step_rows = [], [], [], []
    rid = bid = sid = 0
    for r in range(n_runs):
        created = (START + dt.timedelta(days=r)).isoformat(timespec="microseconds")
        run_rows.append({"id": r + 1, "uid": f"run-{r:06d}", "created_utc": created,
                         "tool_version": "0.1.0", "suite": "/s/nightly.toml", "suite_commit": f"{r:040x}",
                         "suite_dirty": False, "hostname": MACHINE["hostname"], "machine_key": h.machine_key(MACHINE),
                         "machine_json": "{}", "load_1m": 0.5, "load_5m": 0.5, "load_15m": 0.5, "source": "bench"})
        for b in range(BENCHMARKS):
            rid += 1
            result_rows.append({
                "id": rid, "run_id": r + 1, "benchmark": f"bench-{b}", "engine_name": "default", "engine_url": "",
                "engine_version": "26.1.0", "engine_api_version": "1.45", "engine_os": "linux", "engine_arch": "amd64",
                "engine_host": "", "builder": "buildkit", "error": None, "dockerfile": "Dockerfile", "context": ".",
                "target": None, "build_args_json": "{}", "scenarios_json": "[]", "profile_created": "",
                "profile_machine_json": "{}", "profile_source": "profile"})
            for seq, (scenario, rep) in enumerate((s, k) for k in range(REPEATS) for s in SCENARIOS):
                bid += 1
                first = 0 if scenario == "cold" else STEPS if scenario == "warm" else 7
                durs = [rng.uniform(0.5, 3.0) if i >= first else 0.01 for i in range(STEPS)]
                build_rows.append({"id": bid, "result_id": rid, "seq": seq, "scenario": scenario, "repeat": rep + 1,
                                   "ok": True, "error": None, "duration_s": sum(durs) + 0.4, "image_id": None,
                                   "started": 1.7e9, "complete": True})
                for i in range(STEPS):
                    sid += 1
                    step_rows.append({"id": sid, "build_id": bid, "idx": i + 1, "stage": "0", "position": i + 1,
                                      "line": i + 1, "instruction": instrs[i],
                                      "status": "RUN" if i >= first else "CACHED", "started": 1.7e9,
                                      "finished": 1.7e9 + durs[i], "duration_s": durs[i], "error": None})
            if len(step_rows) > 200_000:
                _flush(db, run_rows, result_rows, build_rows, step_rows)
    _flush(db, run_rows, result_rows, build_rows, step_rows)
    return n_runs


def _flush(db: h.HistoryDB, *batches: list[dict]) -> None:
    with db.begin() as conn:
        for table, rows in zip((h.runs, h.results, h.builds, h.steps), batches, strict=True):
            if rows:
                conn.execute(table.insert(), rows)
            rows.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="SQLite file (default: a temporary one)")
    ap.add_argument("--repeat", type=int, default=3, help="time the check this many times; print each")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = a.db or Path(tmp) / "history.sqlite"
        db = h.open_history(path)
        if db.count_rows()["steps"] == 0:
            t0 = time.perf_counter()
            n = fill(db, a.steps)
            print(f"filled {n} runs in {time.perf_counter() - t0:.1f} s")
        counts = db.count_rows()
        print(f"history: {counts['runs']} runs, {counts['builds']} builds, {counts['steps']} step rows, "
              f"{path.stat().st_size / 1e6:.0f} MB")
        t = Thresholds()
        uid = db.latest_uid()
        assert uid is not None
        times = []
        for _ in range(a.repeat):
            db.engine.dispose()  # a fresh connection each time, like a new bench process
            t0 = time.perf_counter()
            series = series_from_rows(*db.series_rows(uid, t.window + t.persistence + 1))
            result = check_run(series, uid, t)
            times.append(time.perf_counter() - t0)
        print(f"regression check of the newest run: {', '.join(f'{x:.3f}' for x in times)} s "
              f"(median {statistics.median(times):.3f} s; {len(result.verdicts)} verdicts, "
              f"{len(result.regressions)} regressions)")
        t0 = time.perf_counter()
        ts = trends(series_from_rows(*db.series_rows(None, 60 + t.window + t.persistence + 1)), t, last=60)
        print(f"trend data, last 60 runs: {time.perf_counter() - t0:.2f} s ({len(ts)} series)")
        with db.begin() as conn:
            plan = conn.execute(sa.text("EXPLAIN QUERY PLAN SELECT * FROM steps WHERE build_id IN (1, 2)")).all()
        print("steps lookup uses:", "; ".join(str(r[-1]) for r in plan))
        db.close()


if __name__ == "__main__":
    main()
