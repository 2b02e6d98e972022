"""Benchmark: `cacheprof advise` on long generated Dockerfiles (issue 16, quadratic paths).

    python benchmarks/bench_advise_lines.py [LINES ...]      # default: 25000 100000

Each Dockerfile: FROM, an ARG, WORKDIR, then LINES instructions cycling through RUN (every fourth one a
`make` that names the ARG), COPY of one of 50 context files, and every tenth an unpinned remote ADD. Runs the
whole CLI once per size in a child process and prints lines, wall seconds, peak RSS and seconds per 10,000
lines (flat when linear).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dockerfile(n: int) -> str:
    lines = ["FROM busybox:1.36", "ARG VERSION=1", "WORKDIR /app"]
    for i in range(n):
        if i % 10 == 0:
            lines.append(f"ADD https://example.com/latest/f{i}.tar.gz /opt/")
        elif i % 4 == 0:
            lines.append(f"RUN make -j4 build{i} && echo $VERSION")
        elif i % 2 == 0:
            lines.append(f"RUN echo {i} > /tmp/f{i % 100}")
        else:
            lines.append(f"COPY f{i % 50}.txt /app/")
    return "\n".join(lines) + "\n"


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:]] or [25_000, 100_000]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp, "ctx")
        ctx.mkdir()
        for i in range(50):
            (ctx / f"f{i}.txt").write_text(f"{i}\n")
        print(f"{'lines':>9} {'seconds':>8} {'peak RSS':>9} {'s per 10k lines':>16}")
        for n in sizes:
            df = Path(tmp, f"Dockerfile.{n}")
            df.write_text(dockerfile(n))
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "cacheprof.cli", "advise", str(ctx), "-f", str(df)],
                               cwd=ROOT, capture_output=True)
            took = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if r.returncode not in (0, 1):
                print(f"{n:>9} failed (exit {r.returncode}): {r.stderr.decode(errors='replace')[-300:]}")
                continue
            print(f"{n:>9} {took:>8.2f} {max(rss, before) / 1024:>7.0f} MB {took / n * 10_000:>16.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
