"""The report, rendered by a child process that loads the report stack (pandas, matplotlib) while the
builds run, so the command's fixed cost after its last build is only the rendering itself.

The parent starts it before the first build, writes profile.json, prints its table, then hands over the
folder and waits. The child exits on its own when the parent goes away (its stdin closes).
Run as `python -m cacheprof.render.report_worker`; it reads one line: the report folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cacheprof


class ReportWorker:
    def __init__(self) -> None:
        # The child must import this very package (a worktree, not whatever `cacheprof` is installed).
        root = str(Path(cacheprof.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "cacheprof.render.report_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )

    def render(self, out: Path) -> str | None:
        """Write the report into `out` (profile.json already there); None when done, else why not."""
        proc, self._proc = self._proc, None
        if proc is None:
            return "the report worker was already used"
        assert proc.stdin is not None and proc.stderr is not None
        try:
            proc.stdin.write(os.fsencode(str(out.resolve())) + b"\n")
            proc.stdin.close()
        except OSError:
            pass  # it died early; its exit status says why
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        if proc.wait() == 0:
            return None
        return err.splitlines()[-1] if err else f"the report worker exited with status {proc.returncode}"

    def cancel(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()


def main() -> int:
    # Loaded now, while the parent's builds run: the point of this process.
    from ..analysis import profile_stats  # noqa: F401
    from ..errors import CacheprofError
    from ..store.profile_json import loads
    from . import html  # noqa: F401
    from .charts import _empty, render
    from .writer import write_report

    warm = _empty("warming up")
    render(warm, "png")  # fonts, the Agg canvas and the SVG backend load on first use
    render(warm, "svg")

    line = sys.stdin.buffer.readline()
    if not line.strip():
        return 0  # the parent went away or needs no report
    out = Path(os.fsdecode(line.rstrip(b"\n")))
    try:
        profile = loads((out / "profile.json").read_text(encoding="utf-8"), str(out / "profile.json"))
        write_report(profile, out, write_profile=False)
    except CacheprofError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"cannot write the report into {out}: {e.strerror}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
