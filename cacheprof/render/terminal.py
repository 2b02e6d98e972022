"""The final terminal output of `profile`: one compact table per scenario across its repetitions, steps keyed
by Dockerfile line, fitted to the terminal width; then a verdict in words. Returns text.

Columns are a list, so a column another part of the model adds (transfer seconds, sizes, a `why`) is one
more entry; the instruction column takes what the width leaves.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model import Build, Profile, Step, StepStatus

ELLIPSIS = "…"
MIN_WIDTH, MAX_WIDTH = 60, 160


def fit_width(columns: int | None) -> int:
    """The width to lay out for: the terminal's, kept within [60, 160]; 80 when unknown (a pipe)."""
    return max(MIN_WIDTH, min(MAX_WIDTH, columns or 80))


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def secs(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def spread(values: Sequence[float]) -> str:
    """`min…max` of several values; empty for one."""
    if len(values) < 2:
        return ""
    return f"{secs(min(values))}{ELLIPSIS}{secs(max(values))}"


# --- one row per Dockerfile step, across repetitions ---------------------------------------------------


@dataclass(frozen=True)
class StepRow:
    """A Dockerfile step over a scenario's builds."""

    line: int | None
    stage: str
    position: int
    instruction: str
    statuses: tuple[str, ...]
    durations_s: tuple[float, ...]
    sizes_bytes: tuple[int, ...] = ()

    @property
    def status(self) -> str:
        """The status every build agreed on, or the commonest with its count (`RUN 2/3`)."""
        counts = Counter(self.statuses)
        top, n = counts.most_common(1)[0]
        return top if n == len(self.statuses) else f"{top} {n}/{len(self.statuses)}"

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.durations_s) if self.durations_s else None


def step_rows(builds: Sequence[Build], labels: dict[tuple[str, int], str] | None = None) -> list[StepRow]:
    """The steps of `builds`, merged by (stage, position), ordered by Dockerfile line. Statuses come from
    every build; seconds only from ok builds when there are several (a failed build's times never enter a
    median), from the one build when it is alone."""
    seen: dict[tuple[str, int], list[Step]] = {}
    timed: set[int] = set()
    for b in builds:
        for s in b.steps:
            seen.setdefault(s.key, []).append(s)
            if b.ok or len(builds) == 1:
                timed.add(id(s))
    rows = []
    for key, steps in seen.items():
        first = steps[0]
        text = (labels or {}).get(key) or first.instruction
        rows.append(StepRow(first.line, first.stage, first.position, text, tuple(str(s.status) for s in steps),
                            tuple(s.duration_s for s in steps if s.duration_s is not None and id(s) in timed),
                            tuple(s.size_bytes for s in steps if s.size_bytes is not None)))
    # Steps without a line (a log without a Dockerfile) keep the builder's order after the numbered ones.
    return sorted(rows, key=lambda r: (r.line is None, r.line or 0, r.stage, r.position))


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    cell: Callable[[StepRow], str]
    right: bool = True


def size(n: int | None) -> str:
    """Bytes in decimal units, as `docker history` shows them."""
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n}B"


def _table(rows: Sequence[StepRow], width: int, repeated: bool, multi_stage: bool,
           whys: dict[tuple[str, int], str] | None = None) -> list[str]:
    cols = [Column("line", 4, lambda r: "" if r.line is None else str(r.line))]
    tail = [Column("status", 10, lambda r: r.status, right=False), Column("median s" if repeated else "s", 8,
                                                                          lambda r: secs(r.median_s))]
    if repeated:
        tail.append(Column(f"min{ELLIPSIS}max", 11, lambda r: spread(r.durations_s)))
    if any(r.sizes_bytes for r in rows):  # the layer each step added to the image (the last build's)
        tail.append(Column("layer", 7, lambda r: size(r.sizes_bytes[-1]) if r.sizes_bytes else ""))
    if whys:  # edit and arg scenarios: the first cause of each re-run step (from `explain`)
        why_w = max(16, min(48, (width - 40) // 2))
        tail.append(Column("why", why_w, lambda r: clip(whys.get((r.stage, r.position), ""), why_w), right=False))
    fixed = sum(c.width for c in cols + tail) + len(cols + tail)  # one space before each column
    instr_w = max(12, min(width - 1 - fixed, 90))

    def label(r: StepRow) -> str:
        return clip(f"[{r.stage}] {r.instruction}" if multi_stage else r.instruction, instr_w)

    cols.append(Column("instruction", instr_w, label, right=False))
    cols += tail

    def fmt(cells: Sequence[str]) -> str:
        parts = [f"{c:>{col.width}}" if col.right else f"{c:<{col.width}}" for col, c in zip(cols, cells, strict=True)]
        return " ".join(parts).rstrip()

    out = [fmt([c.title for c in cols])]
    out += [fmt([c.cell(r) for c in cols]) for r in rows]
    return out


def scenario_block(name: str, builds: Sequence[Build], width: int, multi_stage: bool,
                   whys: dict[tuple[str, int], str] | None = None) -> list[str]:
    ok = [b for b in builds if b.ok]
    walls = [b.duration_s for b in ok if b.duration_s is not None]
    parts = [f"n={len(builds)}" + (f" ({len(builds) - len(ok)} failed)" if len(ok) < len(builds) else "")]
    if walls:
        rng = spread(walls)
        parts.append(f"wall {secs(statistics.median(walls))} s" + (f" ({rng})" if rng else ""))
    transfers = [b.transfer_s for b in ok if b.transfer_s is not None]
    if transfers:  # part of the wall time, never of a step
        parts.append(f"context transfer {secs(statistics.median(transfers))} s")
    images = [b.image_size_bytes for b in ok if b.image_size_bytes is not None]
    if images:
        parts.append(f"image {size(images[-1])}")
    steps = [s for b in builds for s in b.steps]
    if steps:
        ran = sum(s.status in (StepStatus.RUN, StepStatus.ERROR) for s in steps) / len(builds)
        parts.append(f"{ran:.3g} of {len(steps) / len(builds):.3g} steps ran")
    head = f"== {name} "
    info = ", ".join(parts)
    title = clip(head + "== " + info, width - 1) if len(head) + 3 + len(info) < width else clip(head + "==", width - 1)
    lines = [title]
    if len(head) + 3 + len(info) >= width:  # the figures on their own lines, wrapped, never cut
        lines += wrap(info, width - 1, indent="   ")
    lines += _table(step_rows(builds), width, len(builds) > 1, multi_stage, whys)
    return lines


def scenario_whys(profile: Profile) -> dict[str, dict[tuple[str, int], str]]:
    """Per edit/arg scenario, a short why for each step that re-ran where its comparison build had it
    cached: the cause at the step that has it, `after line N` at the steps that followed."""
    from ..analysis.explain import explain_all

    out: dict[str, dict[tuple[str, int], str]] = {}
    for e in explain_all(profile):
        if not e.scenario.startswith(("edit:", "arg:")):
            continue
        mine = out.setdefault(e.scenario, {})
        for root, followers in e.causes():
            mine.setdefault((root.stage, root.position), re.sub(r"^`[^`]*` \(line \d+\): ", "", root.cause))
            for f in followers:
                mine.setdefault((f.stage, f.position), f"after line {root.line}")
    return out


# Lines of a failing step's output shown under a failure, as `docker build` does.
SHOWN_LOG_LINES = 10


def failure_lines(build: Build, width: int | None = None) -> list[str]:
    """The failing step with its Dockerfile line, the tail of its own output, then the engine's error."""
    lines = []
    failing = next((s for s in build.steps if s.status is StepStatus.ERROR), None)
    if failing is not None:
        at = f"line {failing.line}: " if failing.line is not None else ""
        lines.append(f"  failing step: {at}{' '.join(failing.instruction.split())}")
        lines += [f"  | {x}" for x in failing.log_tail[-SHOWN_LOG_LINES:]]
    lines.append(f"  error: {build.error or 'build failed'}")
    if width is None:
        return lines
    return [x[:2] + clip(x[2:], width - 3) for x in lines]


def render_profile(profile: Profile, width: int = 80, verdict: str = "") -> str:
    """Every scenario's table, the failures with their log tails, then the verdict (wrapped to the width)."""
    multi_stage = len({s.stage for b in profile.builds for s in b.steps}) > 1
    out: list[str] = []
    whys = scenario_whys(profile) if any(b.inputs for b in profile.builds) else {}
    for name in profile.scenario_names:
        builds = profile.builds_of(name)
        if not builds:
            continue
        out += [*scenario_block(name, builds, width, multi_stage, whys.get(name)), ""]
    shown: set[str | None] = set()
    for b in profile.builds:
        if b.ok or b.error in shown:  # the same failure in every repetition is shown once
            continue
        shown.add(b.error)
        out += [clip(f"FAILED: {b.scenario} #{b.repeat}", width - 1), *failure_lines(b, width), ""]
    if verdict:
        out += wrap(verdict, width - 1)
    return "\n".join(out).rstrip("\n") + "\n"


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Words to lines of at most `width` characters (a longer word is cut: nothing may wrap); continuation
    lines start with `indent`."""
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=True,
                         break_on_hyphens=False) or [""]


# --- colour ------------------------------------------------------------------------------------------------

_SGR = {"CACHED": "32", "PULLED": "34", "RUN": "33", "ERROR": "1;31", "CANCELED": "35", "UNKNOWN": "2"}


def colorize(text: str) -> str:
    """Colour the status cells of rendered tables and the FAILED lines with ANSI codes. Applied after the
    layout, so the widths stay those of the plain text; the caller decides (a terminal, and no NO_COLOR)."""
    import re

    out, status_at = [], None
    for line in text.split("\n"):
        if line.startswith("line ") and " status" in line:
            status_at = line.index(" status") + 1
        elif not line.strip():
            status_at = None
        elif status_at is not None:
            m = re.match(r"[A-Z]+", line[status_at:])
            if m and m.group(0) in _SGR:
                word = m.group(0)
                line = f"{line[:status_at]}\x1b[{_SGR[word]}m{word}\x1b[0m{line[status_at + len(word):]}"
        if line.startswith("FAILED: "):
            line = f"\x1b[1;31m{line}\x1b[0m"
        out.append(line)
    return "\n".join(out)


def use_colour(stream: object, env: dict[str, str] | None = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set (any value), as https://no-color.org asks."""
    import os

    env = dict(os.environ) if env is None else env
    isatty = getattr(stream, "isatty", None)
    return "NO_COLOR" not in env and bool(isatty and isatty())
