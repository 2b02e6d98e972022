"""Benchmark: wall-time overhead of `cacheprof profile` over the plain docker CLI (target ratio <= 1.05).

    python3 benchmarks/bench_overhead.py [--rounds 3] [--sleeps 2,2,2,2] [--no-breakdown] [--json FILE]
                                         [--wait-load L]

Generates a fixture context in a temporary folder (FROM busybox:1.36, three COPY steps, four RUN sleep 2
steps: about 10 s cold with the classic builder; a fresh nonce file so no earlier cache matters), then
runs the same cold + warm sequence --rounds times, interleaved (the order rotates each round):

  (a) docker CLI   DOCKER_BUILDKIT=0 docker build --no-cache -t TAG CTX ; DOCKER_BUILDKIT=0 docker build -t TAG CTX
  (b) cacheprof    python -m cacheprof.cli profile CTX --builder classic -s cold -s warm --format json --quiet --out DIR
  (c) the same command with the report rendering switched off: a launcher replaces
      cacheprof.commands.profile_cmd.ReportWorker by one that renders nothing (profile.json is still
      written; nothing else changes)

and times each with a wall clock. For (b) and (c) the run is split, from the builds' own wall-clock
stamps in profile.json, into: before the first build, the builds, after the last build. The report is also
timed apart: `python -m cacheprof.cli report DIR/profile.json --out DIR2` as a whole command, and
in-process (importing the report modules + write_report) in a fresh interpreter. Prints per round the
times, the medians and the ratios to the docker CLI; then start-up costs, the interpreter's exit cost
once the report modules are loaded, whether pandas / matplotlib / numpy are loaded before the first build,
and (unless --no-breakdown) a cProfile breakdown of one more run of (b). No assertion: it prints figures.
Exit status 1 if a build or command fails.

The interpreter is this script's own (sys.executable, resolved), not a `python3` found on PATH: on
machines with pyenv, `python3` is a bash shim that adds ~0.1 s per process, which is not cacheprof's cost
(it is measured and printed separately).

Removes everything it creates (its tag and the temp folder; cacheprof removes its own tags), also on
failure, Ctrl-C or SIGTERM. Never prunes and never touches other images.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = os.path.realpath(sys.executable)
HEAVY = ("pandas", "matplotlib", "numpy")
BASE_IMAGE = "busybox:1.36"


# --- helpers ------------------------------------------------------------------------------------


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def wait_for_load(limit: float, patience: float = 180.0) -> None:
    if limit <= 0:
        return
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline and os.getloadavg()[0] >= limit:
        time.sleep(5)


def timed(cmd: list[str], *, env: dict[str, str] | None = None, check: bool = True,
          stdout_path: Path | None = None) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Run a command, return (wall seconds, completed process). Output is captured (stdout to a file
    when asked), so no terminal I/O is timed."""
    out = stdout_path.open("wb") if stdout_path is not None else subprocess.PIPE
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE, check=False)
        took = time.perf_counter() - t0
    finally:
        if stdout_path is not None:
            out.close()  # type: ignore[union-attr]
    if check and proc.returncode != 0:
        tail = (proc.stderr or b"").decode(errors="replace")[-2000:]
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return took, proc


def make_fixture(root: Path, sleeps: list[float]) -> tuple[Path, str]:
    """A context whose cold classic build takes about sum(sleeps) + ~0.5 s per step."""
    ctx = root / "ctx"
    (ctx / "app").mkdir(parents=True)
    nonce = secrets.token_hex(16)
    (ctx / "nonce.txt").write_text(nonce + "\n")
    for i in range(5):
        (ctx / "app" / f"mod{i}.txt").write_text(f"module {i}\n" * 200)
    (ctx / "data.bin").write_bytes(secrets.token_bytes(256 * 1024))
    lines = [
        f"FROM {BASE_IMAGE}",
        "COPY nonce.txt /bench/nonce.txt",
        "COPY app/ /bench/app/",
        "COPY data.bin /bench/data.bin",
    ]
    lines += [f"RUN sleep {s:g} && echo step{i} >> /bench/log" for i, s in enumerate(sleeps, 1)]
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    return ctx, nonce


# --- the two sides ------------------------------------------------------------------------------


def run_cli(ctx: Path, tag: str) -> dict[str, float]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    cold, _ = timed(["docker", "build", "--no-cache", "-t", tag, str(ctx)], env=env)
    warm, _ = timed(["docker", "build", "-t", tag, str(ctx)], env=env)
    # Not part of the compared sequence, but cacheprof does its own clean-up inside its wall time.
    rmi, _ = timed(["docker", "rmi", tag])
    return {"cold": cold, "warm": warm, "total": cold + warm, "rmi": rmi}


RENDER_SNIPPET = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from cacheprof.store import profile_json
profile = profile_json.loads(Path(sys.argv[1]).read_text(), where=sys.argv[1])
t1 = time.perf_counter()
from cacheprof.render.writer import write_report
# write_report imports its heavy modules lazily; import them first (when they exist) to time them apart.
mods = {}
for name in ("cacheprof.analysis.profile_stats", "cacheprof.render.charts", "cacheprof.render.html"):
    m0 = time.perf_counter()
    try:
        __import__(name)
    except ImportError:
        pass
    mods[name] = time.perf_counter() - m0
t2 = time.perf_counter()
write_report(profile, Path(sys.argv[2]))
t3 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "import_s": t2 - t1, "write_s": t3 - t2, "render_s": t3 - t1,
                  "modules": mods}))
"""


# Runs `cacheprof profile` exactly as `python -m cacheprof.cli` does, except that the report folder gets
# profile.json only: no report modules are imported, nothing is rendered.
NO_REPORT_LAUNCHER = r"""
import sys
from cacheprof.commands import profile_cmd
if not hasattr(profile_cmd, "ReportWorker"):
    sys.exit(99)
class NoReport:
    def render(self, out):
        return None
    def cancel(self):
        pass
profile_cmd.ReportWorker = NoReport
from cacheprof.cli import main
sys.argv[0] = "cacheprof"
main()
"""


def run_cacheprof(ctx: Path, work: Path, *, report: bool) -> dict[str, float]:
    out = work / "out"
    args = ["profile", str(ctx), "--builder", "classic", "-s", "cold", "-s", "warm", "--format", "json",
            "--quiet", "--out", str(out)]
    cmd = [PY, "-m", "cacheprof.cli", *args] if report else [PY, "-c", NO_REPORT_LAUNCHER, *args]
    e0 = time.time()
    wall, proc = timed(cmd, stdout_path=work / "stdout.json", check=False)
    e1 = time.time()
    if proc.returncode == 99 and not report:
        raise RuntimeError("the no-report launcher found no cacheprof.commands.profile_cmd.ReportWorker")
    if proc.returncode != 0:
        raise RuntimeError(f"cacheprof profile failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    doc = json.loads((work / "stdout.json").read_text())
    builds = doc["builds"]
    bad = [b for b in builds if not b.get("ok")]
    if bad or len(builds) != 2:
        raise RuntimeError(f"cacheprof builds not ok: {[(b['scenario'], b.get('error')) for b in bad]}")
    by = {b["scenario"]: b for b in builds}
    first = min(b["started"] for b in builds)
    last = max(b["started"] + b["duration_s"] for b in builds)
    res = {
        "wall": wall,
        "cold_build": by["cold"]["duration_s"],
        "warm_build": by["warm"]["duration_s"],
        "build_sum": by["cold"]["duration_s"] + by["warm"]["duration_s"],
        # Phases of this very run, from its builds' wall-clock stamps: before the first build (start-up,
        # imports, engine connection, planning, context tar), between builds, after the last build
        # (image clean-up, profile.json, the report, interpreter exit).
        "pre_build": first - e0,
        "between_builds": (last - first) - (by["cold"]["duration_s"] + by["warm"]["duration_s"]),
        "post_build": e1 - last,
    }
    if report:
        # The report as a separate command (start-up + load + render + exit) ...
        res["report_cmd"], _ = timed([PY, "-m", "cacheprof.cli", "report", str(out / "profile.json"), "--out",
                                      str(work / "report2")])
        # ... and in-process, as `profile` pays it: importing the report modules + write_report.
        _, proc = timed([PY, "-c", RENDER_SNIPPET, str(out / "profile.json"), str(work / "report3")])
        inproc = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        res.update({
            "render_import": inproc["import_s"],
            "render_write": inproc["write_s"],
            "render_inproc": inproc["render_s"],
            **{f"import {k}": v for k, v in inproc.get("modules", {}).items()},
        })
    return res


EXIT_SNIPPET = r"""
import sys, time, gc
import cacheprof.analysis.profile_stats, cacheprof.render.charts
if sys.argv[1] == "freeze":
    gc.freeze()
sys.stdout.write(repr(time.monotonic()))
sys.stdout.flush()
"""


def exit_cost(reps: int = 5) -> dict[str, float]:
    """Seconds from a script's last line to its process being gone, once the report modules (pandas,
    matplotlib) are loaded: the interpreter's teardown, which `profile` pays after its report."""
    res: dict[str, list[float]] = {"plain": [], "freeze": [], "baseline (nothing imported)": []}
    for _ in range(reps):
        for mode in res:
            code = EXIT_SNIPPET if not mode.startswith("baseline") else (
                "import sys, time; sys.stdout.write(repr(time.monotonic())); sys.stdout.flush()")
            proc = subprocess.run([PY, "-c", code, mode], capture_output=True, check=True)
            # CLOCK_MONOTONIC is one clock for every process on Linux, and never steps like time.time().
            res[mode].append(time.monotonic() - float(proc.stdout))
    return {k: median(v) for k, v in res.items()}


# --- start-up and import checks -----------------------------------------------------------------


def startup(reps: int = 7) -> dict[str, float]:
    build_path = "import cacheprof.cli, cacheprof.capture.session, docker"
    dwb = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "python -c pass": ([PY, "-c", "pass"], None),
        "python -c 'import cacheprof.cli'": ([PY, "-c", "import cacheprof.cli"], None),
        "python -m cacheprof.cli profile --help": ([PY, "-m", "cacheprof.cli", "profile", "--help"], None),
        f"python -c '{build_path}'": ([PY, "-c", build_path], None),
    }
    # This machine's environment may set PYTHONDONTWRITEBYTECODE=1 while the editable install has no
    # __pycache__: every process then compiles cacheprof's sources. A bytecode cache in a temp folder
    # (PYTHONPYCACHEPREFIX, warmed once) shows what an installed wheel would pay.
    pyc = tempfile.mkdtemp(prefix="cacheprof-bench-pyc-")
    try:
        pyc_env = {**os.environ, "PYTHONPYCACHEPREFIX": pyc}
        pyc_env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmds[f"  same, warm bytecode cache (env PYTHONDONTWRITEBYTECODE={dwb!r})"] = ([PY, "-c", build_path],
                                                                                   pyc_env)
        # pyenv runs this script with its version's bin first on PATH; look for the shim itself.
        shims = [Path(d) / "python3" for d in os.environ.get("PATH", "").split(os.pathsep) if "shims" in d]
        shim = next((str(p) for p in shims if p.is_file()), None)
        if shim:
            cmds[f"{shim} -c pass (PATH shim)"] = ([shim, "-c", "pass"], None)
        timed([PY, "-c", build_path], env=pyc_env)  # warm the cache
        res: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(reps):
            for k, (cmd, env) in cmds.items():
                res[k].append(timed(cmd, env=env)[0])
    finally:
        shutil.rmtree(pyc, ignore_errors=True)
    return {k: median(v) for k, v in res.items()}


def importtime_top(args: list[str], n: int = 12) -> tuple[list[tuple[int, str]], list[str]]:
    """`python -X importtime ARGS`: the n largest cumulative imports (us) and which HEAVY modules appear."""
    _, proc = timed([PY, "-X", "importtime", *args], check=False)
    rows: list[tuple[int, str]] = []
    for line in proc.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        try:
            rows.append((int(parts[1]), parts[2].rstrip()))
        except ValueError:
            continue
    heavy = sorted({name.strip().split(".")[0] for _, name in rows} & set(HEAVY))
    top = sorted(rows, reverse=True)[:n]
    return top, heavy


IMPORT_CHECK = r"""
import sys, json
import cacheprof.cli, cacheprof.capture.session, cacheprof.capture.runner, cacheprof.capture.driver
import cacheprof.commands.profile_cmd
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {"pandas", "matplotlib", "numpy"})))
"""

# Runs the real `profile` command in-process on a one-step context and records which heavy modules
# are loaded when the first build starts (DockerDriver.build is wrapped; nothing else is changed).
FIRST_BUILD_CHECK = r"""
import sys, json
from cacheprof.capture import driver
seen = {}
orig = driver.DockerDriver.build
def build(self, request):
    if not seen:
        seen["heavy"] = sorted({m.split('.')[0] for m in sys.modules} & {"pandas", "matplotlib", "numpy"})
    return orig(self, request)
driver.DockerDriver.build = build
from cacheprof.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    sys.stdout = sys.__stdout__
    sys.stderr.write("FIRST_BUILD " + json.dumps(seen) + "\n")
    sys.stderr.write("AT_EXIT " + json.dumps(sorted({m.split('.')[0] for m in sys.modules}
                                                  & {"pandas", "matplotlib", "numpy"})) + "\n")
"""


def import_checks(tmp: Path) -> dict[str, object]:
    _, proc = timed([PY, "-c", IMPORT_CHECK])
    after_import = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    top_help, heavy_help = importtime_top(["-m", "cacheprof.cli", "profile", "--help"])
    # A tiny real profile run: heavy modules at the first build vs at exit.
    tiny = tmp / "tiny"
    tiny.mkdir()
    (tiny / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nRUN true\n")
    _, proc = timed([PY, "-c", FIRST_BUILD_CHECK, "profile", str(tiny), "--builder", "classic", "-s", "cold",
                     "--format", "json", "--quiet", "--out", str(tmp / "tiny-out")], check=False)
    first, at_exit = None, None
    for line in proc.stderr.decode(errors="replace").splitlines():
        if line.startswith("FIRST_BUILD "):
            first = json.loads(line[len("FIRST_BUILD "):]).get("heavy")
        if line.startswith("AT_EXIT "):
            at_exit = json.loads(line[len("AT_EXIT "):])
    # Import cost of the build path (what `profile` imports before its first build, no report modules).
    top_build, _ = importtime_top(["-c", "import cacheprof.cli, cacheprof.capture.session, docker"])
    return {"after_import_build_modules": after_import, "profile_help_importtime_heavy": heavy_help,
            "at_first_build": first, "at_exit": at_exit, "first_build_rc": proc.returncode,
            "top_help": top_help, "top_build_path": top_build}


def breakdown(ctx: Path, tmp: Path, n: int = 24) -> list[tuple[str, float, float]]:
    """cProfile one more cacheprof run; cumulative seconds of the functions that matter (children in
    other processes, e.g. chart workers, are not seen; the build wait shows as socket reads)."""
    import pstats

    prof = tmp / "cacheprof.prof"
    cmd = [PY, "-m", "cProfile", "-o", str(prof), "-m", "cacheprof.cli", "profile", str(ctx), "--builder",
           "classic", "-s", "cold", "-s", "warm", "--format", "json", "--quiet", "--out", str(tmp / "bd-out")]
    wall, _ = timed(cmd, stdout_path=tmp / "bd-stdout.json")
    stats = pstats.Stats(str(prof))
    wanted = ["plan_profile", "open_driver", "__init__ (DockerDriver)", "run_plan", "_build", "make_tar",
              "cleanup", "engine_info", "write_outputs", "write_report", "analyze", "build_charts",
              "render_html", "render_markdown", "steps_csv", "dumps"]
    rows: list[tuple[str, float, float]] = [("(whole process, wall)", wall, wall)]
    found: dict[str, tuple[float, str]] = {}
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        name = func
        if func == "__init__" and filename.endswith("cacheprof/driver.py"):
            name = "__init__ (DockerDriver)"
        if "cacheprof" not in filename and name not in ("<module>",):
            continue
        if name in wanted and (name not in found or ct > found[name][0]):
            found[name] = (ct, f"{Path(filename).name}")
    for name in wanted:
        if name in found:
            rows.append((f"{found[name][1]}:{name}", found[name][0], 0.0))
    # Imports on the build path (module bodies; cacheprof.cli itself runs as __main__, so its
    # <module> would hold the whole run).
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == "<module>" and filename.endswith(("cacheprof/session.py", "docker/__init__.py",
                                                     "click/__init__.py")):
            rows.append((f"import {Path(filename).parent.name}/{Path(filename).name}", ct, 0.0))
    return rows[:n]


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sleeps", default="2,2,2,2", help="RUN sleep seconds, comma separated (default 2,2,2,2)")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the cProfile run")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--wait-load", type=float, default=0.0, metavar="L",
                    help="before each round, wait (up to 180 s) until the 1-minute load average is below L; "
                         "for shared machines (default: off)")
    args = ap.parse_args()
    sleeps = [float(x) for x in args.sleeps.split(",") if x.strip()]

    # SIGTERM -> SystemExit so the finally: clean-up runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        print(f"bench_overhead: {BASE_IMAGE} is missing; run scripts/base-image", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="cacheprof-bench-overhead-"))
    ctx, nonce = make_fixture(tmp, sleeps)
    tag = f"cacheprof-bench/overhead-{nonce[:12]}:cli"
    results: dict[str, object] = {"rounds": [], "python": PY, "sleeps": sleeps, "cpus": os.cpu_count()}
    rounds: list[dict[str, dict[str, float]]] = results["rounds"]  # type: ignore[assignment]
    sides = ["cli", "cacheprof", "noreport"]
    try:
        print(f"fixture: {ctx}/Dockerfile ({len(sleeps)} RUN sleep steps, {sum(sleeps):g} s of sleep), "
              f"interpreter {PY}, {os.cpu_count()} CPUs", flush=True)
        print((ctx / "Dockerfile").read_text().rstrip(), flush=True)
        for r in range(1, args.rounds + 1):
            wait_for_load(args.wait_load)
            order = sides[(r - 1) % 3:] + sides[:(r - 1) % 3]
            row: dict[str, dict[str, float]] = {}
            ld = load()
            for side in order:
                if side == "cli":
                    row["cli"] = run_cli(ctx, tag)
                else:
                    work = tmp / f"round{r}-{side}"
                    work.mkdir()
                    row[side] = run_cacheprof(ctx, work, report=side == "cacheprof")
                    shutil.rmtree(work, ignore_errors=True)
            rounds.append(row)
            c, p, n = row["cli"], row["cacheprof"], row["noreport"]
            print(f"round {r} ({' > '.join(order)}; load {ld}):", flush=True)
            print(f"  docker CLI          {c['total']:6.2f} s = cold {c['cold']:.2f} + warm {c['warm']:.2f} "
                  f"(then docker rmi {c['rmi']:.2f})")
            for label, x in (("cacheprof", p), ("cacheprof, no report", n)):
                print(f"  {label:20s}{x['wall']:6.2f} s = before builds {x['pre_build']:.2f} + builds "
                      f"{x['cold_build']:.2f} + {x['warm_build']:.2f} (+ between {x['between_builds']:.2f}) "
                      f"+ after {x['post_build']:.2f}")
            print(f"  report apart: in-process {p['render_inproc']:.2f} s (imports {p['render_import']:.2f} + "
                  f"write_report {p['render_write']:.2f}); `cacheprof report` command {p['report_cmd']:.2f} s",
                  flush=True)

        def col(side: str, key: str) -> float:
            return median([x[side][key] for x in rounds])

        def ratio(f: object) -> tuple[float, list[float]]:
            per = [f(x) for x in rounds]  # type: ignore[operator]
            return median(per), per

        cli_total = col("cli", "total")
        ratios = {
            "cacheprof / docker CLI (whole command, with report)": ratio(
                lambda x: x["cacheprof"]["wall"] / x["cli"]["total"]),
            "cacheprof without report / docker CLI (measured, (c))": ratio(
                lambda x: x["noreport"]["wall"] / x["cli"]["total"]),
            "cacheprof start to end of its last build / docker CLI": ratio(
                lambda x: (x["cacheprof"]["wall"] - x["cacheprof"]["post_build"]) / x["cli"]["total"]),
            "cacheprof builds only / docker CLI": ratio(
                lambda x: x["cacheprof"]["build_sum"] / x["cli"]["total"]),
        }
        med = {f"{side}.{k}": col(side, k) for side in sides for k in rounds[0][side]}
        results["medians"] = med
        results["ratios"] = {k: {"median": v[0], "per_round": v[1]} for k, v in ratios.items()}
        print()
        print(f"medians over {len(rounds)} rounds (seconds):")
        print(f"  docker CLI cold + warm          {med['cli.total']:6.2f}  (cold {med['cli.cold']:.2f}, "
              f"warm {med['cli.warm']:.2f}; docker rmi after it: {med['cli.rmi']:.2f})")
        for label, side in (("cacheprof profile", "cacheprof"), ("cacheprof, no report (c)", "noreport")):
            print(f"  {label:30s}  {med[side + '.wall']:6.2f}  (before the first build {med[side + '.pre_build']:.2f}; "
                  f"builds {med[side + '.cold_build']:.2f} + {med[side + '.warm_build']:.2f}; "
                  f"after the last build {med[side + '.post_build']:.2f})")
        mods = ", ".join(f"{k.split('.', 1)[1][len('import '):]} {v:.2f}" for k, v in med.items()
                         if k.startswith("cacheprof.import "))
        print(f"  report rendering, in-process    {med['cacheprof.render_inproc']:6.2f}  (imports "
              f"{med['cacheprof.render_import']:.2f} [{mods}] + write_report {med['cacheprof.render_write']:.2f})")
        print(f"  `cacheprof report` command      {med['cacheprof.report_cmd']:6.2f}")
        target = 1.05
        for label, (v, per) in ratios.items():
            verdict = "meets" if v <= target else f"MISSES by {v - target:.3f} = {(v - target) * cli_total:.2f} s"
            print(f"  {label:55s} {v:.3f}  (target <= {target}: {verdict}; rounds: "
                  f"{', '.join(f'{x:.3f}' for x in per)})")
        sys.stdout.flush()

        print()
        st = startup()
        results["startup"] = st
        print("start-up (median of 7):")
        for k, v in st.items():
            print(f"  {k:72s} {v:.3f} s")
        ex = exit_cost()
        results["exit"] = ex
        print("interpreter exit after importing the report modules (median of 5; script end -> process gone):")
        print(f"  plain {ex['plain']:.3f} s; with gc.freeze() first {ex['freeze']:.3f} s; "
              f"baseline (nothing imported) {ex['baseline (nothing imported)']:.3f} s", flush=True)
        chk = import_checks(tmp)
        results["imports"] = chk
        print()
        print("heavy modules (pandas / matplotlib / numpy) on the build path:")
        after = ", ".join(chk["after_import_build_modules"]) or "none"  # type: ignore[arg-type]
        in_help = ", ".join(chk["profile_help_importtime_heavy"]) or "none"  # type: ignore[arg-type]
        print(f"  after importing cli, session, runner, driver, profile_cmd: {after}")
        print(f"  in `-X importtime -m cacheprof.cli profile --help`:          {in_help}")
        fb, at_exit = chk["at_first_build"], chk["at_exit"]
        fb_text = f"? (the run failed, rc {chk['first_build_rc']})" if fb is None else (", ".join(fb) or "none")
        ex_text = "?" if at_exit is None else (", ".join(at_exit) or "none")  # type: ignore[arg-type]
        print(f"  loaded when the first build starts (real profile run):      {fb_text}")
        print(f"  loaded at exit of that run (after the report):             {ex_text}")
        print("  largest imports of the build path (cacheprof.cli, cacheprof.capture.session, docker), cumulative:")
        for us, name in chk["top_build_path"][:10]:  # type: ignore[index]
            print(f"    {us / 1e6:6.3f} s  {name.strip()}")
        sys.stdout.flush()

        if not args.no_breakdown:
            print()
            print("cProfile of one more cacheprof run (cumulative s; the build wait is inside _build; cProfile")
            print("inflates Python-heavy parts such as imports ~2x, so use it to attribute, not to time):")
            rows = breakdown(ctx, tmp)
            results["breakdown"] = rows
            for name, ct, _ in rows:
                print(f"  {ct:7.3f}  {name}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        return 0
    except RuntimeError as e:
        print(f"bench_overhead: {e}", file=sys.stderr)
        return 1
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
