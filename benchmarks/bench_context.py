"""Benchmark: memory and context-sending time of `cacheprof profile` on a big build context.

    python3 benchmarks/bench_context.py [--files 100000] [--gb 2] [--rounds 3] [--dir DIR] [--keep]

Generates a context of about --gb GB in --files files (default: 2 GB, 100,000 files), half of it
(files and bytes) excluded by .dockerignore (`node_modules`, `.git`, `*.log`), and a trivial Dockerfile
(FROM busybox:1.36 and a LABEL with a fresh nonce, so no earlier cache matters). Then, --rounds times,
interleaved (the order alternates by round):

  (a) docker CLI  DOCKER_BUILDKIT=0 docker build -t TAG CTX           (twice: the same context sent twice)
  (b) cacheprof   python -m cacheprof.cli profile CTX --builder classic -s warm -s edit:src/d000/f000000.txt
                  -s warm --format json --quiet --out DIR

and prints, per round and as medians (n = rounds):
  - peak RSS (ru_maxrss from wait4) of each cacheprof command and of each docker CLI run;
  - each cacheprof build's wall time (profile.json `duration_s`: walking, reading and sending the context,
    plus the build of one LABEL) and each docker CLI run's wall time (the same work, plus the CLI's start);
  - the ratio of cacheprof's median per-build time to the docker CLI's median (target <= 1.2).
The LABEL build is the same trivial daemon work on both sides, so the ratio is the cost of preparing and
sending the context. No assertion: it prints figures. Exit status 1 if a build fails.

Removes everything it creates (its tag, the generated context unless --keep; cacheprof removes its own
tags), also on failure or Ctrl-C. Never prunes and never touches other images.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = "busybox:1.36"
EDIT = "src/d000/f000000.txt"


def generate(root: Path, files: int, total_bytes: int) -> tuple[int, int]:
    """Writes the context; returns (files, bytes) that .dockerignore lets through."""
    rng = random.Random(1)
    pool = rng.randbytes(1 << 20)
    mean = total_bytes // files
    sent_files = sent_bytes = 0
    kept = files // 2
    for i in range(files):
        if i < kept:
            rel = f"src/d{i // 100:03d}/f{i:06d}.txt"
        elif i < kept + (files - kept) * 3 // 5:
            rel = f"node_modules/pkg{i // 200:04d}/lib/m{i:06d}.js"
        elif i < files - 100:
            rel = f".git/objects/{i % 256:02x}/{i:038x}"
        else:
            rel = f"logs/run{i:06d}.log"
        size = rng.randint(1, 2 * mean - 1)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        start = rng.randrange(0, len(pool) - min(size, len(pool)) + 1)
        with open(path, "wb") as fh:
            fh.write(f"{rel}\n".encode())
            left = size
            while left > 0:
                piece = pool[start : start + left] if start + left <= len(pool) else pool[start:]
                fh.write(piece)
                left -= len(piece)
                start = 0
        if i < kept:
            sent_files += 1
            sent_bytes += size + len(rel) + 1
    (root / ".dockerignore").write_text("node_modules\n.git\n**/*.log\n!src/**/keep.log\n")
    return sent_files, sent_bytes


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, float, int, str]:
    """(exit status, wall s, peak RSS bytes, stderr tail) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return proc.returncode, wall, usage.ru_maxrss * 1024, err.decode(errors="replace")[-400:]


def mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where to generate the context")
    ap.add_argument("--keep", action="store_true", help="keep the generated context")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleanup runs on kill too
    nonce = secrets.token_hex(6)
    top = Path(tempfile.mkdtemp(prefix="cacheprof-bench-ctx-", dir=args.dir))
    ctx, outs = top / "ctx", top / "out"
    ctx.mkdir()
    tag = f"cacheprof-bench-ctx:{nonce}"
    failed = False
    try:
        t0 = time.perf_counter()
        sent_files, sent_bytes = generate(ctx, args.files, int(args.gb * 1e9))
        (ctx / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nLABEL cacheprof.bench={nonce}\n")
        total = sum(p.stat().st_size for p in ctx.rglob("*") if p.is_file())
        print(f"context: {args.files} files, {total / 1e9:.2f} GB; sent after .dockerignore: {sent_files} files, "
              f"{sent_bytes / 1e9:.2f} GB (generated in {time.perf_counter() - t0:.0f} s)")
        docker_env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        docker_cmd = ["docker", "build", "-q", "-t", tag, str(ctx)]
        # The first build makes the LABEL layer, so every measured build below is the same warm one.
        code, wall, _, err = run(docker_cmd, docker_env)
        if code:
            print(f"docker build failed: {err}")
            return 1
        print(f"first docker build (not counted): {wall:.1f} s")
        docker_walls: list[float] = []
        docker_rss: list[int] = []
        cp_builds: list[float] = []
        cp_rss: list[int] = []
        transfers: list[float] = []
        later: list[float] = []  # cacheprof builds after the first of their command
        print(f"\n{'round':>5}  {'docker CLI builds (s)':>22}  {'cacheprof builds (s)':>22}  "
              f"{'cacheprof command (s)':>21}  {'cacheprof peak RSS':>18}")
        for r in range(1, args.rounds + 1):
            d_round: list[float] = []
            c_round: list[float] = []
            c_wall = 0.0
            for side in (("docker", "cacheprof") if r % 2 else ("cacheprof", "docker")):
                if side == "docker":
                    for _ in range(2):
                        code, wall, rss, err = run(docker_cmd, docker_env)
                        if code:
                            raise RuntimeError(f"docker build failed: {err}")
                        d_round.append(wall)
                        docker_rss.append(rss)
                    continue
                out = outs / f"r{r}"
                cmd = [PY, "-m", "cacheprof.cli", "profile", str(ctx), "--builder", "classic", "-s", "warm",
                       "-s", f"edit:{EDIT}", "-s", "warm", "--format", "json", "--quiet", "--out", str(out)]
                code, c_wall, c_rss, err = run(cmd)
                if code:
                    raise RuntimeError(f"cacheprof failed (exit {code}): {err}")
                doc = json.loads((out / "profile.json").read_text())
                c_round.extend(float(b["duration_s"]) for b in doc["builds"])
                later.extend(float(b["duration_s"]) for b in doc["builds"][1:])
                transfers.extend(float(b["transfer_s"]) for b in doc["builds"] if b.get("transfer_s") is not None)
                cp_rss.append(c_rss)
            docker_walls += d_round
            cp_builds += c_round
            print(f"{r:>5}  {', '.join(f'{x:.2f}' for x in d_round):>22}  "
                  f"{', '.join(f'{x:.2f}' for x in c_round):>22}  {c_wall:>21.2f}  {mb(cp_rss[-1]):>18}")
        d_med, c_med = statistics.median(docker_walls), statistics.median(cp_builds)
        print(f"\nmedian per build: docker CLI {d_med:.2f} s (n={len(docker_walls)}), "
              f"cacheprof {c_med:.2f} s (n={len(cp_builds)})")
        print(f"ratio cacheprof / docker CLI per build: {c_med / d_med:.2f} (target <= 1.2); without the first "
              f"build of each command: {statistics.median(later) / d_med:.2f} (n={len(later)})")
        print(f"peak RSS: cacheprof command max {mb(max(cp_rss))} (n={len(cp_rss)}, target < 300 MB); "
              f"docker CLI max {mb(max(docker_rss))}")
        if transfers:
            print(f"cacheprof transfer_s (upload of the tar) median {statistics.median(transfers):.2f} s "
                  f"(n={len(transfers)})")
        print(f"throughput sent: docker CLI {sent_bytes / d_med / 1e6:.0f} MB/s, "
              f"cacheprof {sent_bytes / c_med / 1e6:.0f} MB/s")
    except (RuntimeError, KeyboardInterrupt) as e:
        print(e or "interrupted")
        failed = True
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.keep:
            print(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
