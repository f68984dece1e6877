"""Why a score moved: the groups whose contributions moved, told by their sentences."""

from __future__ import annotations

from models.score_moves import why_moved


def test_why_moved_names_the_groups_that_moved_toward_the_change():
    before = {"tickets": 0.1, "usage": 0.2, "nps": 0.3}
    now = {"tickets": 1.0, "usage": 0.5, "nps": 0.0, "renewal": 0.04}
    said = {"risk": [{"group": "tickets", "sentence": "2 urgent tickets open"}], "protective": [], "context": []}
    assert why_moved(0.12, now, before, said) == "risk up 12 points: 2 urgent tickets open; usage worse"
    assert why_moved(-0.01, before, now, said) == "risk down 1 point: tickets better; usage better"
    assert why_moved(0.001, now, before, said) is None  # under half a point
    assert why_moved(0.2, now, None, said) is None and why_moved(float("nan"), now, before, said) is None
    assert why_moved(0.05, before, before, said) == "risk up 5 points"  # the probability moved, no group did
