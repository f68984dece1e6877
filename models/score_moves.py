"""Why an account's probability moved since its previous run, in sentences a CSM reads.

Each run stores every reason group's contribution (log-odds) with the group's leading feature and its
value (:func:`models.reason_documents.contributions_json`); the next run compares its own against them
and tells each group that moved by its feature's sentence and where the value came from
("Last NPS answer was 8 of 10, up from 4"), from the same definitions that write the reasons.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from models.reason_documents import contributions


#: A group moves the score when its contribution changes by at least this much (log-odds).
MOVE_FLOOR = 0.05

#: Default smallest move explained, in probability points (``scoring.change_min_points``).
MIN_POINTS = 5.0


def moves(change: float | None, min_points: float = MIN_POINTS) -> bool:
    """Whether a probability change is large enough to explain: at least ``min_points`` points."""
    return change is not None and math.isfinite(change) and abs(change) * 100 >= min_points - 1e-9


def why_moved(change: float | None, now: dict | None, before: dict | None,
              reasons: dict | Callable[[], dict | None] | None, features: Mapping[str, Any] | None = None,
              min_points: float = MIN_POINTS, top: int = 2) -> str | None:
    """Why an account's probability moved since its previous run, in one line of sentences.

    The groups whose contributions moved the most in the direction of the change
    (at least :data:`MOVE_FLOOR` log-odds), each told by the sentence of its leading
    feature at today's value and the value it had before ("Last NPS answer was 8 of 10,
    up from 4"); ``features`` maps feature names to their definitions
    (``features.base.Feature``). A group whose leading feature is unknown is told by its
    current sentence in ``reasons`` when it is listed there, and left out otherwise: a
    group's identifier never reaches a reader::

        "risk up 12 points: 2 high/urgent support tickets still open, up from 0; ..."

    ``reasons`` is the account's reasons document or a function returning it, called only
    when a group needs it (parsing every moved account's document is most of a nightly
    write's time when a retrain moves them all). Only the ``top`` sentences told are rendered.

    One call of a :class:`MoveTeller`; a write that explains many accounts keeps one teller, which renders
    each distinct sentence once.

    ``None`` when there is no previous run, no stored contributions, or the move is under
    ``min_points`` probability points (``scoring.change_min_points``).
    """
    return MoveTeller(features, min_points, top)(change, now, before, reasons)


class MoveTeller:
    """:func:`why_moved` for the accounts of one write, rendering each distinct sentence once.

    A night after a retrain explains tens of thousands of moves, and more than half of their sentences repeat
    (the same feature, value and value before: 37,128 distinct among 82,986 on the 10 M-event bench world).

    Parameters
    ----------
    features : mapping of str to features.base.Feature, optional
        Feature names to their definitions, which write the sentences.
    min_points : float
        Smallest move explained, in probability points (``scoring.change_min_points``).
    top : int
        Sentences told per account.
    """

    def __init__(self, features: Mapping[str, Any] | None = None, min_points: float = MIN_POINTS, top: int = 2):
        self.features, self.min_points, self.top = features, min_points, top
        self._said: dict[tuple, str] = {}

    def __call__(self, change: float | None, now: dict | None, before: dict | None,
                 reasons: dict | Callable[[], dict | None] | None) -> str | None:
        """Why one account's probability moved: :func:`why_moved` with this teller's settings."""
        if change is None or not moves(change, self.min_points) or not now or before is None:
            return None
        sign = 1.0 if change > 0 else -1.0
        today, earlier = contributions(now), contributions(before)
        moved = {g: sign * (today.get(g, 0.0) - earlier.get(g, 0.0)) for g in today.keys() | earlier.keys()}
        movers = sorted((g for g, d in moved.items() if d >= MOVE_FLOOR), key=lambda g: (-moved[g], g))
        said: list[str] = []
        listed: dict[str, str] | None = None
        for g in movers:
            if len(said) >= self.top:
                break
            sentence = self._sentence(now.get(g), before.get(g))
            if not sentence:
                listed = _listed(reasons, sign) if listed is None else listed
                sentence = listed.get(g)
            if sentence:
                said.append(sentence)
        points = round(abs(change) * 100)
        head = f"risk {'up' if sign > 0 else 'down'} {points} point{'' if points == 1 else 's'}"
        return head + ": " + "; ".join(said) if said else head

    def _sentence(self, now: Any, before: Any) -> str | None:
        """A group's move told by its leading feature: today's sentence, and the value before when it was the same
        feature; ``None`` when the entry holds no feature (older rows) or the feature is not defined."""
        features = self.features
        if not isinstance(now, list) or len(now) < 3 or not features or now[1] not in features:
            return None
        earlier = before[2] if isinstance(before, list) and len(before) >= 3 and before[1] == now[1] else None
        toward_risk = now[0] >= 0
        # the types are part of the key: 1 and 1.0 are equal keys but may read differently ("{value}")
        key = (now[1], type(now[2]), now[2], type(earlier), earlier, toward_risk)
        sentence = self._said.get(key)
        if sentence is None:
            sentence = self._said[key] = features[now[1]].moved(now[2], earlier, toward_risk=toward_risk)
        return sentence


def _listed(reasons: dict | Callable[[], dict | None] | None, sign: float) -> dict[str, str]:
    """Each group's current sentence in the reasons document, from the parts that read the way the score moved."""
    document = reasons() if callable(reasons) else reasons
    parts = ("context", "risk") if sign > 0 else ("context", "protective")
    return {r["group"]: r["sentence"] for part in parts for r in (document or {}).get(part, [])}
