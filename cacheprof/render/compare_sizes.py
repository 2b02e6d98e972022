"""Lines about the two images' sizes and the context transfer, for every compare output. Returns text."""

from __future__ import annotations

from ..analysis.compare import Comparison


def _mb(n: int | None, signed: bool = False) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:+.3g} MB" if signed else f"{n / 1e6:.3g} MB"


def transfer_lines(c: Comparison) -> list[str]:
    """Per scenario, the median context transfer of each side: part of the wall times above, of no step."""
    out = []
    for s in c.scenarios:
        if s.before.transfer_s is None and s.after.transfer_s is None:
            continue
        b = "-" if s.before.transfer_s is None else f"{s.before.transfer_s:.2f} s"
        a = "-" if s.after.transfer_s is None else f"{s.after.transfer_s:.2f} s"
        out.append(f"{s.scenario}: context transfer {b} before, {a} after (inside the wall times)")
    return out


def size_lines(c: Comparison, limit: int | None = 8) -> list[str]:
    """The image size before and after, shared layers, then the steps whose layer size changed, largest first."""
    z = c.sizes
    if z is None:
        return []
    out = [f"image size {_mb(z.before_bytes)} before, {_mb(z.after_bytes)} after"
           + (f" ({_mb(z.diff_bytes, signed=True)})" if z.diff_bytes is not None else "")
           + f"; the images share {z.shared_layers} leading layer{'' if z.shared_layers == 1 else 's'} "
           f"(BEFORE has {z.before_layers}, AFTER {z.after_layers})"]
    changed = sorted((x for x in z.steps if x.before_bytes != x.after_bytes), key=lambda x: -abs(x.diff_bytes))
    for x in changed[:limit] if limit is not None else changed:
        short = " ".join(x.instruction.split())
        short = short if len(short) <= 50 else short[:49] + "…"
        where = ("only in AFTER" if x.before_bytes is None else "only in BEFORE" if x.after_bytes is None
                 else f"{_mb(x.before_bytes)} → {_mb(x.after_bytes)}")
        out.append(f"  `{short}`: {_mb(x.diff_bytes, signed=True)} ({where})")
    if limit is not None and len(changed) > limit:
        out.append(f"  ({len(changed) - limit} more steps changed size)")
    return out
