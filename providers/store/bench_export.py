"""A stored bench as Markdown or one self-contained HTML page, for keeping or sharing.

Built from the bench's own `--json` document (every figure `bench` printed is in it), so an
export shows what was measured, not a re-run. Text from prompts and errors is data: control
characters become visible stand-ins and HTML is escaped, as in race exports.
"""

from __future__ import annotations

import json
import shlex
from html import escape
from typing import Any

from providers.environment import redact
from providers.store.benches import StoredBench
from providers.store.export import PAGE_CSS, printable

Table = tuple[list[str], list[list[str]]]


def _s(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _q(stats: object, key: str) -> str:
    return _s(stats.get(key)) if isinstance(stats, dict) else "-"


def command(bench: StoredBench, doc: dict[str, Any]) -> str:
    """The command line that measures this bench again (models and settings as stored)."""
    words = ["modelrace", "bench", doc.get("prompt", bench.prompt)]
    for model in bench.models:
        words += ["-m", model]
    if doc.get("bench") == "concurrency":
        words += ["--concurrency", ",".join(str(n) for n in doc.get("levels", []))]
        if doc.get("duration_s") is not None:
            words += ["--duration", str(doc["duration_s"])]
        if doc.get("requests") is not None:
            words += ["--requests", str(doc["requests"])]
    else:
        words += ["--repeat", str(doc.get("repeat", "")), "--mode", str(doc.get("mode", ""))]
    if doc.get("warmup") is not None:
        words += ["--warmup", str(doc["warmup"])]
    return shlex.join(str(w) for w in words)


def settings(bench: StoredBench, doc: dict[str, Any]) -> list[tuple[str, str]]:
    keys = ("bench", "mode", "repeat", "warmup", "races_done", "levels", "duration_s", "requests")
    rows = [(k, str(doc[k])) for k in keys if doc.get(k) is not None]
    rows.append(("quantile method", str(doc.get("quantile_method", "-"))))
    if bench.interrupted:
        rows.append(("interrupted", "yes"))
    return rows


def tables(doc: dict[str, Any]) -> list[tuple[str, Table]]:
    """Per model (repeat) or per model and level (sweep), the figures `bench` reported (s)."""
    if doc.get("bench") == "concurrency":
        head = ["model", "concurrency", "req/s", "out tok/s", "TTFT p50", "TTFT p99"]
        head += ["e2e p50", "e2e p99", "error rate"]
        rows = [
            [
                str(c.get("model", "")),
                str(c.get("concurrency", "")),
                _s(c.get("requests_per_s")),
                _s(c.get("output_tokens_per_s")),
                _q(c.get("ttft_s"), "p50"),
                _q(c.get("ttft_s"), "p99"),
                _q(c.get("e2e_s"), "p50"),
                _q(c.get("e2e_s"), "p99"),
                _s(c.get("error_rate")),
            ]
            for c in doc.get("cells", [])
        ]
        return [("Sweep", (head, rows))]
    head = ["model", "mode", "n", "failures", "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50"]
    head += ["ITL p99", "e2e p50", "e2e p99", "out tok/s p50", "first error"]
    rows = [
        [
            str(m.get("model", "")),
            str(m.get("mode", "")),
            str(m.get("n", "")),
            str(m.get("failures", "")),
            _q(m.get("ttft_s"), "p50"),
            _q(m.get("ttft_s"), "p90"),
            _q(m.get("ttft_s"), "p99"),
            _q(m.get("inter_token_latency_s"), "p50"),
            _q(m.get("inter_token_latency_s"), "p99"),
            _q(m.get("e2e_s"), "p50"),
            _q(m.get("e2e_s"), "p99"),
            _q(m.get("output_tokens_per_s"), "p50"),
            str(m.get("first_error") or ""),
        ]
        for m in doc.get("summary", [])
    ]
    return [("Per model", (head, rows))]


def conclusions(doc: dict[str, Any]) -> list[str]:
    """The sweep's one-sentence advice per model, or the repeat's speedup with its interval."""
    if doc.get("bench") == "concurrency":
        return [str(line) for line in (doc.get("advice") or {}).values()]
    speedup = doc.get("speedup")
    if isinstance(speedup, dict) and speedup.get("median") is not None:
        low, high = (speedup.get("ci95") or [None, None])[:2]
        return [
            f"speedup (sync wall / async wall): median {_s(speedup['median'])}x, "
            f"95% bootstrap interval {_s(low)}x to {_s(high)}x"
        ]
    return []


def _title(bench: StoredBench) -> str:
    return f"modelrace bench b{bench.id}"


def _cell(text: str) -> str:
    return " ".join(printable(text).split()).replace("|", "\\|") or " "


def to_markdown(bench: StoredBench) -> str:
    doc = json.loads(bench.document)
    out = [f"# {_title(bench)}", "", f"*{bench.created or ''}*", "", "## Command", ""]
    out += ["```sh", printable(command(bench, doc)), "```", "", "## Settings", ""]
    out += ["| setting | value |", "|---|---|"]
    out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in settings(bench, doc)]
    for name, (head, rows) in tables(doc):
        out += ["", f"## {name} (seconds unless marked)", ""]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        out += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    lines = conclusions(doc)
    if lines:
        out += ["", "## Result", ""] + [f"- {printable(line)}" for line in lines]
    return redact("\n".join(out)) + "\n"


def _h(text: str) -> str:
    return escape(printable(text))


def to_html(bench: StoredBench) -> str:
    doc = json.loads(bench.document)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"/>',
        f"<title>{_h(_title(bench))}</title><style>{PAGE_CSS}</style></head><body>",
        f"<h1>{_h(_title(bench))}</h1>",
        f'<p class="meta">{_h(bench.created or "")}</p>',
        f"<h2>Command</h2><pre>{_h(command(bench, doc))}</pre>",
        "<h2>Settings</h2><table>",
        *(f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in settings(bench, doc)),
        "</table>",
    ]
    for name, (head, rows) in tables(doc):
        out.append(f"<h2>{_h(name)} (seconds unless marked)</h2><table><tr>")
        out += [f"<th>{_h(h)}</th>" for h in head] + ["</tr>"]
        for row in rows:
            out.append("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>")
        out.append("</table>")
    lines = conclusions(doc)
    if lines:
        out.append("<h2>Result</h2><ul>")
        out += [f"<li>{_h(line)}</li>" for line in lines]
        out.append("</ul>")
    out.append("</body></html>")
    return redact("\n".join(out)) + "\n"


def export_bench(bench: StoredBench, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(bench.to_json(), ensure_ascii=False)
    if fmt == "md":
        return to_markdown(bench)
    if fmt == "html":
        return to_html(bench)
    raise ValueError(f"a bench exports as json, md or html, not {fmt}")
