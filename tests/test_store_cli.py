"""The run store as a user meets it: `run` and `pipeline` save, `history`, `show`, `export`,
`delete` read it back; real processes against the test simulator."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_helpers import interrupted, modelrace

from providers.sim import expected_answer

PROMPT = "Explain asyncio in one sentence."
QUICK = "fast,ttft=0.05,tokens=12,tps=200,jitter=0"
MODELS = ("-m", f"sim:{QUICK}", "-m", "sim:slow,tokens=5,ttft=0.1", "-m", "sim:error")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "modelrace.db"
    monkeypatch.setenv("MODELRACE_DB", str(path))
    return path


def _one_line_error(out, status: int, needle: str) -> None:  # type: ignore[no-untyped-def]
    assert out.returncode == status, (out.stdout, out.stderr)
    assert out.stderr.count("\n") == 1 and needle in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_show_json_is_the_run_json_document_plus_id(sim_env: str, db: Path):
    ran = modelrace("run", PROMPT, *MODELS, "--json", sim=sim_env)
    assert ran.returncode == 1, ran.stderr  # sim:error failed, as intended

    shown = modelrace("show", "1", "--json", sim=sim_env)

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"id": 1, **json.loads(ran.stdout)}


def test_show_prints_the_report_run_printed(sim_env: str, db: Path):
    ran = modelrace("run", PROMPT, *MODELS, "--system", "Be brief.", sim=sim_env)
    again = modelrace("run", "second prompt", "-m", f"sim:{QUICK}", "--mode", "async", sim=sim_env)

    shown = modelrace("show", "1", sim=sim_env)
    listed = modelrace("history", sim=sim_env)

    assert shown.returncode == 0 and again.returncode == 0
    head, body = shown.stdout.split("\n\n", 1)
    assert body == ran.stdout and "mode both" in head and PROMPT in head
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "when", "mode"]
    assert lines[1].split()[0] == "2" and "second prompt" in lines[1] and "async" in lines[1]
    assert lines[2].split()[0] == "1" and "sim:fast" in lines[2] and "x" in lines[2].split()[-1]


def test_history_json_search_limit_and_no_save(sim_env: str, db: Path):
    for prompt in ("alpha question", "beta question", "gamma question"):
        out = modelrace("run", prompt, "-m", f"sim:{QUICK}", "--mode", "async", sim=sim_env)
        assert out.returncode == 0, out.stderr
    skipped = modelrace("run", "delta", "-m", f"sim:{QUICK}", "--no-save", sim=sim_env)

    every = json.loads(modelrace("history", "--json", sim=sim_env).stdout)
    found = json.loads(modelrace("history", "--search", "BETA", "--json", sim=sim_env).stdout)
    last = json.loads(modelrace("history", "--limit", "1", "--json", sim=sim_env).stdout)

    assert skipped.returncode == 0
    assert [row["prompt"] for row in every] == ["gamma question", "beta question", "alpha question"]
    assert every[0]["models"] == [f"sim:{QUICK}"] and every[0]["runs"][0]["mode"] == "async"
    assert [row["id"] for row in found] == [2]
    assert [row["id"] for row in last] == [3]


def test_a_ctrl_c_run_is_stored_as_interrupted_with_its_partial_text(sim_env: str, db: Path):
    slow = "slow,ttft=0.05,tokens=400,tps=40"
    status, stdout, _ = interrupted(
        "run", PROMPT, "-m", f"sim:{slow}", "--mode", "async", sim=sim_env, after=4
    )

    row = json.loads(modelrace("history", "--json", sim=sim_env).stdout)[0]
    doc = json.loads(modelrace("show", "1", "--json", sim=sim_env).stdout)

    assert status == 130
    assert row["interrupted"] is True and row["id"] == 1
    result = doc["runs"][0]["results"][0]
    assert result["state"] == "cancelled" and result["error_kind"] == "cancelled"
    assert len(result["text"]) > 20 and expected_answer(slow, PROMPT).startswith(result["text"])
    assert result["text"].strip() in stdout


def test_no_key_reaches_the_database_file(sim_env: str, db: Path):
    secret = "k3y-thisisaverysecretvalue0123456789"
    out = modelrace(
        "run",
        f"my key is {secret}",
        "-m",
        "openai:unauthorized",
        "-m",
        f"sim:{QUICK}",
        "--system",
        f"the key {secret}",
        "--mode",
        "async",
        sim=sim_env,
        OPENAI_API_KEY=secret,
    )
    shown = modelrace("show", "1", "--json", sim=sim_env)

    assert out.returncode == 1, out.stderr
    error = json.loads(shown.stdout)["runs"][0]["results"][0]["error"]
    assert "HTTP 401" in error and "***" in error
    files = list(db.parent.iterdir())
    assert db in files
    for file in files:
        assert secret.encode() not in file.read_bytes(), file


def test_exports_parse_and_carry_every_answer(sim_env: str, db: Path, tmp_path: Path):
    models = ("-m", f"sim:{QUICK}", "-m", "sim:markup", "-m", "sim:error")
    assert modelrace("run", PROMPT, *models, sim=sim_env).returncode == 1
    page, md = tmp_path / "race.html", tmp_path / "race.md"

    as_json = modelrace("export", "1", "--format", "json", sim=sim_env)
    to_md = modelrace("export", "1", "--format", "md", "-o", str(md), sim=sim_env)
    to_html = modelrace("export", "1", "--format", "html", "-o", str(page), sim=sim_env)
    shown_md = modelrace("show", "1", "--markdown", sim=sim_env)

    doc = json.loads(as_json.stdout)
    assert doc["id"] == 1 and to_md.returncode == 0 and to_html.returncode == 0
    markdown, html = md.read_text(), page.read_text()
    assert shown_md.stdout == markdown
    for result in doc["runs"][1]["results"]:
        assert result["model"] in markdown and result["model"] in html
    assert expected_answer(QUICK, PROMPT) in markdown
    assert "[bold red]x[/]" in markdown and "\x1b" not in markdown + html
    root = ET.fromstring(html.split("\n", 1)[1])
    assert root.tag == "html" and root.find(".//{http://www.w3.org/2000/svg}svg") is not None
    assert len(root.findall(".//{http://www.w3.org/2000/svg}rect")) >= 6


def test_a_pipeline_pass_is_saved_and_shown_as_it_printed(sim_env: str, db: Path, tmp_path: Path):
    pipe = tmp_path / "p.toml"
    pipe.write_text(
        'name = "tiny"\ninput = "q"\n[steps.plan]\nwait = 0.05\noutput = "plan for {input}"\n'
        '[steps.ask]\nmodel = "sim:fast,tokens=6"\nafter = ["plan"]\nprompt = "{steps.plan}"\n'
    )
    ran = modelrace("pipeline", str(pipe), "--json", sim=sim_env)
    text = modelrace("pipeline", str(pipe), sim=sim_env)

    assert ran.returncode == 0 and text.returncode == 0, ran.stderr + text.stderr
    shown = json.loads(modelrace("show", "1", "--json", sim=sim_env).stdout)
    assert shown == {"id": 1, **json.loads(ran.stdout)}
    body = modelrace("show", "2", sim=sim_env).stdout.split("\n\n", 1)[1]
    assert body == text.stdout


def test_unknown_ids_and_unwritable_paths_are_one_line_and_exit_2(sim_env: str, db: Path):
    assert modelrace("run", PROMPT, "-m", f"sim:{QUICK}", sim=sim_env).returncode == 0

    _one_line_error(modelrace("show", "5", sim=sim_env), 2, "no stored race has id 5")
    _one_line_error(modelrace("export", "9", "--format", "md", sim=sim_env), 2, "id 9")
    _one_line_error(modelrace("delete", "1", "4", sim=sim_env), 2, "id 4")
    _one_line_error(
        modelrace("show", "x", sim=sim_env), 2, "neither a race id (3) nor a bench id (b3)"
    )
    out = modelrace("export", "1", "--format", "html", "-o", str(db.parent / "no/x"), sim=sim_env)
    _one_line_error(out, 2, "cannot write")
    assert modelrace("show", "1", sim=sim_env).returncode == 0  # delete 1 4 deleted nothing

    deleted = modelrace("delete", "1", sim=sim_env)

    assert deleted.returncode == 0 and deleted.stdout == "deleted 1\n"
    _one_line_error(modelrace("show", "1", sim=sim_env), 2, "no stored race has id 1")
    assert json.loads(modelrace("history", "--json", sim=sim_env).stdout) == []


def test_a_corrupt_store_is_one_line_and_the_race_still_prints(sim_env: str, db: Path):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not sqlite at all\n" * 200)
    before = db.read_bytes()

    out = modelrace("run", PROMPT, "-m", f"sim:{QUICK}", "--mode", "async", sim=sim_env)
    listed = modelrace("history", sim=sim_env)

    assert out.returncode == 0 and expected_answer(QUICK, PROMPT) in out.stdout
    assert out.stderr.count("\n") == 1 and "not saved" in out.stderr and str(db) in out.stderr
    _one_line_error(listed, 1, "damaged")
    assert db.read_bytes() == before


def test_keep_runs_keeps_only_the_newest_races(
    sim_env: str, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = tmp_path / "modelrace.toml"
    config.write_text("keep_runs = 2\n")
    monkeypatch.setenv("MODELRACE_CONFIG", str(config))
    for prompt in ("one", "two", "three"):
        out = modelrace("run", prompt, "-m", f"sim:{QUICK}", "--mode", "async", sim=sim_env)
        assert out.returncode == 0, out.stderr

    rows = json.loads(modelrace("history", "--json", sim=sim_env).stdout)

    assert [(row["id"], row["prompt"]) for row in rows] == [(3, "three"), (2, "two")]


def _svg_rows(svg: str) -> list[str]:
    """The picture's rows as text: each <text> placed at its column of its terminal line."""
    import html
    import re

    found = re.findall(
        r'<text [^>]*x="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>', svg
    )
    rows: dict[int, dict[int, str]] = {}
    for x, line, content in found:
        cells = rows.setdefault(int(line), {})
        for offset, char in enumerate(html.unescape(content).replace("\xa0", " ")):
            cells[round(float(x) / 12.2) + offset] = char
    return [
        "".join(cells.get(i, " ") for i in range(max(cells) + 1)).rstrip()
        for _, cells in sorted(rows.items())
    ]


def test_export_svg_is_the_dashboard_timeline(sim_env: str, db: Path, tmp_path: Path):
    specs = ("sim:fast,tokens=12", "sim:slow,tokens=5,ttft=0.1", "sim:error")
    ran = modelrace("run", PROMPT, *[a for s in specs for a in ("-m", s)], sim=sim_env)
    assert ran.returncode == 1, ran.stderr  # sim:error failed, as intended
    picture = tmp_path / "t.svg"

    to_file = modelrace("export", "1", "--format", "svg", "-o", str(picture), sim=sim_env)
    to_stdout = modelrace("export", "1", "--format", "svg", sim=sim_env)

    assert to_file.returncode == 0 and to_stdout.returncode == 0, to_file.stderr
    svg = picture.read_text()
    assert to_stdout.stdout == svg
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    rows = _svg_rows(svg)
    sync = next(i for i, row in enumerate(rows) if row.strip().startswith("#1 sync"))
    run_async = next(i for i, row in enumerate(rows) if row.strip().startswith("#2 async"))
    for offset, spec in enumerate(specs, 1):
        # One bar per model on each side, labelled with its spec, its time at the end.
        assert rows[sync + offset].split()[0] == spec, rows
        assert rows[run_async + offset].split()[0] == spec, rows
    assert rows[sync + 3].endswith("s✗") and "speedup sync ÷ async" in rows[-1]
    assert "time" in rows[1] and "0s" in rows[1]

    _one_line_error(modelrace("export", "4", "--format", "svg", sim=sim_env), 2, "id 4")
    out = modelrace("export", "1", "--format", "svg", "-o", str(tmp_path / "no/x"), sim=sim_env)
    _one_line_error(out, 2, "cannot write")
