"""Votes in the run store: what is kept, and what is refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_store import _race

from providers import store
from providers.arena.votes import Vote, VoteRefused, load_votes, record_vote


def test_a_vote_is_kept_with_its_turn_models_and_blindness(tmp_path: Path):
    db = tmp_path / "s.db"
    race_id = store.save(_race(), db)
    record_vote(Vote(race_id, ("sim:a", "sim:b"), "win", "sim:b", turn=2, blind=True), db)
    [vote] = load_votes(db)
    assert (vote.race_id, vote.models, vote.verdict, vote.winner) == (
        race_id,
        ("sim:a", "sim:b"),
        "win",
        "sim:b",
    )
    assert (vote.turn, vote.blind) == (2, True)


def test_a_second_vote_on_a_race_is_refused_and_the_first_kept(tmp_path: Path):
    db = tmp_path / "s.db"
    race_id = store.save(_race(), db)
    record_vote(Vote(race_id, ("sim:a", "sim:b"), "tie"), db)
    with pytest.raises(VoteRefused, match="already has a vote"):
        record_vote(Vote(race_id, ("sim:a", "sim:b"), "win", "sim:a"), db)
    assert [v.verdict for v in load_votes(db)] == ["tie"]


@pytest.mark.parametrize(
    ("models", "verdict", "winner", "message"),
    [
        (("sim:a",), "tie", None, "at least two"),
        (("sim:a", "sim:b"), "win", None, "names its winner"),
        (("sim:a", "sim:b"), "tie", "sim:a", "names its winner"),
        (("sim:a", "sim:b"), "win", "sim:c", "not in this race"),
        (("sim:a", "sim:b"), "best", None, "unknown verdict"),
    ],
)
def test_a_malformed_vote_is_refused(models, verdict, winner, message):
    with pytest.raises(VoteRefused, match=message):
        Vote(1, models, verdict, winner)


def test_a_vote_on_a_race_that_is_not_stored_is_refused(tmp_path: Path):
    db = tmp_path / "s.db"
    store.save(_race(), db)
    with pytest.raises(VoteRefused, match="no race 99"):
        record_vote(Vote(99, ("sim:a", "sim:b"), "all_bad"), db)
    assert load_votes(db) == []
