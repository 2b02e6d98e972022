"""Verdicts in words, as hyperfine ends with "X ran 12.9x faster than Y". Pure: text from records.

profile: the costliest waste first (which edit, what it re-runs and why), then the key figures.
compare: per scenario, AFTER's speed-up or slow-down with its n, or how many rounds a verdict needs.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis.compare import Comparison, t975
from ..model import Build, Profile, StepStatus

TIMES = "\u00d7"  # the multiplication sign of "12.9x faster"


def short_instruction(text: str, limit: int = 24) -> str:
    """`RUN pip install -r requirements.txt` -> `RUN pip install`; short ones stay whole."""
    words = text.split()
    whole = " ".join(words)
    return whole if len(whole) <= limit else " ".join(words[:3])


def _s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


@dataclass(frozen=True)
class EditWaste:
    """What one edit scenario re-ran, from its good builds: the first step it invalidated and the
    costliest RUN step that re-ran (median seconds over the builds)."""

    scenario: str
    glob: str
    median_wall_s: float
    n: int
    first_line: int | None
    first_text: str
    costly_line: int | None
    costly_text: str
    costly_s: float
    same_step: bool

    @property
    def broad_copy(self) -> bool:
        """The first invalidated step copies the whole context (`COPY . .`): whatever the RUN after it
        needs, any edit re-runs it. That is the waste Docker's guidance warns about."""
        return copies_whole_context(self.first_text)


def copies_whole_context(instruction: str) -> bool:
    words = instruction.split()
    if len(words) < 3 or words[0].upper() not in ("COPY", "ADD"):
        return False
    sources = [w for w in words[1:-1] if not w.startswith("--")]
    return any(s.rstrip("/") in ("", ".", "*", "./*") or s == "./" for s in sources)


def edit_waste(scenario: str, builds: Sequence[Build]) -> EditWaste | None:
    ok = [b for b in builds if b.ok and b.duration_s is not None]
    if not ok:
        return None
    runs: dict[tuple[str, int], list[float]] = {}
    statuses: dict[tuple[str, int], Counter[str]] = {}
    texts: dict[tuple[str, int], tuple[int, int | None, str]] = {}
    for b in ok:
        for s in b.steps:
            statuses.setdefault(s.key, Counter())[str(s.status)] += 1
            texts.setdefault(s.key, (s.index, s.line, s.instruction))
            if s.status is StepStatus.RUN:
                runs.setdefault(s.key, []).append(s.duration_s or 0.0)
    # Steps most builds re-ran; the first by execution order is the one the edit invalidated.
    rerun = [k for k, c in statuses.items() if c[str(StepStatus.RUN)] * 2 > len(ok)]
    if not rerun:
        return None
    first = min(rerun, key=lambda k: texts[k][0])
    # Waste is a RUN re-run by an edit; re-copying the edited files is the edit itself.
    commands = [k for k in rerun if texts[k][2].split(None, 1)[:1] == ["RUN"]]
    if not commands:
        return None
    costly = max(commands, key=lambda k: (statistics.median(runs[k]), -texts[k][0]))
    return EditWaste(
        scenario=scenario, glob=scenario.split(":", 1)[1], median_wall_s=statistics.median(b.duration_s or 0.0
                                                                                         for b in ok),
        n=len(ok), first_line=texts[first][1], first_text=texts[first][2], costly_line=texts[costly][1],
        costly_text=texts[costly][2], costly_s=statistics.median(runs[costly]), same_step=first == costly)


def _at(line: int | None) -> str:
    return f" (line {line})" if line is not None else ""


def waste_sentence(w: EditWaste, fix_available: bool) -> str:
    costly = f"`{short_instruction(w.costly_text)}`{_at(w.costly_line)}"
    first = f"`{short_instruction(w.first_text)}`{_at(w.first_line)}"
    if w.same_step:
        text = f"An edit of {w.glob} costs {_s(w.median_wall_s)}: it re-runs {costly} and what follows."
    elif w.broad_copy:
        text = f"An edit of {w.glob} costs {_s(w.median_wall_s)}: {costly} re-runs because {first} comes first."
    else:
        line = f"line {w.costly_line}, " if w.costly_line is not None else ""
        text = (f"An edit of {w.glob} costs {_s(w.median_wall_s)}: it re-runs `{short_instruction(w.costly_text)}` "
                f"({line}{_s(w.costly_s)}) after {first}.")
    if fix_available:
        text += " Run `cacheprof advise` for the fix."
    return text


def _median_ok(builds: Sequence[Build]) -> tuple[float | None, int]:
    walls = [b.duration_s for b in builds if b.ok and b.duration_s is not None]
    return (statistics.median(walls) if walls else None), len(walls)


def costliest_waste(profile: Profile) -> EditWaste | None:
    """The costliest edit that re-runs a RUN step behind a `COPY . .` (waste), else the costliest edit that
    re-runs a RUN step at all."""
    found = [w for name in profile.scenario_names if name.startswith("edit:")
             if (w := edit_waste(name, profile.builds_of(name))) is not None]
    waste = [w for w in found if w.broad_copy] or found
    return max(waste, key=lambda w: w.median_wall_s) if waste else None


def profile_verdict(profile: Profile, fix_available: bool = False) -> str:
    """One paragraph: the costliest waste, the key figures, what failed, and whether n is enough."""
    parts: list[str] = []
    cold_failed = next((b for b in profile.builds_of("cold") if not b.ok), None)
    if cold_failed is not None:
        step = next((s for s in cold_failed.steps if s.status is StepStatus.ERROR), None)
        text = " ".join(step.instruction.split()) if step else ""
        text = text if len(text) <= 40 else text[:39] + "\u2026"
        where = f" at line {step.line} (`{text}`)" if step and step.line else ""
        parts.append(f"The cold build failed{where}: {cold_failed.error or 'build failed'}.")
        not_run = [n for n in profile.scenario_names if not profile.builds_of(n)]
        if not_run:
            parts.append(f"Not run, as they would fail the same way: {', '.join(not_run)}.")
    waste = costliest_waste(profile)
    if waste is not None:
        parts.append(waste_sentence(waste, fix_available))
    cold, n_cold = _median_ok(profile.builds_of("cold"))
    warm, n_warm = _median_ok(profile.builds_of("warm"))
    figures = []
    if cold is not None:
        figures.append(f"cold {_s(cold)}")
    if warm is not None:
        figures.append(f"warm {_s(warm)}")
    if figures:
        saved = f"; the cache saves {_s(cold - warm)} on a warm rebuild" if cold is not None and warm is not None \
            else ""
        n = min(x for x in (n_cold, n_warm) if x) if (n_cold or n_warm) else 0
        parts.append(f"{', '.join(figures).capitalize()}{saved} (n={n}).")
    if waste is None and any(name.startswith("edit:") for name in profile.scenario_names):
        parts.append("No edit re-runs a RUN step: each re-copies only what it changed.")
    failed = [b for b in profile.builds if not b.ok]
    if failed:
        parts.append(f"{len(failed)} of {len(profile.builds)} builds failed; their times are left out.")
    reps = max((b.repeat for b in profile.builds), default=0)
    if reps == 1 and profile.builds and not failed:
        parts.append("One repetition: run --repeat 3 or more for the spread.")
    if not parts:
        parts.append("No builds were measured." if not profile.builds else "Nothing to compare: no cold build.")
    return " ".join(parts)


# --- compare -----------------------------------------------------------------------------------------------


def rounds_needed(diffs: Sequence[float], min_effect_s: float) -> int | None:
    """Rounds after which a paired Student-t 95% interval of this size of difference would exclude zero,
    if the spread stays as measured; None when the difference is below the smallest effect called."""
    if len(diffs) < 2:
        return None
    mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
    if abs(mean) < min_effect_s or mean == 0:
        return None
    if sd == 0:
        return len(diffs)
    for n in range(len(diffs), 1000):
        if t975(n - 1) * sd / math.sqrt(n) < abs(mean):
            return n
    return None


def compare_verdict_lines(c: Comparison) -> list[str]:
    """One line per scenario, the clearest first: `AFTER is 12.9x faster on edit:x (3.58 s → 0.28 s, n=3)`."""
    scored: list[tuple[int, float, str]] = []
    for s in c.scenarios:
        b, a = s.before, s.after
        n = s.n
        if s.verdict == "failed" or b.mean_s is None or a.mean_s is None:
            scored.append((3, 0.0, f"{s.scenario}: a build failed, no verdict"))
            continue
        figures = f"(mean {_s(b.mean_s)} → {_s(a.mean_s)}, n={n})"
        if s.verdict in ("faster", "slower"):
            fast, slow = sorted((b.mean_s, a.mean_s))
            ratio = slow / fast if fast > 0 else math.inf
            times = f"{ratio:.1f}{TIMES}" if math.isfinite(ratio) else "much"
            scored.append((0, -ratio, f"AFTER is {times} {s.verdict} on {s.scenario} {figures}"))
            continue
        diffs = [y - x for x, y in zip(b.runs_s, a.runs_s, strict=False)]
        if n < 2:
            why = "one round gives no interval: run --repeat 3 or more"
        else:
            need = rounds_needed(diffs, max(c.min_effect_s, c.min_effect_ratio * b.mean_s))
            if need is not None and need > n:
                why = f"about {need} rounds would tell (--repeat {need})"
            else:
                why = "the difference is within the noise or below --min-effect"
        scored.append((1 if "--repeat" in why else 2, 0.0, f"No clear difference on {s.scenario} {figures}: {why}"))
    return [text for _, _, text in sorted(scored, key=lambda t: (t[0], t[1]))]
