"""Predicted rebuilds and the cost of a commit history, as text, JSON-ready dicts and a chart."""

from __future__ import annotations

import io
from typing import Any

from ..advise.cost import HistoryCost
from ..advise.predict import Prediction


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def prediction_to_dict(p: Prediction) -> dict[str, Any]:
    return {
        "builder": p.builder,
        "changed": list(p.changed),
        "ignored": list(p.ignored),
        "args": {k: {"before": b, "after": a} for k, (b, a) in p.args.items()},
        "skipped_stages": list(p.skipped_stages),
        "notes": list(p.notes),
        "expected_s": None if p.expected_s is None else round(p.expected_s, 3),
        "steps": [
            {"line": s.line, "instruction": s.instruction, "stage": s.stage, "position": s.position,
             "rebuild": s.rebuild, "why": s.why, "certain": s.certain,
             "expected_s": None if s.expected_s is None else round(s.expected_s, 3)}
            for s in p.steps
        ],
    }


def prediction_text(p: Prediction) -> str:
    lines = []
    what = [f"{len(p.changed)} changed file(s) in the context"] if p.changed or not p.args else []
    what += [f"ARG {k}: {b!r} -> {a!r}" for k, (b, a) in p.args.items()]
    lines.append(f"prediction ({p.builder}): " + "; ".join(what))
    if p.ignored:
        lines.append(f"  .dockerignore keeps out {len(p.ignored)} changed path(s): "
                     + ", ".join(p.ignored[:5]) + (" …" if len(p.ignored) > 5 else ""))
    if p.skipped_stages:
        lines.append(f"  stages not built for this target: {', '.join(p.skipped_stages)}")
    priced = any(s.expected_s is not None for s in p.steps)
    rows = [("line", "stage", "step", "rebuild", "expected_s" if priced else "", "why")]
    for s in p.steps:
        inst = " ".join(s.instruction.split())
        rows.append((str(s.line), s.stage, inst if len(inst) <= 40 else inst[:39] + "…",
                     ("yes" if s.certain else "yes?") if s.rebuild else "no",
                     _s(s.expected_s) if s.rebuild and priced else "", s.why))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:5], widths, strict=True) if w]
        lines.append("  " + "  ".join(cells) + "  " + r[5])
    n = sum(s.rebuild for s in p.steps)
    total = p.expected_s
    lines.append(f"{n} of {len(p.steps)} steps re-run" + (f", expected {total:.1f} s" if total is not None
                                                          and any(s.expected_s is not None for s in p.steps)
                                                          else ""))
    lines += [f"note: {n}" for n in p.notes]
    if any(s.rebuild and not s.certain for s in p.steps):
        lines.append("yes? = re-runs if the stage it copies from produces different files (assumed)")
    return "\n".join(lines) + "\n"


def history_to_dict(h: HistoryCost) -> dict[str, Any]:
    return {
        "commits": [{"sha": c.sha, "subject": c.subject, "changed": list(c.changed),
                     "rebuild": [list(k) for k in c.rebuild], "expected_s": round(c.expected_s, 3)}
                    for c in h.commits],
        "n": len(h.commits), "mean_s": round(h.mean_s, 3), "median_s": round(h.median_s, 3),
        "p90_s": round(h.p90_s, 3),
        "costliest": [{"stage": st, "position": pos, "instruction": ins, "total_s": round(t, 3), "commits": n}
                      for st, pos, ins, t, n in h.costliest],
    }


def history_text(h: HistoryCost, fixed: HistoryCost | None, priced_by: str) -> str:
    n = len(h.commits)
    lines = [f"expected rebuild per commit over the last {n} commit(s) ({priced_by}):",
             f"  mean {h.mean_s:.1f} s, median {h.median_s:.1f} s, p90 {h.p90_s:.1f} s (n={n})"]
    if fixed is not None:
        lines.append(f"  proposed Dockerfile: mean {fixed.mean_s:.1f} s, median {fixed.median_s:.1f} s, "
                     f"p90 {fixed.p90_s:.1f} s")
        lines.append(f"{h.mean_s:.0f} s per commit on average; the proposed order brings it to {fixed.mean_s:.0f} s")
    lines.append("costliest steps over the history:")
    for st, _pos, ins, t, k in h.costliest:
        inst = " ".join(ins.split())
        lines.append(f"  {t:8.1f} s  {k}/{n} commits  stage {st}: {inst[:60]}")
    lines.append("per commit:")
    after = {c.sha: c for c in fixed.commits} if fixed is not None else {}
    for c in h.commits:
        alt = f" -> {after[c.sha].expected_s:6.1f} s" if c.sha in after else ""
        lines.append(f"  {c.sha[:10]}  {c.expected_s:6.1f} s{alt}  {len(c.rebuild)} step(s)  {c.subject[:50]}")
    return "\n".join(lines) + "\n"


def history_chart(h: HistoryCost, fixed: HistoryCost | None, fmt: str = "png") -> bytes:
    """Bars per commit (oldest left): expected rebuild seconds, and the proposed Dockerfile's beside them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    commits = list(reversed(h.commits))
    after = {c.sha: c.expected_s for c in fixed.commits} if fixed is not None else {}
    fig = Figure(figsize=(max(4.0, 0.5 * len(commits) + 2), 3.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = range(len(commits))
    w = 0.4 if after else 0.8
    ax.bar([x - (w / 2 if after else 0) for x in xs], [c.expected_s for c in commits], w, label="current")
    if after:
        ax.bar([x + w / 2 for x in xs], [after.get(c.sha, 0.0) for c in commits], w, label="proposed")
    ax.set_xticks(list(xs), [c.sha[:7] for c in commits], rotation=60, fontsize=7)
    ax.set_ylabel("expected rebuild (s)")
    ax.set_title(f"Rebuild per commit: mean {h.mean_s:.1f} s" + (f" -> {fixed.mean_s:.1f} s" if fixed else ""))
    top = max([c.expected_s for c in commits] + list(after.values()) + [0.1])
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.legend(loc="upper left", ncol=2, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()
