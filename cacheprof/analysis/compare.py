"""Before/after comparison of two profiles measured interleaved: per-scenario verdicts and step alignment.

Pure functions over two Profiles. One estimator throughout: the MEAN of the paired differences (AFTER -
BEFORE in the same round, ok builds only). `diff_s` is that mean, `ci95_s` its Student-t 95% interval
(exact t quantile for n - 1 degrees of freedom), `n` the number of pairs, and the verdict reads both.
With the 3 to 10 rounds a comparison can afford, a bootstrap interval would be too narrow to trust, and
pairing by round cancels machine drift that hits both sides alike. Medians are kept as descriptions.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..model import Build, Profile, Step, StepStatus

# v2: `diff_s` is the mean of the paired differences (v1: the difference of medians), `ratio` the ratio
# of the paired means; `n`, `estimator`, each side's `mean_s` and `warmups` were added.
COMPARE_SCHEMA = "cacheprof/compare/v2"
ESTIMATOR = "mean of paired differences (AFTER - BEFORE, same round, ok builds), Student-t 95% interval"


def t975(df: int) -> float:
    """The exact 97.5% quantile of Student's t with `df` degrees of freedom (df 11: 2.201)."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


@dataclass(frozen=True)
class Side:
    median_s: float | None
    runs_s: tuple[float, ...]
    ok: bool
    # Median seconds sending the context (part of median_s, no step's); None when not recorded.
    transfer_s: float | None = None
    # Mean of the ok runs (the estimator the verdict uses, see the module doc).
    mean_s: float | None = None


@dataclass(frozen=True)
class ScenarioComparison:
    scenario: str
    before: Side
    after: Side
    diff_s: float | None
    ratio: float | None
    ci95_s: tuple[float, float] | None
    verdict: str  # faster | slower | no clear difference | failed
    # Rounds with an ok build on both sides: the pairs behind diff_s and ci95_s.
    n: int = 0


@dataclass(frozen=True)
class StepChange:
    scenario: str
    stage: str
    instruction: str
    before: str | None  # majority status over rounds, None when the step is absent on that side
    after: str | None
    before_s: float | None
    after_s: float | None

    @property
    def message(self) -> str:
        short = " ".join(self.instruction.split())
        if len(short) > 60:
            short = short[:57] + "..."
        if self.before is None:
            return f"`{short}` is new in AFTER ({self.after} on {self.scenario})"
        if self.after is None:
            return f"`{short}` is gone in AFTER (was {self.before} on {self.scenario})"
        verb = {"RUN": "re-run", "CACHED": "CACHED", "ERROR": "failing", "CANCELED": "canceled", "PULLED": "pulled",
                "UNKNOWN": "cut off"}
        return (f"`{short}` was {verb.get(self.before, self.before)} on every {self.scenario} before, "
                f"and is {verb.get(self.after, self.after)} after")


@dataclass(frozen=True)
class StepSize:
    stage: str
    instruction: str
    before_bytes: int | None  # None: the step is not in that image (or its size is unknown)
    after_bytes: int | None

    @property
    def diff_bytes(self) -> int:
        return (self.after_bytes or 0) - (self.before_bytes or 0)


@dataclass(frozen=True)
class SizeComparison:
    """The two images' sizes: per step (aligned like the status changes), in total, and shared layers."""

    before_bytes: int | None
    after_bytes: int | None
    steps: tuple[StepSize, ...]
    shared_layers: int  # leading layers both images have (the same diff IDs in the same order)
    before_layers: int
    after_layers: int

    @property
    def diff_bytes(self) -> int | None:
        if self.before_bytes is None or self.after_bytes is None:
            return None
        return self.after_bytes - self.before_bytes


@dataclass(frozen=True)
class Comparison:
    before: Profile
    after: Profile
    scenarios: tuple[ScenarioComparison, ...]
    changes: tuple[StepChange, ...]
    min_effect_ratio: float
    min_effect_s: float
    equivalence: dict[str, Any] | None = None
    sizes: SizeComparison | None = None


def _side(builds: tuple[Build, ...]) -> Side:
    runs = tuple(b.duration_s for b in builds if b.ok and b.duration_s is not None)
    transfers = [b.transfer_s for b in builds if b.ok and b.transfer_s is not None]
    return Side(statistics.median(runs) if runs else None, runs, bool(builds) and all(b.ok for b in builds),
                statistics.median(transfers) if transfers else None, statistics.fmean(runs) if runs else None)


def last_sized_build(profile: Profile) -> Build | None:
    """The last ok build that knows its image's size (the image a user would ship)."""
    for b in reversed(profile.builds):
        if b.ok and b.image_size_bytes is not None:
            return b
    return None


def compare_sizes(before: Profile, after: Profile) -> SizeComparison | None:
    """Each side's last sized image: per-step layer sizes matched by stage and instruction text (the n-th
    occurrence matching the n-th), the total, and how many leading layers the two images share."""
    b, a = last_sized_build(before), last_sized_build(after)
    if b is None or a is None:
        return None

    def index(build: Build) -> dict[tuple[str, str, int], int]:
        out: dict[tuple[str, str, int], int] = {}
        seen: Counter[tuple[str, str]] = Counter()
        for s in build.steps:
            k = (s.stage, _norm(s.instruction))
            seen[k] += 1
            if s.size_bytes is not None:
                out[(*k, seen[k])] = s.size_bytes
        return out

    bi, ai = index(b), index(a)
    steps = tuple(StepSize(k[0], k[1], bi.get(k), ai.get(k)) for k in [*bi, *(k for k in ai if k not in bi)])
    shared = 0
    for x, y in zip(b.layer_ids, a.layer_ids, strict=False):
        if x != y:
            break
        shared += 1
    return SizeComparison(b.image_size_bytes, a.image_size_bytes, steps, shared, len(b.layer_ids),
                          len(a.layer_ids))


def paired_interval(diffs: list[float]) -> tuple[float, float] | None:
    if len(diffs) < 2:
        return None
    mean = statistics.fmean(diffs)
    half = t975(len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return (mean - half, mean + half)


def verdict(before_s: float, diff: float, ci: tuple[float, float] | None,
            min_effect_ratio: float, min_effect_s: float) -> str:
    """`faster`/`slower` for AFTER only when the interval excludes zero and the effect is big enough.
    `diff` and `ci` are the same estimator (the mean paired difference); `before_s` is BEFORE's mean."""
    if ci is None or ci[0] <= 0.0 <= ci[1]:
        return "no clear difference"
    if abs(diff) < max(min_effect_s, min_effect_ratio * before_s):
        return "no clear difference"
    return "faster" if diff < 0 else "slower"


def compare_scenario(name: str, before: tuple[Build, ...], after: tuple[Build, ...],
                     min_effect_ratio: float, min_effect_s: float) -> ScenarioComparison:
    b, a = _side(before), _side(after)
    if not (b.ok and a.ok) or b.median_s is None or a.median_s is None:
        return ScenarioComparison(name, b, a, None, None, None, "failed")
    by_round_b = {x.repeat: x.duration_s for x in before if x.ok and x.duration_s is not None}
    by_round_a = {x.repeat: x.duration_s for x in after if x.ok and x.duration_s is not None}
    rounds = sorted(by_round_b.keys() & by_round_a.keys())
    if not rounds:
        return ScenarioComparison(name, b, a, None, None, None, "no clear difference", 0)
    diffs = [by_round_a[r] - by_round_b[r] for r in rounds]
    diff = statistics.fmean(diffs)
    paired_before = statistics.fmean(by_round_b[r] for r in rounds)
    ratio = (paired_before + diff) / paired_before if paired_before > 0 else None
    ci = paired_interval(diffs)
    return ScenarioComparison(name, b, a, diff, ratio, ci,
                              verdict(paired_before, diff, ci, min_effect_ratio, min_effect_s), len(diffs))


def _norm(instruction: str) -> str:
    return " ".join(instruction.split())


def _median_s(steps: list[Step] | None) -> float | None:
    times = [s.duration_s for s in steps or () if s.duration_s is not None]
    return statistics.median(times) if times else None


def _majority(steps: list[Step]) -> str:
    return Counter(str(s.status) for s in steps).most_common(1)[0][0]


def align_steps(before: Profile, after: Profile, scenario: str) -> tuple[StepChange, ...]:
    """Align the two Dockerfiles' steps by stage and instruction text (the n-th occurrence of the same
    text in a stage matches the n-th), and report the steps whose cache status differs."""

    def index(profile: Profile) -> dict[tuple[str, str, int], list[Step]]:
        out: dict[tuple[str, str, int], list[Step]] = {}
        for build in profile.builds_of(scenario):
            seen: Counter[tuple[str, str]] = Counter()
            for s in build.steps:
                k = (s.stage, _norm(s.instruction))
                seen[k] += 1
                out.setdefault((*k, seen[k]), []).append(s)
        return out

    b, a = index(before), index(after)
    changes: list[StepChange] = []
    for key in list(b) + [k for k in a if k not in b]:
        bs, as_ = b.get(key), a.get(key)
        bstat = _majority(bs) if bs else None
        astat = _majority(as_) if as_ else None
        if bstat == astat:
            continue
        if str(StepStatus.CACHED) in (bstat, astat) and None in (bstat, astat):
            continue  # a step that only exists on one side and costs nothing there is not news
        changes.append(StepChange(scenario, key[0], key[1], bstat, astat, _median_s(bs), _median_s(as_)))
    return tuple(changes)


def compare_profiles(before: Profile, after: Profile, *, min_effect_ratio: float = 0.05,
                     min_effect_s: float = 0.3, equivalence: dict[str, Any] | None = None) -> Comparison:
    names = list(dict.fromkeys([*before.scenario_names, *after.scenario_names]))
    scen = tuple(compare_scenario(n, before.builds_of(n), after.builds_of(n), min_effect_ratio, min_effect_s)
                 for n in names)
    changes = tuple(c for n in names for c in align_steps(before, after, n))
    return Comparison(before, after, scen, changes, min_effect_ratio, min_effect_s, equivalence,
                      compare_sizes(before, after))


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def comparison_to_dict(c: Comparison) -> dict[str, Any]:
    return {
        "schema": COMPARE_SCHEMA,
        "before": {"dockerfile": c.before.dockerfile, "builder": c.before.builder},
        "after": {"dockerfile": c.after.dockerfile, "builder": c.after.builder},
        "context": c.before.context,
        "engine": c.before.engine.__dict__ if c.before.engine else None,
        "min_effect": {"ratio": c.min_effect_ratio, "seconds": c.min_effect_s},
        "estimator": ESTIMATOR,
        "warmups": {"before": c.before.warmups, "after": c.after.warmups},
        "scenarios": [
            {
                "scenario": s.scenario,
                "before": {"median_s": _r(s.before.median_s), "mean_s": _r(s.before.mean_s),
                           "runs_s": [_r(x) for x in s.before.runs_s], "ok": s.before.ok,
                           "transfer_s": _r(s.before.transfer_s)},
                "after": {"median_s": _r(s.after.median_s), "mean_s": _r(s.after.mean_s),
                          "runs_s": [_r(x) for x in s.after.runs_s], "ok": s.after.ok,
                          "transfer_s": _r(s.after.transfer_s)},
                "n": s.n,
                "diff_s": _r(s.diff_s),
                "ratio": _r(s.ratio),
                "ci95_s": [_r(s.ci95_s[0]), _r(s.ci95_s[1])] if s.ci95_s else None,
                "verdict": s.verdict,
            }
            for s in c.scenarios
        ],
        "step_changes": [
            {"scenario": ch.scenario, "stage": ch.stage, "instruction": ch.instruction, "before": ch.before,
             "after": ch.after, "before_s": _r(ch.before_s), "after_s": _r(ch.after_s), "message": ch.message}
            for ch in c.changes
        ],
        "equivalence": c.equivalence,
        "sizes": None if c.sizes is None else {
            "before_bytes": c.sizes.before_bytes, "after_bytes": c.sizes.after_bytes,
            "diff_bytes": c.sizes.diff_bytes, "shared_layers": c.sizes.shared_layers,
            "before_layers": c.sizes.before_layers, "after_layers": c.sizes.after_layers,
            "steps": [{"stage": x.stage, "instruction": x.instruction, "before_bytes": x.before_bytes,
                       "after_bytes": x.after_bytes, "diff_bytes": x.diff_bytes} for x in c.sizes.steps],
        },
        "errors": {
            "before": [b.error for b in c.before.builds if not b.ok],
            "after": [b.error for b in c.after.builds if not b.ok],
        },
    }


def render_comparison_table(c: Comparison) -> str:
    def s(x: float | None, fmt: str = "{:.2f}") -> str:
        return "-" if x is None else fmt.format(x)

    lines = [f"BEFORE {c.before.dockerfile}", f"AFTER  {c.after.dockerfile}", ""]
    lines.append(f"{'scenario':<32} {'before s':>9} {'after s':>9} {'diff s':>8} {'ratio':>6} "
                 f"{'95% CI of diff, n':>22}  verdict")
    for x in c.scenarios:
        ci = f"[{x.ci95_s[0]:+.2f}, {x.ci95_s[1]:+.2f}] n={x.n}" if x.ci95_s else "-"
        name = x.scenario if len(x.scenario) <= 32 else x.scenario[:29] + "..."
        lines.append(f"{name:<32} {s(x.before.mean_s):>9} {s(x.after.mean_s):>9} {s(x.diff_s, '{:+.2f}'):>8} "
                     f"{s(x.ratio):>6} {ci:>22}  {x.verdict}")
    lines.append(f"({ESTIMATOR})")
    if c.changes:
        lines += ["", "steps whose cache status changed:"]
        lines += [f"  - {ch.message}" for ch in c.changes]
    if c.equivalence is not None:
        lines += ["", f"images equivalent: {'yes' if c.equivalence.get('equivalent') else 'NO'}"]
        lines += [f"  - {d}" for d in c.equivalence.get("differences", [])[:20]]
        lines += [f"  (note: {n})" for n in c.equivalence.get("notes", [])]
    for side, prof in (("BEFORE", c.before), ("AFTER", c.after)):
        for b in prof.builds:
            if not b.ok:
                lines.append(f"{side} failed on {b.scenario} (repeat {b.repeat}): {b.error}")
    return "\n".join(lines) + "\n"
