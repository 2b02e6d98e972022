"""Benchmark: how accurate are `cacheprof profile`'s step durations? (no assertion: it prints figures)

    python3 benchmarks/bench_timing.py [--rounds 3] [--builders buildkit,classic] [--json FILE] [--wait-load L]

Generates a context in a temporary folder whose RUN steps sleep known times (a `RUN true` baseline, then
`RUN sleep 0.5`, `RUN sleep 1`, `RUN sleep 2`), profiles it cold only with each builder, --rounds times
(builders interleaved, the order alternating each round):

    python -m cacheprof.cli profile CTX --builder B -s cold --format json --quiet --out DIR

and prints, per builder, each sleep step's measured duration_s minus its sleep (the measurement error:
what the step costs beyond the work it does, plus any error of the clock), min / median / max, the
`RUN true` baseline, and the error net of the baseline's median.

The classic builder is timed by stream arrival (each step runs from one "Step N/M" line to the next, so
it includes creating, starting and committing the step's container); BuildKit by its own clock (the
vertex's started/completed in its trace). cacheprof removes the images it makes; this script removes its
temp folder, also on failure or Ctrl-C.
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
BASE_IMAGE = "busybox:1.36"
BASELINE = "RUN true"
SLEEPS = (0.5, 1.0, 2.0)


def wait_for_load(limit: float, patience: float = 180.0) -> None:
    if limit <= 0:
        return
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline and os.getloadavg()[0] >= limit:
        time.sleep(5)


def make_fixture(root: Path) -> Path:
    ctx = root / "ctx"
    ctx.mkdir(parents=True)
    (ctx / "nonce.txt").write_text(secrets.token_hex(16) + "\n")
    lines = [f"FROM {BASE_IMAGE}", "COPY nonce.txt /t/nonce.txt", BASELINE]
    lines += [f"RUN sleep {s:g}" for s in SLEEPS]
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    return ctx


def profile_once(ctx: Path, builder: str, work: Path) -> tuple[float, dict]:
    cmd = [PY, "-m", "cacheprof.cli", "profile", str(ctx), "--builder", builder, "-s", "cold",
           "--format", "json", "--quiet", "--out", str(work / "out")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"cacheprof failed ({proc.returncode}) with {builder}: "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return wall, json.loads(proc.stdout)


def step_durations(doc: dict) -> tuple[dict[str, float | None], float | None]:
    (build,) = doc["builds"]
    if not build.get("ok"):
        raise RuntimeError(f"build failed: {build.get('error')}")
    out: dict[str, float | None] = {}
    for step in build["steps"]:
        out[step["instruction"].strip()] = step.get("duration_s")
    return out, build.get("duration_s")


def fmt3(xs: list[float]) -> str:
    if not xs:
        return "no data"
    return f"{min(xs):+.3f} / {statistics.median(xs):+.3f} / {max(xs):+.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--builders", default="buildkit,classic")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--wait-load", type=float, default=0.0, metavar="L",
                    help="before each profile run, wait (up to 180 s) until the 1-minute load average is "
                         "below L; for shared machines (default: off)")
    args = ap.parse_args()
    builders = [b.strip() for b in args.builders.split(",") if b.strip()]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        print(f"bench_timing: {BASE_IMAGE} is missing; run scripts/base-image", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="cacheprof-bench-timing-"))
    try:
        ctx = make_fixture(tmp)
        print(f"fixture: {ctx}/Dockerfile, {args.rounds} round(s), builders {', '.join(builders)}, "
              f"{os.cpu_count()} CPUs", flush=True)
        print((ctx / "Dockerfile").read_text().rstrip(), flush=True)
        # raw[builder][instruction] -> list of measured duration_s
        raw: dict[str, dict[str, list[float]]] = {b: {} for b in builders}
        walls: dict[str, list[tuple[float, float | None]]] = {b: [] for b in builders}
        for r in range(1, args.rounds + 1):
            order = builders if r % 2 else list(reversed(builders))
            for b in order:
                wait_for_load(args.wait_load)
                work = tmp / f"{b}-{r}"
                work.mkdir()
                try:
                    load = f"{os.getloadavg()[0]:.2f}"
                except OSError:
                    load = "?"
                wall, doc = profile_once(ctx, b, work)
                steps, build_s = step_durations(doc)
                walls[b].append((wall, build_s))
                for instr, d in steps.items():
                    if d is not None:
                        raw[b].setdefault(instr, []).append(d)
                shown = ", ".join(f"{k.removeprefix('RUN ')} {v:.3f}" for k, v in steps.items()
                                  if k.startswith("RUN") and v is not None)
                print(f"round {r} {b:8s} (load {load}): build {build_s:.2f} s, process {wall:.2f} s; "
                      f"RUN steps: {shown}", flush=True)
                shutil.rmtree(work, ignore_errors=True)

        print()
        summary: dict[str, dict[str, object]] = {}
        for b in builders:
            base = raw[b].get(BASELINE, [])
            base_med = statistics.median(base) if base else 0.0
            print(f"{b}: measured duration_s minus sleep, seconds (min / median / max over "
                  f"{len(walls[b])} round(s)):")
            print(f"  {BASELINE:14s} (baseline)  {fmt3(base)}")
            summary[b] = {"baseline": base}
            for s in SLEEPS:
                instr = f"RUN sleep {s:g}"
                errs = [d - s for d in raw[b].get(instr, [])]
                net = [e - base_med for e in errs]
                summary[b][instr] = {"error": errs, "net_of_baseline_median": net}
                print(f"  {instr:14s}             {fmt3(errs)}   net of baseline median: {fmt3(net)}")
            other = {k: v for k, v in raw[b].items() if not k.startswith("RUN")}
            for k, v in other.items():
                print(f"  {k[:40]:40s} duration_s {fmt3(v).replace('+', '')}")
            summary[b]["other_steps"] = other
            summary[b]["walls"] = walls[b]
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
        return 0
    except RuntimeError as e:
        print(f"bench_timing: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
