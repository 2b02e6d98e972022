"""A build timeline (Gantt chart) drawn directly as SVG, which the HTML report embeds inline.

matplotlib lays text out glyph by glyph in Python, which made the 50-odd timelines of a large report
cost ~0.6 s each; here a timeline costs milliseconds. What to show (rows, bars, colours, titles) is
decided by `charts.timeline_figure`; this module only draws it. Text stays text (Pillow only measures it)
and no date is written, so the same data gives the same bytes. The PNG that only Markdown needs is drawn
by matplotlib in `charts`.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from PIL import ImageFont

# Pixel sizes at matplotlib's 100 dpi, so the timeline looks like the other (matplotlib) charts.
LABEL_PX = 12  # 9 pt
TITLE_PX = 15  # 9 pt x "large"
LEGEND_PX = 11  # 8 pt
PLOT_W = 750
ROW_H = 26
BAR_H = 18  # 0.7 of a row
ROW_PAD = 10  # above the first row and below the last, inside the frame
TOP, BOTTOM = 45, 55
MAX_TICK_STEPS = 9  # matplotlib's locator gives about as many on a 750 px axis
GRID_COLOR = "#e7e7e7"  # matplotlib's grid (#b0b0b0) at alpha 0.3 on white
EDGE_COLOR = "#333333"
TEXT_COLOR = "#000000"
FONT_FAMILY = "DejaVu Sans, Bitstream Vera Sans, Verdana, sans-serif"
# DejaVu Sans' cap height in em: baseline = visual centre + half of it.
_CAP = 0.73
# Characters XML 1.0 forbids; a build log can carry them into an instruction.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Bar:
    row: int
    start: float  # seconds from the axis origin
    width: float  # seconds
    color: str  # "#rrggbb"


@dataclass(frozen=True)
class Timeline:
    """What a timeline shows. With no rows, only `message` is drawn."""

    title: str = ""
    rows: tuple[str, ...] = ()
    bars: tuple[Bar, ...] = ()
    xlabel: str = ""
    xmax: float = 1.0  # right end of the time axis, seconds
    legend: tuple[tuple[str, str], ...] = ()  # (label, colour)
    message: str = ""

    def render(self, fmt: str) -> bytes:
        """SVG only: HTML embeds it inline; the PNG that Markdown needs is drawn by matplotlib (charts.render)."""
        if fmt == "svg":
            return to_svg(self)
        raise ValueError(f"unknown chart format {fmt!r}")


# --- layout shared by both formats ----------------------------------------------------------------------


@functools.cache
def font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans as matplotlib ships it; Pillow's own font if that file is missing."""
    try:
        import matplotlib

        path = f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf"
        # BASIC layout: no dependency on whether Pillow was built with libraqm, so the same pixels.
        return ImageFont.truetype(path, px, layout_engine=ImageFont.Layout.BASIC)
    except (ImportError, OSError):
        return ImageFont.load_default(px)


@functools.lru_cache(maxsize=4096)
def text_width(text: str, px: int) -> float:
    return float(font(px).getlength(text))


def nice_ticks(xmax: float, max_steps: int = MAX_TICK_STEPS) -> tuple[list[float], int]:
    """Ticks 0, step, 2*step, ... up to xmax, with step 1, 2, 2.5 or 5 x 10^k; and the decimals to show."""
    if not math.isfinite(xmax) or xmax <= 0:
        return [0.0], 0
    raw = xmax / max_steps
    exp = math.floor(math.log10(raw))
    step = 10.0 ** (exp + 1)
    for m in (1, 2, 2.5, 5):
        if m * 10.0**exp >= raw:
            step = m * 10.0**exp
            break
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > step * 1e-9:
        decimals += 1
    n = int(xmax / step + 1e-9)
    return [i * step for i in range(n + 1)], decimals


def _baseline(center_y: float, px: int) -> float:
    return center_y + _CAP * px / 2


def _row_center(plot_top: float, row: int) -> float:
    return plot_top + ROW_PAD + ROW_H * (row + 0.5)


@dataclass(frozen=True)
class Layout:
    """Pixel geometry: the plot frame, each bar's box, and every text with its anchor."""

    width: int
    height: int
    plot: tuple[float, float, float, float]  # x0, y0, x1, y1
    bars: tuple[tuple[float, float, float, float, str], ...]  # x0, y0, x1, y1, colour
    ticks: tuple[float, ...]  # x of each tick
    legend_box: tuple[float, float, float, float] | None
    legend_swatches: tuple[tuple[float, float, float, float, str], ...]
    # (x, baseline y, text, font px, anchor): anchor is "start", "middle" or "end", as in SVG.
    texts: tuple[tuple[float, float, str, int, str], ...]

    def row_center(self, row: int) -> float:
        return _row_center(self.plot[1], row)


@functools.lru_cache(maxsize=8)  # a chart is rendered as PNG and as SVG from one layout
def layout(t: Timeline) -> Layout:
    if not t.rows:
        w, h = max(655, math.ceil(text_width(t.message, LABEL_PX)) + 40), 140
        return Layout(w, h, (0, 0, w, h), (), (), None, (), ((w / 2, _baseline(h / 2, LABEL_PX), t.message,
                                                              LABEL_PX, "middle"),))
    label_w = max(text_width(s, LABEL_PX) for s in t.rows)
    entry_w = max((text_width(s, LEGEND_PX) for s, _ in t.legend), default=0.0)
    legend_w = 8 + 20 + 6 + entry_w + 8 if t.legend else 0.0
    x0 = math.ceil(label_w) + 30
    y0 = TOP
    x1 = x0 + PLOT_W
    y1 = y0 + ROW_PAD * 2 + ROW_H * len(t.rows)
    width = x1 + (math.ceil(legend_w) + 20 if t.legend else 25)
    height = y1 + BOTTOM
    # A title wider than the plot is moved right (and the image widened) rather than clipped.
    title_w = text_width(t.title, TITLE_PX)
    title_x = max((x0 + x1) / 2, title_w / 2 + 5)
    width = math.ceil(max(width, title_x + title_w / 2 + 5))

    xmax = t.xmax if math.isfinite(t.xmax) and t.xmax > 0 else 1.0

    def px(seconds: float) -> float:
        return x0 + min(max(seconds, 0.0), xmax) / xmax * PLOT_W

    row_y = [_row_center(y0, i) for i in range(len(t.rows))]
    bars = tuple((px(b.start), row_y[b.row] - BAR_H / 2, px(b.start + b.width), row_y[b.row] + BAR_H / 2,
                  b.color) for b in t.bars)
    values, decimals = nice_ticks(xmax)
    ticks = tuple(px(v) for v in values)
    texts = [(title_x, y0 - 8, t.title, TITLE_PX, "middle")]
    texts += [(x0 - 8, _baseline(y, LABEL_PX), s, LABEL_PX, "end") for y, s in zip(row_y, t.rows, strict=True)]
    texts += [(x, y1 + 8 + _CAP * LABEL_PX, f"{v:.{decimals}f}", LABEL_PX, "middle")
              for x, v in zip(ticks, values, strict=True)]
    texts.append(((x0 + x1) / 2, height - 12, t.xlabel, LABEL_PX, "middle"))
    legend_box = None
    swatches = []
    if t.legend:
        lx, ly = x1 + 10, y0
        legend_box = (lx, ly, lx + legend_w, ly + 8 + 18 * len(t.legend))
        for i, (label, color) in enumerate(t.legend):
            cy = ly + 4 + 18 * i + 9
            swatches.append((lx + 8, cy - 4, lx + 28, cy + 4, color))
            texts.append((lx + 34, _baseline(cy, LEGEND_PX), label, LEGEND_PX, "start"))
    return Layout(width, height, (x0, y0, x1, y1), bars, ticks, legend_box, tuple(swatches), tuple(texts))


# --- SVG ------------------------------------------------------------------------------------------------


def _n(x: float) -> str:
    """A coordinate, short and stable."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _text(s: str) -> str:
    return escape(_XML_BAD.sub("\ufffd", s))


def to_svg(t: Timeline) -> bytes:
    lay = layout(t)
    w, h = lay.width, lay.height
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'font-family={quoteattr(FONT_FAMILY)} fill="{TEXT_COLOR}" shape-rendering="crispEdges">',
           f"<title>{_text(t.title or t.message)}</title>",
           f'<rect width="{w}" height="{h}" fill="#ffffff"/>']
    if t.rows:
        x0, y0, x1, y1 = lay.plot
        out.append(f'<g id="grid" stroke="{GRID_COLOR}" stroke-width="1">')
        out += [f'<line x1="{_n(x)}" y1="{_n(y0)}" x2="{_n(x)}" y2="{_n(y1)}"/>' for x in lay.ticks]
        out.append("</g>")
        # One rect per step, in step order (tests and readers rely on it).
        out.append(f'<g id="bars" stroke="{EDGE_COLOR}" stroke-width="0.5">')
        out += [f'<rect x="{_n(a)}" y="{_n(b)}" width="{_n(c - a)}" height="{_n(d - b)}" fill="{col}"/>'
                for a, b, c, d, col in lay.bars]
        out.append("</g>")
        out.append(f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
                   'fill="none" stroke="#000000" stroke-width="1"/>')
        out.append('<g stroke="#000000" stroke-width="1">')
        out += [f'<line x1="{_n(x)}" y1="{_n(y1)}" x2="{_n(x)}" y2="{_n(y1 + 5)}"/>' for x in lay.ticks]
        out.append("</g>")
        if lay.legend_box:
            a, b, c, d = lay.legend_box
            out.append(f'<rect x="{_n(a)}" y="{_n(b)}" width="{_n(c - a)}" height="{_n(d - b)}" '
                       'fill="#ffffff" stroke="#cccccc" rx="2"/>')
            out += [f'<rect x="{_n(a)}" y="{_n(b)}" width="{_n(c - a)}" height="{_n(d - b)}" fill="{col}"/>'
                    for a, b, c, d, col in lay.legend_swatches]
    for x, y, s, size, anchor in lay.texts:
        if s:
            out.append(f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}">{_text(s)}</text>')
    out.append("</svg>\n")
    return "\n".join(out).encode("utf-8")
