"""One visual style for every HTML report (profile, compare, advise): the page skeleton, the answer box,
figure cards, log tails, inline SVG charts, and backtick code spans turned into <code>. Returns text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --accent: #3b6fd8; --bad: #d1242f; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 72em;
       padding: 0 1em; color: var(--ink); line-height: 1.45; }
header .kind { color: var(--muted); text-transform: uppercase; letter-spacing: .06em; font-size: .8em; }
h1 { font-size: 1.5em; margin: .1em 0 .6em; word-break: break-all; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
code { background: #eff2f5; padding: .05em .3em; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: .7em; overflow-x: auto; }
#answer { background: #f3f7ff; border-left: 5px solid var(--accent); padding: .8em 1.1em; margin: 0 0 1em; }
#answer .headline { font-size: 1.25em; font-weight: 600; margin: .2em 0 .5em; }
#answer .fix { margin: .3em 0 .8em; }
.figures { display: flex; flex-wrap: wrap; gap: .6em; margin: .5em 0; }
.figure { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .4em .8em; min-width: 8em; }
.figure .label { color: var(--muted); font-size: .85em; word-break: break-all; }
.figure .value { font-size: 1.3em; font-weight: 600; }
.figure .note { color: var(--muted); font-size: .8em; }
.failure { border-left: 5px solid var(--bad); background: #fff5f5; padding: .5em 1em; margin: .8em 0; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid var(--line); padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cached { background: #c8e6c9; } td.run { background: #ffe0b2; } td.error { background: #ffcdd2; }
td.pulled { background: #bbdefb; } td.canceled { background: #d7ccc8; } td.unknown { background: #eeeeee; }
figure { margin: 1em 0 2em; } figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9em; }
.note { color: var(--muted); font-size: .9em; }
.scroll { overflow-x: auto; }
"""


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def inline_code(text: str) -> str:
    """Escape, then turn `x` into <code>x</code>: no Markdown backtick reaches the page."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def page(kind: str, title: str, body: Iterable[str]) -> str:
    """A self-contained page: inline CSS and inline SVG, no external resource."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>cacheprof {esc(kind)}: {esc(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f'<header><div class="kind">cacheprof {esc(kind)}</div><h1>{esc(title)}</h1></header>',
        *body, "</body>", "</html>", "",
    ])


def answer_box(headline: str, fix: str, figures: Sequence[tuple[str, str, str]], extra: Iterable[str] = ()) -> str:
    parts = ['<section id="answer">', f'<p class="headline">{inline_code(headline)}</p>']
    if fix:
        parts.append(f'<p class="fix"><b>Fix:</b> {inline_code(fix)}</p>')
    if figures:
        parts.append('<div class="figures">')
        parts += [f'<div class="figure"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
                  f'<div class="note">{esc(note)}</div></div>' for label, value, note in figures]
        parts.append("</div>")
    parts += list(extra)
    parts.append("</section>")
    return "\n".join(parts)


def failure_box(title: str, lines: Sequence[str], error: str) -> str:
    log = f"<pre class=\"log\">{esc(chr(10).join(lines))}</pre>" if lines else ""
    return (f'<div class="failure"><b>{inline_code(title)}</b>{log}'
            f'<div>error: <code>{esc(error)}</code></div></div>')


def svg_figure(name: str, caption: str, svg: bytes) -> str:
    """An SVG chart inline: its XML declaration and DOCTYPE dropped, text left as text."""
    text = svg.decode("utf-8")
    text = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    # matplotlib names its elements by a hash; several charts on one page need distinct ids.
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{name}-{m.group(1)})", text)
    text = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{name}-{m.group(1)}"', text)
    text = re.sub(r'(?<!:)href="#([^"]+)"', lambda m: f'href="#{name}-{m.group(1)}"', text)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{esc(caption)}" ', 1)
    return f'<figure id="chart-{esc(name)}">{text}<figcaption>{esc(caption)}</figcaption></figure>'
