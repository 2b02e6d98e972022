"""The terminal output of `compare` (and `advise --measure`): one table of scenarios that fits the width,
the verdict lines, the steps whose cache status changed (ranked, repetitive lines folded), the image
check and the failures. Returns text."""

from __future__ import annotations

from ..analysis.compare import Comparison, StepChange
from .compare_sizes import size_lines, transfer_lines
from .terminal import clip, wrap
from .verdict import TIMES, compare_verdict_lines

_VERB = {"RUN": "re-run", "CACHED": "CACHED", "ERROR": "failing"}


def _s(x: float | None, spec: str = "{:.2f}") -> str:
    return "-" if x is None else spec.format(x)


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before <= 0 or after <= 0:
        return "-"
    return f"{before / after:.1f}{TIMES}" if after < before else f"{before / after:.2f}{TIMES}"


def _weight(ch: StepChange) -> float:
    return abs((ch.before_s or 0.0) - (ch.after_s or 0.0))


def ranked_changes(c: Comparison, limit: int | None = None) -> list[str]:
    """Status changes of the same step, costliest first; then steps only one side has, one line per
    instruction (its scenarios folded), costliest first."""
    both = sorted((ch for ch in c.changes if ch.before and ch.after), key=lambda ch: -_weight(ch))
    lines = []
    for ch in both:
        short = clip(ch.instruction, 50)
        seconds = f" ({_s(ch.before_s)} s → {_s(ch.after_s)} s)" if ch.before_s is not None else ""
        lines.append(f"`{short}` was {_VERB.get(ch.before or '', ch.before)} on {ch.scenario} before and is "
                     f"{_VERB.get(ch.after or '', ch.after)} after{seconds}")
    one_side: dict[tuple[str, str, str], list[StepChange]] = {}
    for ch in c.changes:
        if ch.before and ch.after:
            continue
        side = "new in AFTER" if ch.before is None else "gone in AFTER"
        status = ch.after if ch.before is None else ch.before
        one_side.setdefault((ch.instruction, side, str(status)), []).append(ch)
    folded = sorted(one_side.items(), key=lambda kv: -max(_weight(ch) for ch in kv[1]))
    for (instruction, side, status), chs in folded:
        where = ", ".join(ch.scenario for ch in chs)
        lines.append(f"`{clip(instruction, 50)}` is {side} ({_VERB.get(status, status)} on {where})")
    return lines if limit is None else lines[:limit]


def render_comparison(c: Comparison, width: int = 80) -> str:
    # Means and the 95% t-interval of the mean paired difference: the one estimator the verdict reads.
    fixed = [("before s", 8), ("after s", 8), ("change", 7), ("mean diff 95% CI", 20), ("verdict", 11)]
    name_w = max(12, min(width - 1 - sum(w for _, w in fixed) - len(fixed), 60))
    verdict_word = {"no clear difference": "unclear"}

    def row(cells: list[str]) -> str:
        out = [f"{cells[0]:<{name_w}}"]
        out += [f"{cell:>{w}}" if i < 4 else f"{cell:<{w}}" for i, (cell, (_, w)) in enumerate(zip(cells[1:], fixed,
                                                                                                    strict=True))]
        return " ".join(out).rstrip()

    lines = wrap(f"BEFORE {c.before.dockerfile}", width - 1) + wrap(f"AFTER  {c.after.dockerfile}", width - 1)
    lines += ["", row(["scenario", *(t for t, _ in fixed)])]
    for s in c.scenarios:
        ci = f"[{s.ci95_s[0]:+.2f}, {s.ci95_s[1]:+.2f}] n={s.n}" if s.ci95_s else "-"
        lines.append(row([clip(s.scenario, name_w), _s(s.before.mean_s), _s(s.after.mean_s),
                          _change(s.before.mean_s, s.after.mean_s), ci, verdict_word.get(s.verdict, s.verdict)]))
    changes = ranked_changes(c)
    if changes:
        lines += ["", "steps whose cache status changed (costliest first):"]
        for text in changes[:8]:
            lines += wrap(f"  - {text}", width - 1, indent="    ")
        if len(changes) > 8:
            lines.append(f"  ({len(changes) - 8} more in the report)")
    transfers = transfer_lines(c)
    if transfers:
        lines += [""] + [t for x in transfers for t in wrap(x, width - 1)]
    sizes = size_lines(c)
    if sizes:
        lines += [""] + [t for x in sizes for t in wrap(x, width - 1)]
    if c.equivalence is not None:
        eq = c.equivalence.get("equivalent")
        lines += ["", f"images equivalent: {'yes' if eq else 'unknown' if eq is None else 'NO'}"]
        for d in c.equivalence.get("differences", [])[:20]:
            lines += wrap(f"  - {d}", width - 1)
        for n in c.equivalence.get("notes", []):
            lines += wrap(f"  (note: {n})", width - 1)
    for side, prof in (("BEFORE", c.before), ("AFTER", c.after)):
        for b in prof.builds:
            if not b.ok:
                lines += wrap(f"{side} failed on {b.scenario} (repeat {b.repeat}): {b.error}", width - 1)
    lines.append("")
    for v in compare_verdict_lines(c):
        lines += wrap(v, width - 1)
    return "\n".join(lines) + "\n"
