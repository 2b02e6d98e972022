"""Progress on stderr while builds run, hyperfine-style.

`tty`: one transient live view (current build, current step with its elapsed time, overall progress
and ETA) that disappears when done; only failures stay on screen. `plain` (CI logs): one line per
finished build, written whole, never wrapped mid-command. `quiet`: nothing. `auto`: tty on a terminal,
else plain. Colour follows rich, which honours NO_COLOR.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..model import Build, Reporter, StepEvent, StepStatus
from .terminal import failure_lines

MODES = ("auto", "tty", "plain", "quiet")
_STYLE = {"CACHED": "green", "PULLED": "blue", "RUN": "yellow", "ERROR": "bold red", "CANCELED": "magenta",
          "UNKNOWN": "dim"}


def resolve_mode(mode: str, console: Console) -> str:
    if mode == "auto":
        return "tty" if console.is_terminal else "plain"
    return mode


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def middle_clip(text: str, width: int | None) -> str:
    """`/very/long/path/to/Dockerfile` -> `/very/lo…/to/Dockerfile` when wider than `width`."""
    if width is None or len(text) <= width or width < 8:
        return text
    tail = (width - 1) * 2 // 3
    return text[: width - 1 - tail] + "\u2026" + text[len(text) - tail:]


def _label(ev: StepEvent) -> str:
    return " ".join(ev.instruction.split())


class LiveProgress(Reporter):
    def __init__(self, console: Console | None = None, quiet: bool = False, mode: str = "auto",
                 plain_stream: TextIO | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.mode = "quiet" if quiet else resolve_mode(mode, self.console)
        self.quiet = self.mode == "quiet"
        self._plain = plain_stream
        self._live: Live | None = None
        self._scenario = ""
        self._scenario_name = ""
        self._number = 0
        self._total = 0
        self._done = 0
        self._t0 = time.monotonic()
        self._build_t0 = self._t0
        self._step = ""
        self._step_t0: float | None = None
        # Seconds of finished builds by scenario name: the ETA expects a scenario to cost what it did.
        self._took: dict[str, list[float]] = {}
        self.step = self._on_step

    # --- output -------------------------------------------------------------------------------------

    def _write_plain(self, line: str) -> None:
        stream = self._plain or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def _say(self, lines: Sequence[str]) -> None:
        """Lines that stay on screen (header, failures)."""
        if self.quiet:
            return
        if self.mode == "plain":
            for line in lines:
                self._write_plain(line)
            return
        for line in lines:
            self.console.print(Text(line), soft_wrap=True)

    def header(self, rows: Sequence[tuple[str, str]]) -> None:
        """What is about to be built, before the first build: Dockerfile, context, builder, engine."""
        if not rows:
            return
        key_w = max(len(k) for k, _ in rows)
        # On a terminal a long path keeps its head and its end (the file name), so nothing wraps.
        room = self.console.width - key_w - 3 if self.mode == "tty" else None
        self._say([f"{k:<{key_w}}  {middle_clip(v, room)}" for k, v in rows])

    # --- the live view ----------------------------------------------------------------------------

    def eta_s(self) -> float | None:
        took = [t for ts in self._took.values() for t in ts]
        if not took:
            return None
        mean = sum(took) / len(took)
        left = max(self._total - self._done, 0)
        current = self._took.get(self._scenario_name, [mean])[-1]  # this scenario's last time
        in_build = time.monotonic() - self._build_t0
        return max(current - in_build, 0.0) + max(left - 1, 0) * mean

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        width = self.console.width
        head = Text.from_markup(f"[bold]build {self._number}/{self._total}[/]  {escape(self._scenario)}")
        head.truncate(width, overflow="ellipsis")
        if self._step:
            elapsed = f"  {now - (self._step_t0 or now):5.1f} s"
            step = Text("  " + self._step)
            step.truncate(max(width - len(elapsed), 10), overflow="ellipsis")
            step.append(elapsed, style="cyan")
        else:
            step = Text("  starting", style="dim")
        eta = self.eta_s()
        tail = f" {self._done}/{self._total} builds  elapsed {_clock(now - self._t0)}"
        tail += f"  ETA {_clock(eta)}" if eta is not None else "  ETA -"
        bar_w = max(min(40, width - len(tail) - 1), 5)
        grid = Table.grid()
        grid.add_row(ProgressBar(total=max(self._total, 1), completed=self._done, width=bar_w), Text(tail))
        return Group(head, step, grid)

    def _start_live(self) -> None:
        if self.mode == "tty" and self._live is None:
            self._live = Live(self, console=self.console, transient=True, refresh_per_second=8)
            self._live.start()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # --- Reporter -------------------------------------------------------------------------------

    def build_started(self, scenario: str, repeat: int, number: int, total: int) -> None:
        if self.quiet:
            return
        self._scenario_name = scenario
        self._scenario = f"{scenario} #{repeat}"
        self._number, self._total = number, total
        self._done = number - 1
        self._build_t0 = time.monotonic()
        self._step, self._step_t0 = "", None
        self._start_live()

    def warmup_started(self, number: int, total: int) -> None:
        """An untimed warm-up build before the first measured one: shown, never counted as a build."""
        if self.quiet:
            return
        self._scenario = f"warm-up {number}/{total} (untimed)"
        self._step, self._step_t0 = "", None
        if self.mode == "plain":
            self._write_plain(self._scenario)
        self._start_live()

    def _on_step(self, ev: StepEvent) -> None:
        if self.quiet or ev.status is not None:
            return
        self._step = _label(ev)
        self._step_t0 = time.monotonic()

    def build_finished(self, build: Build) -> None:
        if self.quiet:
            return
        took = time.monotonic() - self._build_t0
        self._took.setdefault(self._scenario_name, []).append(took)
        self._done = self._number
        self._step, self._step_t0 = "", None
        if self.mode == "plain":
            ran = sum(s.status in (StepStatus.RUN, StepStatus.ERROR) for s in build.steps)
            state = "ok" if build.ok else "FAILED"
            wall = f"{build.duration_s:.2f} s" if build.duration_s is not None else "-"
            self._write_plain(f"build {self._number}/{self._total} {self._scenario}: {state}, {wall}, "
                              f"{ran} of {len(build.steps)} steps ran")
        if not build.ok:
            head = [f"build {self._number}/{self._total} {self._scenario} FAILED"] if self.mode == "tty" else []
            self._say([*head, *failure_lines(build)])
        if self._done >= self._total:
            self.close()

    def note(self, line: str) -> None:
        """A line that stays (e.g. scenarios skipped after a failed cold build)."""
        self._say([line])
