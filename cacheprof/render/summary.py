"""GitHub job summaries ($GITHUB_STEP_SUMMARY): GitHub-flavoured Markdown that renders on its own page.

A job summary has no files beside it, so a relative image link shows as a broken image: no images here,
only tables, text bars and <details>. The answer comes first, as in the reports. Returns text.
"""

from __future__ import annotations

import statistics

from ..analysis.compare import Comparison
from ..analysis.profile_stats import Analysis
from ..model import Profile, Step, StepStatus
from .answer import answer
from .compare_table import ranked_changes
from .verdict import TIMES, compare_verdict_lines

BAR_WIDTH = 24
FULL, PARTS = "\u2588", " \u258f\u258e\u258d\u258c\u258b\u258a\u2589"


def text_bar(value: float, top: float, width: int = BAR_WIDTH) -> str:
    """A bar of block characters, eighths included: `value` of `top` in `width` cells."""
    if top <= 0 or value <= 0:
        return ""
    eighths = round(min(value / top, 1.0) * width * 8)
    return FULL * (eighths // 8) + (PARTS[eighths % 8].strip() if eighths % 8 else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    text = " ".join(text.split())
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _fenced(lines: list[str]) -> list[str]:
    fence = "````" if any("```" in x for x in lines) else "```"
    return [fence + "text", *lines, fence]


def profile_summary(profile: Profile, analysis: Analysis) -> str:
    ans = answer(profile, analysis)
    out = [f"## cacheprof profile: {_code(profile.dockerfile)}", "", f"**{ans.headline}**", ""]
    if ans.fix:
        out += [f"**Fix:** {ans.fix}", ""]
    if ans.figures:
        out += ["| " + " | ".join(_cell(label) for label, _, _ in ans.figures) + " |",
                "|" + "|".join(" ---: " for _ in ans.figures) + "|",
                "| " + " | ".join(_cell(value + (f" ({note})" if note else "")) for _, value, note in ans.figures)
                + " |", ""]
    for f in ans.failures:
        at = f"line {f.line}: " if f.line is not None else ""
        out += ["<details open>", f"<summary>{f.scenario} #{f.repeat} failed at {at}{_html(f.instruction)}</summary>",
                "", *_fenced([*f.log_tail, f"error: {f.error}"]), "", "</details>", ""]
    rows = []
    for name in profile.scenario_names:
        builds = profile.builds_of(name)
        walls = [b.duration_s for b in builds if b.ok and b.duration_s is not None]
        rows.append((name, len(walls), len(builds), statistics.median(walls) if walls else None,
                     (min(walls), max(walls)) if len(walls) > 1 else None))
    top = max((r[3] or 0.0 for r in rows), default=0.0)
    out += ["| scenario | ok/builds | median wall s | min…max s | |", "| --- | ---: | ---: | ---: | --- |"]
    out += [f"| {_code(n)} | {ok}/{total} | {_s(med)} | {f'{rng[0]:.2f}…{rng[1]:.2f}' if rng else '-'} | "
            f"{text_bar(med or 0.0, top)} |" for n, ok, total, med, rng in rows]
    out += ["", "<details><summary>Steps per scenario (by Dockerfile line)</summary>", ""]
    for name in profile.scenario_names:
        builds = list(profile.builds_of(name))
        if not builds:
            continue
        out += [f"**{_cell(name)}**", "", "| line | instruction | status | median s |", "| ---: | --- | --- | ---: |"]
        seen: dict[tuple[str, int], list[Step]] = {}
        timed: set[int] = set()  # ids of the steps of ok builds: failed builds never enter a time
        for b in builds:
            for s in b.steps:
                seen.setdefault(s.key, []).append(s)
                if b.ok:
                    timed.add(id(s))
        for steps in sorted(seen.values(), key=lambda ss: (ss[0].line is None, ss[0].line or 0)):
            statuses = {str(s.status) for s in steps}
            times = [s.duration_s for s in steps if s.duration_s is not None and id(s) in timed]
            status = statuses.pop() if len(statuses) == 1 else "mixed"
            out.append(f"| {steps[0].line or ''} | {_cell(_code(steps[0].instruction[:80]))} | {status} | "
                       f"{_s(statistics.median(times)) if times else '-'} |")
        out.append("")
    out += ["</details>", ""]
    return "\n".join(out) + "\n"


def _html(text: str) -> str:
    import html

    return html.escape(" ".join(text.split()))


def compare_summary(c: Comparison) -> str:
    verdicts = compare_verdict_lines(c)
    out = [f"## cacheprof compare: {_code(c.before.dockerfile)} vs {_code(c.after.dockerfile)}", ""]
    if verdicts:
        out += [f"**{verdicts[0]}**", ""] + [f"- {v}" for v in verdicts[1:]] + [""]
    top = max((x for s in c.scenarios for x in (s.before.median_s or 0.0, s.after.median_s or 0.0)), default=0.0)
    out += ["| scenario | before s | after s | speed-up | verdict | before | after |",
            "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for s in c.scenarios:
        b, a = s.before.median_s, s.after.median_s
        speed = "-" if not b or not a else f"{b / a:.1f}{TIMES}" if a < b else f"{b / a:.2f}{TIMES}"
        out.append(f"| {_code(s.scenario)} | {_s(b)} | {_s(a)} | {speed} | {s.verdict} | "
                   f"{text_bar(b or 0.0, top, 16)} | {text_bar(a or 0.0, top, 16)} |")
    changes = ranked_changes(c)
    if changes:
        out += ["", f"<details open><summary>Steps whose cache status changed ({len(changes)}), costliest first"
                    "</summary>", ""] + [f"- {x}" for x in changes] + ["", "</details>"]
    fails = [(side, b) for side, p in (("BEFORE", c.before), ("AFTER", c.after)) for b in p.builds if not b.ok]
    for side, b in fails[:3]:
        step = next((s for s in b.steps if s.status is StepStatus.ERROR), None)
        title = f"{side} {b.scenario} #{b.repeat} failed" + (f" at line {step.line}" if step and step.line else "")
        out += ["", f"<details><summary>{_html(title)}</summary>", "",
                *_fenced([*(step.log_tail if step else ()), f"error: {b.error}"]), "", "</details>"]
    return "\n".join(out) + "\n"
