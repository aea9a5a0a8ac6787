"""Stored benches exported as Markdown and HTML, and deleted, through real `modelrace` runs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from cli_helpers import modelrace

PROMPT = "Explain asyncio in one sentence."
FAST = "sim:fast,ttft=0.05,tokens=6,tps=300,jitter=0"
OTHER = "sim:fast,ttft=0.08,tokens=4,tps=200,jitter=0,seed=7"


def _bench(*args: str, sim: str) -> None:
    out = modelrace("bench", PROMPT, *args, sim=sim)
    assert out.returncode == 0, out.stderr


class _Text(HTMLParser):
    """The page's visible text and its tags, checking that every opened table closes."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.cells: list[str] = []
        self.open_tables = 0
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open_tables += tag == "table"
        self._in_cell = tag == "td" or self._in_cell

    def handle_endtag(self, tag: str) -> None:
        self.open_tables -= tag == "table"
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_cell:
            self.cells.append(data)


def test_a_sweep_exports_as_markdown_and_html_with_every_model_and_the_advice(
    sim_env: str, tmp_path: Path
) -> None:
    _bench("-m", FAST, "-m", OTHER, "--concurrency", "1,2", "--duration", "0.5", sim=sim_env)
    doc = json.loads(modelrace("show", "b1", "--json", sim=sim_env).stdout)
    advice = list(doc["advice"].values())
    assert len(advice) == 2

    md = modelrace("export", "b1", "--format", "md", sim=sim_env)
    assert md.returncode == 0, md.stderr
    rows = [line for line in md.stdout.splitlines() if line.startswith("| sim:fast")]
    levels = sorted((r.split(" | ")[0][2:], r.split(" | ")[1]) for r in rows)
    assert levels == sorted((m, lv) for m in (FAST, OTHER) for lv in ("1", "2"))
    for sentence in advice:
        assert sentence in md.stdout
    assert "--concurrency 1,2" in md.stdout

    page = tmp_path / "bench.html"
    html = modelrace("export", "b1", "--format", "html", "-o", str(page), sim=sim_env)
    assert html.returncode == 0 and html.stdout == "", html.stderr
    parser = _Text()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    assert parser.open_tables == 0
    assert {FAST, OTHER} <= set(parser.cells)
    text = "".join(parser.text)
    for sentence in advice:
        assert sentence in text


def test_a_repeat_exports_its_speedup_interval_and_escapes_the_prompt(sim_env: str) -> None:
    prompt = "<script>alert(1)</script> & |pipes|"
    out = modelrace(
        "bench", prompt, "-m", FAST, "--repeat", "2", "--warmup", "0", "--mode", "both",
        sim=sim_env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(modelrace("show", "b1", "--json", sim=sim_env).stdout)
    low, high = doc["speedup"]["ci95"]

    md = modelrace("export", "b1", "--format", "md", sim=sim_env).stdout
    assert f"interval {low:.3f}x to {high:.3f}x" in md
    assert [line.split(" | ")[1] for line in md.splitlines() if line.startswith("| sim:")] == [
        "sync",
        "async",
    ]
    html = modelrace("export", "b1", "--format", "html", sim=sim_env).stdout
    assert "<script>" not in html and "&lt;script&gt;" in html
    parser = _Text()
    parser.feed(html)
    assert prompt in "".join(parser.text)


def test_delete_removes_benches_and_an_unknown_id_deletes_nothing(sim_env: str) -> None:
    for _ in range(2):
        _bench("-m", FAST, "--repeat", "1", "--warmup", "0", sim=sim_env)

    def stored() -> list[str]:
        listed = modelrace("history", "--bench", "--json", sim=sim_env)
        return [row["id"] for row in json.loads(listed.stdout)]

    assert stored() == ["b2", "b1"]
    unknown = modelrace("delete", "b1", "b9", sim=sim_env)
    assert unknown.returncode == 2, unknown.stderr
    assert unknown.stderr.count("\n") == 1 and "b9" in unknown.stderr
    assert stored() == ["b2", "b1"]
    no_race = modelrace("delete", "b1", "42", sim=sim_env)
    assert no_race.returncode == 2 and no_race.stderr.count("\n") == 1, no_race.stderr
    assert stored() == ["b2", "b1"]

    gone = modelrace("delete", "b1", sim=sim_env)
    assert gone.returncode == 0, gone.stderr
    assert stored() == ["b2"]
    again = modelrace("show", "b1", sim=sim_env)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
