"""Named points where a command can be held, so a fault test kills it exactly there.

A test that kills `churn score` at a random moment proves little on a fast machine and
fails on a slow one (the run finishes before the kill). With ``CHURN_PAUSE_AT=<point>``
the process stops at that point, writes the point's name to ``CHURN_PAUSE_FILE`` and
waits until it is killed: every kill lands where it was aimed, whatever the machine's
speed. Unset (always, outside the fault tests) a point costs one environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: The points, in the order a `churn score` run passes them; the last five are inside the write transaction.
POINTS = ("model_loaded", "features_scored", "write_began", "scores_deleted", "scores_inserted",
          "others_written", "run_recorded")


def pause_point(name: str) -> None:
    """Hold the process here, forever, when ``CHURN_PAUSE_AT`` names this point."""
    if name not in POINTS:
        raise ValueError(f"unknown pause point {name!r}; known: {', '.join(POINTS)}")
    if os.environ.get("CHURN_PAUSE_AT") != name:
        return
    marker = Path(os.environ["CHURN_PAUSE_FILE"])
    partial = marker.with_name(marker.name + ".part")
    partial.write_text(name)
    partial.replace(marker)  # the test sees the whole name or nothing
    while True:
        time.sleep(3600)
