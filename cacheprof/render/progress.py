"""Live progress on stderr while builds run: the scenario, the current step, each step's status."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from ..model import Build, Reporter, StepEvent

_STYLE = {"CACHED": "green", "PULLED": "blue", "RUN": "yellow", "ERROR": "bold red", "CANCELED": "magenta",
          "UNKNOWN": "dim"}


class LiveProgress(Reporter):
    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.quiet = quiet
        self._status: Status | None = None
        self._scenario = ""
        self.step = self._on_step

    def build_started(self, scenario: str, repeat: int, number: int, total: int) -> None:
        if self.quiet:
            return
        self._scenario = f"{scenario} (repeat {repeat})"
        self.console.print(f"[bold]build {number}/{total}[/]: {escape(self._scenario)}")
        if self.console.is_terminal:
            self._status = self.console.status(f"{escape(self._scenario)}: starting")
            self._status.start()

    def _on_step(self, ev: StepEvent) -> None:
        if self.quiet:
            return
        label = " ".join(f"[{ev.stage} {ev.position}] {ev.instruction}".split())
        if len(label) > 90:
            label = label[:87] + "..."
        if ev.status is None:
            if self._status is not None:
                self._status.update(f"{escape(self._scenario)}: {escape(label)}")
            return
        secs = f"{ev.duration_s:7.2f}s" if ev.duration_s is not None else "      -"
        style = _STYLE.get(ev.status, "")
        self.console.print(f"  [{style}]{ev.status:<6}[/] {secs}  {escape(label)}", markup=True, highlight=False)

    def build_finished(self, build: Build) -> None:
        if self._status is not None:
            self._status.stop()
            self._status: Status | None = None
        if self.quiet:
            return
        # Error texts hold brackets (`executor failed running [/bin/sh -c …]`): escape them, not markup.
        state = "ok" if build.ok else f"[bold red]FAILED[/]: {escape(build.error or '')}"
        hit = f"{build.hit_rate:.0%}" if build.hit_rate is not None else "-"
        self.console.print(f"  done in {build.duration_s or 0:.2f}s, hit rate {hit}, {state}")
