"""The leaderboard: Bradley–Terry ratings from stored votes, checked against results worked out
here independently (closed forms, the fit's own defining equations), then as a user sees them:
`modelrace leaderboard` in a real process and the dashboard's screen through the pilot.

Races are saved and votes recorded through the store's own API, into the test's MODELRACE_DB.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from screen import on_screen, screen_lines, until

from providers import store
from providers.arena.leaderboard import Leaderboard, build, leaderboard
from providers.arena.votes import Vote, load_votes, record_vote
from providers.events import Finished, Started, TextDelta, Usage
from providers.record import Result, Run
from tui.app import ModelRaceApp
from tui.history import PromptHistory

ROOT = Path(__file__).resolve().parent.parent
ELO = 400 / math.log(10)  # rating points per unit of log-strength


def answered(spec: str, ttft: float, tokens: int = 21, seconds: float = 1.0) -> Result:
    """A finished result: first token after `ttft`, `tokens` tokens over `seconds` after it."""
    r = Result(spec)
    r.apply(Started(100.0))
    for k in range(tokens):
        r.apply(TextDelta(100.0 + ttft + k * seconds / (tokens - 1), "word "))
    r.apply(Usage(100.0 + ttft + seconds, 5, tokens))
    r.apply(Finished(100.0 + ttft + seconds))
    return r


def stored_race(models: tuple[str, ...], ttfts: dict[str, float] | None = None) -> int:
    ttfts = ttfts or {}
    results = [answered(m, ttfts.get(m, 0.1)) for m in models]
    run = Run("async", results, concurrent=True, t0=100.0, t_end=102.0)
    return store.save(store.StoredRace("which is better?", [run], "async"))


def vote(
    models: tuple[str, ...], verdict: str, winner: str | None = None, *, blind: bool = False
) -> None:
    """Store a race of these models and a vote on it, as the arena does."""
    record_vote(Vote(stored_race(models), models, verdict, winner, blind=blind))


def ratings(board: Leaderboard) -> dict[str, float]:
    return {s.model: s.rating for s in board.standings}


# --- the fit ----------------------------------------------------------------------------------


def test_two_models_match_the_closed_form_rating_difference():
    for _ in range(7):
        vote(("sim:a", "sim:b"), "win", "sim:a")
    for _ in range(3):
        vote(("sim:a", "sim:b"), "win", "sim:b")
    mle = ratings(build(load_votes(), prior=0.0, rounds=0))
    # Two models: P(a beats b) = 7/10 exactly at the maximum-likelihood fit.
    assert mle["sim:a"] - mle["sim:b"] == pytest.approx(400 * math.log10(0.7 / 0.3), abs=1e-6)
    assert (mle["sim:a"] + mle["sim:b"]) / 2 == pytest.approx(1000)
    # The default prior (one virtual draw each) pulls ten votes' gap in a little, not over.
    shrunk = ratings(leaderboard(rounds=0))
    gap = shrunk["sim:a"] - shrunk["sim:b"]
    assert 0.8 * 400 * math.log10(7 / 3) < gap < 400 * math.log10(7 / 3)


def test_a_chain_of_three_models_matches_its_closed_form_ties_counting_half():
    # a–b and b–c only: the fit splits into two pairs. a:b is 2 wins + 2 ties vs 0 wins, so
    # 3:1 in half-wins; b:c is 1 win each way + 1 tie, so even.
    for _ in range(2):
        vote(("sim:a", "sim:b"), "win", "sim:a")
    vote(("sim:a", "sim:b"), "tie")
    vote(("sim:a", "sim:b"), "all_bad")
    vote(("sim:b", "sim:c"), "win", "sim:b")
    vote(("sim:b", "sim:c"), "win", "sim:c")
    vote(("sim:b", "sim:c"), "tie")
    got = ratings(build(load_votes(), prior=0.0, rounds=0))
    d = 400 * math.log10(3)
    assert got["sim:a"] == pytest.approx(1000 + 2 * d / 3, abs=1e-6)
    assert got["sim:b"] == pytest.approx(1000 - d / 3, abs=1e-6)
    assert got["sim:c"] == pytest.approx(1000 - d / 3, abs=1e-6)


def test_three_models_in_a_cycle_satisfy_the_bradley_terry_equations():
    # At the fit, each model's expected wins (Σ n_ij·σ(θi − θj)) equal its actual wins.
    record = {("a", "b"): 5, ("b", "a"): 2, ("b", "c"): 4, ("c", "b"): 3, ("c", "a"): 3}
    record[("a", "c")] = 1
    for (w, loser), count in record.items():
        for _ in range(count):
            vote((f"sim:{w}", f"sim:{loser}"), "win", f"sim:{w}")
    vote(("sim:a", "sim:b", "sim:c"), "tie")  # half a win each way for all three pairs
    got = {m[4:]: r / ELO for m, r in ratings(build(load_votes(), prior=0.0, rounds=0)).items()}
    for i in "abc":
        won = sum(c for (w, _), c in record.items() if w == i) + 1.0
        expected = 0.0
        for j in "abc":
            if j != i:
                games = record.get((i, j), 0) + record.get((j, i), 0) + 1
                expected += games / (1 + math.exp(got[j] - got[i]))
        assert expected == pytest.approx(won, abs=1e-6)
    assert max(got, key=got.__getitem__) == "a"


def test_a_model_that_wins_every_vote_ranks_first_with_a_finite_rating():
    for _ in range(4):
        vote(("sim:best", "sim:b", "sim:c"), "win", "sim:best")
    vote(("sim:b", "sim:c"), "win", "sim:b")
    vote(("sim:b", "sim:c"), "win", "sim:c")
    board = leaderboard(rounds=100)
    first = board.standings[0]
    assert first.model == "sim:best"
    assert (first.wins, first.losses, first.ties) == (4, 0, 0)
    assert first.low is not None and first.high is not None
    assert all(math.isfinite(x) for x in (first.rating, first.low, first.high))
    assert first.low <= first.rating <= first.high
    # Finite and sensible: the prior keeps it within 1000 points (316:1 odds) of the mean.
    assert first.high < 2000
    assert first.rating > max(s.rating for s in board.standings[1:]) + 100


def test_a_disconnected_graph_gets_finite_ratings_on_one_scale():
    # Two separate pairs with the same record: the prior ties them to one reference, so the
    # two winners (and the two losers) come out level.
    for winner, loser in (("sim:a", "sim:b"), ("sim:c", "sim:d")):
        for _ in range(3):
            vote((winner, loser), "win", winner)
    got = ratings(leaderboard(rounds=0))
    assert got["sim:a"] == pytest.approx(got["sim:c"], abs=1e-6)
    assert got["sim:b"] == pytest.approx(got["sim:d"], abs=1e-6)
    assert got["sim:a"] > 1000 > got["sim:b"]
    assert all(math.isfinite(r) for r in got.values())


def test_the_interval_is_reproducible_and_narrows_with_more_votes():
    for _ in range(6):
        vote(("sim:a", "sim:b"), "win", "sim:a")
    for _ in range(4):
        vote(("sim:a", "sim:b"), "win", "sim:b")
    few = leaderboard(rounds=200, seed=7).standings[0]
    assert leaderboard(rounds=200, seed=7).standings[0] == few
    many_votes = load_votes() * 10
    many = build(many_votes, rounds=200, seed=7).standings[0]
    assert few.low is not None and few.high is not None
    assert many.low is not None and many.high is not None
    assert few.low < few.rating < few.high
    assert many.high - many.low < (few.high - few.low) / 2


def test_counts_blind_votes_and_blind_only_leaves_the_others_out():
    vote(("sim:a", "sim:b"), "win", "sim:a", blind=True)
    vote(("sim:a", "sim:b"), "win", "sim:b")
    vote(("sim:a", "sim:c"), "tie", blind=True)
    board = leaderboard(rounds=0)
    a = next(s for s in board.standings if s.model == "sim:a")
    assert (a.votes, a.blind_votes, a.wins, a.losses, a.ties) == (3, 2, 1, 1, 1)
    blind = leaderboard(blind_only=True, rounds=0)
    a = next(s for s in blind.standings if s.model == "sim:a")
    assert (blind.votes, a.votes, a.wins, a.losses, a.ties) == (2, 2, 1, 0, 1)


# --- the command ------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "leaderboard", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        cwd=ROOT,
    )


def test_leaderboard_json_has_every_field_with_speed_medians_from_the_stored_races():
    for ttft in (0.2, 0.4, 0.9):
        stored_race(("sim:a", "sim:b"), {"sim:a": ttft, "sim:b": 0.05})
    vote(("sim:a", "sim:b"), "win", "sim:a", blind=True)
    vote(("sim:a", "sim:b"), "win", "sim:a")
    vote(("sim:a", "sim:b"), "all_bad")
    done = cli("--json", "--rounds", "50")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["votes"], doc["blind_votes"], doc["blind_only"]) == (3, 1, False)
    assert doc["scale"] == {"points_per_tenfold_odds": 400.0, "mean_rating": 1000.0}
    assert doc["bootstrap"]["rounds"] == 50 and doc["bootstrap"]["confidence"] == 0.95
    a, b = doc["models"]
    assert (a["rank"], a["model"], b["rank"], b["model"]) == (1, "sim:a", 2, "sim:b")
    assert (a["wins"], a["losses"], a["ties"], a["all_bad"]) == (2, 0, 1, 1)
    assert (a["votes"], a["blind_votes"]) == (3, 1)
    assert (a["rating"] + b["rating"]) / 2 == pytest.approx(1000, abs=0.1)
    assert a["ci_low"] <= a["rating"] <= a["ci_high"]
    # Six races hold sim:a (three above, three voted on at 0.1 s): median of 0.1,0.1,0.1,0.2,…
    assert a["median_ttft_s"] == pytest.approx(0.15, abs=1e-4)
    assert a["speed_samples"] == 6
    # 21 tokens, the last 20 over one second after the first.
    assert a["median_tokens_per_s"] == pytest.approx(20.0, abs=0.01)
    assert b["median_ttft_s"] == pytest.approx(0.075, abs=1e-4)  # 0.05 ×3, 0.1 ×3


def test_leaderboard_prints_the_table_and_what_the_numbers_mean():
    vote(("sim:a", "sim:b"), "win", "sim:b")
    vote(("sim:a", "sim:b"), "tie", blind=True)
    done = cli()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "rank", "model", "rating", "95%", "interval", "W/L/T", "votes", "blind", "TTFT", "tok/s"
    ]  # fmt: skip
    assert lines[1].split()[:2] == ["1", "sim:b"] and "1/0/1" in lines[1]
    assert lines[2].split()[:2] == ["2", "sim:a"] and "0/1/1" in lines[2]
    assert "2 votes (1 blind)" in done.stdout and "mean rating 1000" in done.stdout


def test_no_votes_is_one_line_and_exit_0_and_json_an_empty_list():
    stored_race(("sim:a", "sim:b"))  # races without votes: still nothing to rank
    done = cli()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("no votes stored yet in ") and done.stdout.count("\n") == 1
    done = cli("--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["models"] == []


def test_a_broken_store_is_one_line_and_exit_1_as_history(tmp_path: Path):
    bad = tmp_path / "broken.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    env = {**os.environ, "MODELRACE_DB": str(bad)}
    for command in ("leaderboard", "history"):
        done = subprocess.run(
            [sys.executable, "-m", "tui", command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "damaged" in done.stderr
    assert bad.read_bytes() == b"this is not a database at all" * 100


def test_negative_rounds_is_bad_usage():
    done = cli("--rounds", "-1")
    assert done.returncode == 2 and "--rounds" in done.stderr


# --- the screen -------------------------------------------------------------------------------


def board_rows(app: ModelRaceApp) -> list[list[str]]:
    lines = screen_lines(app)
    head = next(i for i, line in enumerate(lines) if "rank" in line and "tok/s" in line)
    rows = []
    for line in lines[head + 1 :]:
        cells = line.strip(" │").split()
        if not cells or not cells[0].isdigit():
            break
        rows.append(cells)
    return rows


@pytest.mark.usefixtures("sim_env")
async def test_f8_shows_the_leaderboard_and_b_switches_to_blind_votes_only():
    vote(("sim:a", "sim:b"), "win", "sim:b")
    vote(("sim:a", "sim:b"), "win", "sim:b")
    vote(("sim:a", "sim:c"), "win", "sim:c", blind=True)
    expected = leaderboard()
    app = ModelRaceApp(["sim:fast"], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: on_screen(app, "3 votes (1 blind)"))
        rows = board_rows(app)
        assert [r[1] for r in rows] == [s.model for s in expected.standings]
        top = expected.standings[0]
        assert rows[0][:3] == ["1", top.model, f"{top.rating:.0f}"]
        assert f"{top.wins}/{top.losses}/{top.ties}" in rows[0]
        await pilot.press("b")
        await until(pilot, lambda: on_screen(app, "1 blind votes"))
        assert sorted(r[1] for r in board_rows(app)) == ["sim:a", "sim:c"]
        await pilot.press("escape")
        await until(pilot, lambda: not on_screen(app, "Leaderboard"))


@pytest.mark.usefixtures("sim_env")
async def test_the_screen_says_when_there_are_no_votes():
    app = ModelRaceApp(["sim:fast"], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: on_screen(app, "no votes stored yet in"))
        assert board_rows(app) == []
