"""Why an account's probability moved since its previous run: the reason groups whose contributions moved.

Each run stores every reason group's contribution (log-odds) with its scores
(:func:`models.reason_documents.contributions_json`); the next run compares its own against them.
"""

from __future__ import annotations

import math

#: A group moves the score when its contribution changes by at least this much (log-odds).
MOVE_FLOOR = 0.05


#: A probability change below this (half a point) is no move to explain.
MIN_CHANGE = 0.005


def moves(change: float | None) -> bool:
    """Whether a probability change is large enough for :func:`why_moved` to explain."""
    return change is not None and math.isfinite(change) and abs(change) >= MIN_CHANGE


def why_moved(change: float | None, now: dict | None, before: dict | None, reasons: dict | None,
              top: int = 2) -> str | None:
    """Why an account's probability moved since its previous run, in one sentence.

    The groups whose contributions moved the most in the direction of the change
    (at least :data:`MOVE_FLOOR` log-odds), each told by its current sentence in
    ``reasons`` (a risk sentence when the risk went up, a protective one when it went
    down, or its group name when it is not listed that way)::

        "risk up 12 points: 2 high/urgent support tickets still open; Active users changed -40% vs ..."

    ``None`` when there is no previous run, no stored contributions, or the change is under half a point.
    """
    if change is None or not moves(change) or not now or before is None:
        return None
    sign = 1.0 if change > 0 else -1.0
    moved = {g: sign * (now.get(g, 0.0) - before.get(g, 0.0)) for g in set(now) | set(before)}
    movers = sorted((g for g, d in moved.items() if d >= MOVE_FLOOR), key=lambda g: -moved[g])[:top]
    parts = ("context", "risk") if sign > 0 else ("context", "protective")  # a sentence that reads the same way
    said = {r["group"]: r["sentence"] for part in parts for r in (reasons or {}).get(part, [])}
    points = round(abs(change) * 100)
    head = f"risk {'up' if sign > 0 else 'down'} {points} point{'' if points == 1 else 's'}"
    if not movers:
        return head
    return head + ": " + "; ".join(said.get(g) or g.replace("_", " ") + (" worse" if sign > 0 else " better")
                                   for g in movers)
