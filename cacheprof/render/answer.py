"""The first screen of a profile report: the answer before the statistics.

The costliest edit and what it rebuilds in seconds, the fix in one sentence, the key figures (cold, warm,
each edit, cache saved) and any failure with its log tail. Pure: text from the profile and its Analysis,
whose figures (medians over ok builds, cache saved) are used as they are. Backticks mark code; the HTML
renderer turns them into <code>.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..analysis.profile_stats import Analysis
from ..model import Profile, StepStatus
from .verdict import EditWaste, costliest_waste, short_instruction, waste_sentence

MAX_EDIT_FIGURES = 5


@dataclass(frozen=True)
class Failure:
    scenario: str
    repeat: int
    line: int | None
    instruction: str
    log_tail: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class Answer:
    headline: str
    fix: str
    # (label, value, note): e.g. ("cold", "4.21 s", "n=3").
    figures: tuple[tuple[str, str, str], ...]
    failures: tuple[Failure, ...]


def _s(x: float | None) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def fix_sentence(w: EditWaste) -> str:
    if not w.broad_copy and not w.same_step:
        return (f"If `{short_instruction(w.costly_text)}` does not need {w.glob}, copy {w.glob} after it; if it "
                "does, this rebuild is the price of the change.")
    if w.same_step:
        return (f"Split what {w.glob} feeds into `{short_instruction(w.costly_text)}` from the rest, so that an "
                "edit re-runs only the part that needs it.")
    return (f"Copy only the files `{short_instruction(w.costly_text)}` needs before it and move "
            f"`{short_instruction(w.first_text)}` after it: an edit of {w.glob} then re-runs only the copy. "
            "`cacheprof advise` writes that Dockerfile.")


def failures(profile: Profile) -> tuple[Failure, ...]:
    """Failed builds, one per distinct error (the same failure in every repetition is shown once)."""
    out: list[Failure] = []
    seen: set[str | None] = set()
    for b in profile.builds:
        if b.ok or b.error in seen:
            continue
        seen.add(b.error)
        step = next((s for s in b.steps if s.status is StepStatus.ERROR), None)
        out.append(Failure(b.scenario, b.repeat, step.line if step else None,
                           " ".join(step.instruction.split()) if step else "", step.log_tail if step else (),
                           b.error or "build failed"))
    return tuple(out)


def answer(profile: Profile, analysis: Analysis) -> Answer:
    a = analysis
    sc = a.scenarios

    def med(name: str | None) -> float | None:
        if name is None or name not in sc.index:
            return None
        v = float(sc.at[name, "median_total_s"])
        return None if math.isnan(v) else v

    def n_ok(name: str) -> str:
        ok, total = int(sc.at[name, "ok"]), int(sc.at[name, "builds"])
        return f"n={ok}" if ok == total else f"n={ok} of {total} ok"

    fails = failures(profile)
    waste = costliest_waste(profile)
    cold_failed = any(f.scenario == a.cold for f in fails)
    if cold_failed:
        f = next(f for f in fails if f.scenario == a.cold)
        at = f" at line {f.line}" if f.line is not None else ""
        text = f.instruction if len(f.instruction) <= 48 else f.instruction[:47] + "\u2026"
        headline = f"The cold build failed{at}: `{text}`. Nothing else can be measured."
        fix = "Fix the failing step first (its output is below), then profile again."
    elif waste is not None:
        headline = waste_sentence(waste, fix_available=False)
        fix = fix_sentence(waste)
    elif a.edits:
        headline = "No edit re-runs a RUN step: each edit re-copies only what it changed."
        fix = "Nothing to fix in the step order."
    elif a.cold and a.warm and med(a.cold) is not None and med(a.warm) is not None:
        headline = f"A warm rebuild takes {_s(med(a.warm))} against {_s(med(a.cold))} cold."
        fix = "Add edit: scenarios (or run without -s) to see what each file change costs."
    else:
        headline = a.summary_lines[0] if a.summary_lines else "No builds were measured."
        fix = ""
    figures: list[tuple[str, str, str]] = []
    for name, label in ((a.cold, "cold"), (a.warm, "warm")):
        v = _s(med(name))
        if name is not None and v is not None:
            figures.append((label, v, n_ok(name)))
    edits = sorted(a.edits, key=lambda e: -(e.median_total_s or 0.0))
    for e in edits[:MAX_EDIT_FIGURES]:
        v = _s(e.median_total_s)
        if v is not None:
            figures.append((e.scenario, v, n_ok(e.scenario)))
    if a.warm is not None and a.warm in sc.index:
        share, seconds = float(sc.at[a.warm, "cache_saved"]), float(sc.at[a.warm, "cache_saved_s"])
        if not math.isnan(share):
            saved = _s(seconds)
            figures.append(("cache saved (warm)", f"{share:.0%}", f"{saved} of cold step time" if saved else ""))
    return Answer(headline, fix, tuple(figures), fails)
