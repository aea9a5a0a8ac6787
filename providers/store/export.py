"""A stored race as a document to keep or share: JSON, Markdown, or one self-contained HTML page.

Everything a model wrote is data: in HTML it is escaped, everywhere its control characters are
shown as visible stand-ins, and keys were scrubbed before anything was stored.
"""

from __future__ import annotations

import json
from html import escape

from providers.environment import redact
from providers.look import LOOK_CSS, MONO, STATE_COLOURS, STREAMING, WAITING
from providers.pricing import cost_sum, format_usd
from providers.record import Result, Run
from providers.store.races import StoredRace

FORMATS = ("json", "md", "html")

# C0 controls (but newline and tab) become their Unicode pictures, so ESC shows as ␛.
_VISIBLE: dict[int, str | None] = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)}
_VISIBLE[0x0D] = None
_VISIBLE[0x7F] = "␡"
_VISIBLE.update({c: "�" for c in range(0x80, 0xA0)})


def printable(text: str) -> str:
    return text.translate(_VISIBLE)


def export(race: StoredRace, fmt: str) -> str:
    if fmt == "json":
        return to_json(race)
    if fmt == "md":
        return to_markdown(race)
    if fmt == "html":
        return to_html(race)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def to_json(race: StoredRace) -> str:
    """`run --json`'s document plus `id`, as one line, scrubbed like every export."""
    return redact(json.dumps(race.document(), ensure_ascii=False))


# --- shared figures -----------------------------------------------------------------------


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _tokens(r: Result) -> str:
    tokens = r.output_tokens
    if tokens is None:
        return "-"
    return f"~{tokens}" if r.tokens_estimated else str(tokens)


def _label(r: Result) -> str:
    return r.source if r.label == r.source else f"{r.label} ({r.source})"


def _metrics(r: Result) -> list[str]:
    tps = r.tokens_per_s
    return [
        str(r.state),
        _secs(r.ttft),
        "-" if tps is None else f"{tps:.1f}",
        _tokens(r),
        _secs(r.duration),
        format_usd(r.cost_usd),
        r.error or "",
    ]


METRIC_HEADERS = ["status", "TTFT", "tok/s", "tokens", "total", "cost", "error"]


def _run_line(run: Run) -> str:
    overhead = run.overhead_s
    return (
        f"wall {_secs(run.wall_s)} · ideal {_secs(run.ideal_s)} · overhead "
        + ("-" if overhead is None else f"{overhead * 1000:.0f} ms")
        + f" · cost {cost_sum(run.results).text()}"
        + (" · cancelled" if run.cancelled else "")
    )


def _settings(race: StoredRace) -> list[tuple[str, str]]:
    rows = [("mode", race.mode)]
    if race.system:
        rows.append(("system", race.system))
    rows += [(k, str(v)) for k, v in race.settings.items() if v not in (None, "")]
    return rows


def _title(race: StoredRace) -> str:
    what = f"pipeline {race.pipeline}" if race.kind == "pipeline" else "race"
    return f"modelrace {what} #{race.id}"


def _subtitle(race: StoredRace) -> str:
    ratio = race.document().get("speedup")
    parts = [race.created or "", f"mode {race.mode}"]
    if isinstance(ratio, float):
        parts.append(f"async {ratio:.2f}x faster than sync")
    if race.interrupted:
        parts.append("interrupted")
    return " · ".join(p for p in parts if p)


# --- Markdown -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(printable(text).split()).replace("|", "\\|") or " "


def _fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def to_markdown(race: StoredRace) -> str:
    """The prompt, settings, a metrics table per run and every answer, as they were written."""
    out = [f"# {_title(race)}", "", f"*{_subtitle(race)}*", "", "## Prompt", ""]
    out += [_fenced(printable(race.prompt)), "", "## Settings", ""]
    out += ["| setting | value |", "|---|---|"]
    out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in _settings(race)]
    for run in race.runs:
        out += ["", f"## {run.mode}", ""]
        out.append("| model | " + " | ".join(METRIC_HEADERS) + " |")
        out.append("|---|" + "---|" * len(METRIC_HEADERS))
        for r in run.results:
            out.append(f"| {_cell(_label(r))} | " + " | ".join(map(_cell, _metrics(r))) + " |")
        out += ["", _run_line(run)]
    out += ["", "## Answers"]
    for run in race.runs:
        for r in run.results:
            out += ["", f"### {_cell(_label(r))} ({run.mode})", ""]
            if r.error:
                out += [f"*{_cell(f'{r.state}: {r.error}')}*", ""]
            out.append(printable(r.text.strip()) or "*(no text)*")
    return "\n".join(out) + "\n"


# --- HTML ---------------------------------------------------------------------------------

# The report's look is the served dashboard page's (providers/look.py).
_CSS = (
    LOOK_CSS
    + """
body{font-family:var(--mr-sans);margin:2rem;color:var(--mr-ink);background:#fff}
h1{margin-bottom:.2rem;border-bottom:3px solid var(--mr-accent)}.meta{color:#666;margin-top:0}
pre{white-space:pre-wrap;word-wrap:break-word;background:#f6f6f6;padding:.6rem;border-radius:4px;
font-family:var(--mr-mono)}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem}
td.n{text-align:right}.answers{display:flex;gap:1rem;align-items:flex-start;overflow-x:auto}
.answer{flex:1 1 0;min-width:16rem;border:1px solid #ddd;border-radius:6px;padding:.5rem}
.answer h3{margin:.2rem 0;font-size:1rem}.state{color:#666;font-size:.9rem}
.done{color:var(--mr-done)}.failed{color:var(--mr-failed)}.cancelled{color:var(--mr-cancelled)}
"""
)

PAGE_CSS = _CSS  # the page look bench exports share
_BAR = STATE_COLOURS


def _x(seconds: float, scale: float, left: int) -> float:
    return round(left + seconds * scale, 1)


def timeline_svg(runs: list[Run]) -> str:
    """Every run's results as bars on one time axis: waiting light, streaming by outcome."""
    left, width, row, top = 260, 900, 20, 24
    end = max(
        [run.wall_s or 0.0 for run in runs] + [r.end or 0.0 for run in runs for r in run.results]
    )
    end = end or 1.0
    scale = (width - left - 20) / end
    rows = sum(len(run.results) + 1 for run in runs)
    height = top + rows * row + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{MONO}" font-size="12">'
    ]
    for i in range(5):
        t = end * i / 4
        x = _x(t, scale, left)
        parts.append(f'<line x1="{x}" y1="{top - 6}" x2="{x}" y2="{height}" stroke="#eee"/>')
        parts.append(f'<text x="{x}" y="{top - 10}" text-anchor="middle">{t:.2f}s</text>')
    y = top
    for run in runs:
        wall = run.wall_s
        label = f"[{run.mode}] wall {_secs(wall)}"
        parts.append(f'<text x="4" y="{y + 14}" font-weight="bold">{escape(label)}</text>')
        if wall:
            x = _x(wall, scale, left)
            parts.append(
                f'<line x1="{x}" y1="{y}" x2="{x}" y2="{y + row * (len(run.results) + 1)}" '
                'stroke="#333" stroke-dasharray="3,3"/>'
            )
        y += row
        for r in run.results:
            name = printable(_label(r))
            name = name if len(name) <= 34 else name[:33] + "…"
            parts.append(f'<text x="12" y="{y + 14}">{escape(name)}</text>')
            start = r.start or 0.0
            first = r.first_token if r.first_token is not None else r.end
            stop = r.end if r.end is not None else start
            if first is not None and first > start:
                parts.append(_rect(start, first, y, scale, left, WAITING))
            color = _BAR.get(r.state, STREAMING)
            parts.append(_rect(first if first is not None else start, stop, y, scale, left, color))
            parts.append(f"<title>{escape(name)}: {escape(str(r.state))}</title>")
            y += row
    parts.append("</svg>")
    return "".join(parts)


def _rect(a: float, b: float, y: int, scale: float, left: int, color: str) -> str:
    x = _x(a, scale, left)
    w = max(round((b - a) * scale, 1), 1.0)
    return f'<rect x="{x}" y="{y + 3}" width="{w}" height="{14}" fill="{color}"/>'


def _h(text: str) -> str:
    return escape(printable(text))


def to_html(race: StoredRace) -> str:
    """One page, no outside files: prompt, settings, the timeline, and answers side by side."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"/>',
        f"<title>{_h(_title(race))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_h(_title(race))}</h1>",
        f'<p class="meta">{_h(_subtitle(race))}</p>',
        f'<h2>Prompt</h2><pre class="prompt">{_h(race.prompt)}</pre>',
        "<h2>Settings</h2><table>",
        *(f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in _settings(race)),
        "</table>",
        "<h2>Timeline</h2>",
        timeline_svg(race.runs),
    ]
    for run in race.runs:
        out.append(f"<h2>{_h(run.mode)}</h2><table><tr><th>model</th>")
        out += [f"<th>{h}</th>" for h in METRIC_HEADERS] + ["</tr>"]
        for r in run.results:
            cells = "".join(
                f'<td class="n">{_h(c)}</td>' if i in (1, 2, 3, 4, 5) else f"<td>{_h(c)}</td>"
                for i, c in enumerate(_metrics(r))
            )
            out.append(f"<tr><td>{_h(_label(r))}</td>{cells}</tr>")
        out.append(f"</table><p>{_h(_run_line(run))}</p>")
        out.append('<div class="answers">')
        for r in run.results:
            state = f"{r.state}" + (f": {r.error}" if r.error else "")
            out.append(
                f'<section class="answer"><h3>{_h(_label(r))}</h3>'
                f'<p class="state {escape(str(r.state))}">{_h(state)}</p>'
                f"<pre>{_h(r.text)}</pre></section>"
            )
        out.append("</div>")
    out.append("</body></html>")
    return redact("\n".join(out)) + "\n"
