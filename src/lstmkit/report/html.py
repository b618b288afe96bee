"""The self-contained HTML page of ``lstmkit inspect`` (``report.html``).

:func:`report_page` lays out what the other modules computed: the summary table, the gate
saturation table (as defined in :mod:`lstmkit.report.numbers`: left-saturated < 0.1,
right-saturated > 0.9, Karpathy, Johnson & Fei-Fei 2015), the PNG figures of
:mod:`lstmkit.report.figures` embedded as ``data:`` URIs, and for a language model the text
coloured character by character by one unit (:func:`colour`). The page loads nothing: no
external stylesheet, script, font or image; it opens from disk without a server.
"""

from __future__ import annotations

import base64
import html

from lstmkit.report.numbers import LEFT, RIGHT

__all__ = ["colour", "report_files", "report_page"]

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1160px; padding: 0 16px; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 8px 0; border: 1px solid #eee; }
.note { color: #555; font-size: 0.9em; }
.text { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 13px;
        white-space: pre-wrap; word-break: break-all; line-height: 1.6; border: 1px solid #ddd;
        padding: 10px; background: #fff; }
.text span.nl { color: #999; }
.legend span { display: inline-block; padding: 1px 8px; font-family: monospace; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def colour(value: float) -> str:
    """``#rrggbb`` for a value in [-1, 1] (clipped): white at 0, blue towards +1, red towards
    -1 (as in Karpathy et al.'s text figures)."""
    v = max(-1.0, min(1.0, float(value)))
    target = (33, 102, 172) if v > 0 else (214, 47, 39)
    a = abs(v) * 0.85
    r, g, b = (round(255 + (t - 255) * a) for t in target)
    return f"#{r:02x}{g:02x}{b:02x}"


def _text_html(view: dict) -> str:
    """One ``<span>`` per character of ``view["chars"]``, its background the colour of its
    value, its title the step, character and value; line breaks shown as \u21b5."""
    parts = []
    for t, (ch, v) in enumerate(zip(view["chars"], view["values"])):
        title = html.escape(f"t={t} {ch!r} {view['value']}={v:+.3f}", quote=True)
        shown = "\u21b5" if ch == "\n" else ch
        cls = ' class="nl"' if ch == "\n" else ""
        parts.append(f'<span{cls} style="background:{colour(v)}" title="{title}">{html.escape(shown)}</span>')
        if ch == "\n":
            parts.append("\n")
    return "".join(parts)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def report_page(summary: dict, analysis: list[dict], images: dict[str, bytes], view: dict | None) -> str:
    """The whole page: ``summary`` (label -> value, shown as a table; needs "model" and
    "sequence shown"), ``analysis`` (:func:`lstmkit.report.numbers.analyse`), ``images`` (file
    name -> PNG bytes: "saturation.png", "cell_states.png" and the "gates_*" heatmaps, in the
    order shown) and ``view`` (:func:`lstmkit.report.numbers.text_view`, or None)."""
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in summary.items())
    sat_rows = []
    for info in analysis:
        for gate, s in info["saturation"].items():
            sat_rows.append(
                f"<tr><td>{e(info['name'])}</td><td>{e(gate.replace('_', ' '))}</td>"
                f"<td class=num>{s['left']:.1%}</td><td class=num>{s['right']:.1%}</td>"
                f"<td class=num>{1 - s['left'] - s['right']:.1%}</td></tr>")
    active_rows = "".join(
        f"<tr><td>{e(info['name'])}</td><td>"
        + ", ".join(f"{u} ({info[info['memory']]['mean_abs'][u]:.2f})"
                    for u in info[info["memory"]]["most_active_units"])
        + "</td></tr>" for info in analysis)
    cell = analysis[0]["memory"] == "cell_state"
    body = [
        f"<h1>lstmkit inspect</h1><p class=note>{e(summary['model'])}</p>",
        f"<table>{rows}</table>",
        "<h2>Gate saturation</h2>",
        (f"<p>A gate activation is <b>left-saturated</b> below {LEFT:g} (the gate is shut) and "
         f"<b>right-saturated</b> above {RIGHT:g} (wide open), as in Karpathy, Johnson &amp; Fei-Fei "
         "(2015), <i>Visualizing and understanding recurrent networks</i>, arXiv:1506.02078. "
         "Fractions over every real step of every sequence; in the scatter each point is one unit.</p>"),
        "<table><tr><th>layer</th><th>gate</th><th>left-saturated (&lt; 0.1)</th>"
        "<th>right-saturated (&gt; 0.9)</th><th>in between</th></tr>" + "".join(sat_rows) + "</table>",
        _img(images["saturation.png"], "gate saturation scatter"),
        "<h2>Gate activations over time</h2>",
        (f"<p>Of {e(summary['sequence shown'])}: each row is a unit, each column a time step; "
         "colour from 0 (dark, shut) to 1 (yellow, open).</p>"),
    ]
    for name, png in images.items():
        if name.startswith("gates_"):
            body.append(_img(png, name))
    body += [
        "<h2>Cell states of the most active units</h2>" if cell
        else "<h2>Hidden states of the most active units</h2><p>A GRU's memory is its hidden state "
             "h_t = (1 - z_t) n_t + z_t h_{t-1}: where the update gate z_t is open, h_t is kept.</p>",
        f"<p>The units with the largest mean |{'c' if cell else 'h'}_t| over all the data (mean in brackets):</p>",
        f"<table><tr><th>layer</th><th>units</th></tr>{active_rows}</table>",
        _img(images["cell_states.png"], "cell-state trajectories" if cell else "hidden-state trajectories"),
    ]
    if view is not None:
        low, high = colour(-1.0), colour(1.0)
        body += [
            f"<h2>Text coloured by unit {view['unit']} of layer {view['layer']}</h2>",
            (f"<p>Background: the unit's {e(view['value'])} after reading each character "
             f"(chosen by {e(view['chosen_by'])}; standard deviation {view['std']:.3f}). "
             "Hover over a character for its value; \u21b5 marks a line break.</p>"),
            (f'<p class=legend><span style="background:{low}">-1</span>'
             f'<span style="background:{colour(-0.5)}">-0.5</span><span style="background:#ffffff">0</span>'
             f'<span style="background:{colour(0.5)}">+0.5</span><span style="background:{high}">+1</span></p>'),
            f'<div class="text">{_text_html(view)}</div>',
        ]
    body.append(f"<p class=note>Files beside this report: {e(', '.join(report_files(images)))}.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>lstmkit inspect: {e(summary['model'])}</title><style>{_CSS}</style></head>"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")


def report_files(images: dict[str, bytes]) -> list[str]:
    """The names of the files a report writes: the page, the JSON, then the images."""
    return ["report.html", "inspect.json", *images]

