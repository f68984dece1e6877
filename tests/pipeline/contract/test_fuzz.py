"""Fuzzing the loader: random small worlds inside and outside the contract.

Every generated world is either accepted (and then every feature is finite or
missing, never infinite, and the build does not fail) or rejected with problems
from the documented checks, through the CLI with exit code 2 and no traceback.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.contract.checks import CHECKS
from pipeline.cli import app
from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.io.sources import open_source
from pipeline.contract.validate import validate

CHECK_NAMES = {c.name for c in CHECKS}
BASE = datetime(2024, 1, 1)
AS_OF = date(2024, 6, 1)

ACCOUNTS = ["a1", "a2", "a3"]
offsets = st.integers(-300, 140)  # days from 2024-01-01; the as-of date is 2024-06-01


def stamp(offset: int, hours: float = 0.0) -> str:
    return (BASE + timedelta(days=offset, hours=hours)).isoformat(sep=" ")


def frame(rows, columns):
    return pd.DataFrame(rows, columns=columns)


valid_worlds = st.fixed_dictionaries(
    {
        "accounts": st.just(frame([(a, "x", "SMB", None, stamp(-400)) for a in ACCOUNTS],
                                  ["account_id", "name", "segment", "csm", "created_at"])),
        "subscriptions": st.lists(
            st.tuples(st.sampled_from(ACCOUNTS), offsets, st.one_of(st.none(), st.integers(1, 400)),
                      st.floats(0, 5000)),
            min_size=1, max_size=6,
        ).map(lambda rows: frame(
            [(a, stamp(o)[:10], None if n is None else stamp(o + n)[:10], m, "pro") for a, o, n, m in rows],
            ["account_id", "start_date", "end_date", "mrr", "plan"])),
        "usage_events": st.lists(
            st.tuples(st.sampled_from(ACCOUNTS), offsets, st.sampled_from(["login", "export"]),
                      st.sampled_from(["u1", "u2", None]), st.one_of(st.none(), st.floats(0, 50))),
            min_size=1, max_size=15,
        ).map(lambda rows: frame([(a, stamp(o, 3), t, u, q) for a, o, t, u, q in rows],
                                 ["account_id", "occurred_at", "event_type", "user_id", "quantity"])),
        "support_tickets": st.lists(
            st.tuples(st.sampled_from(ACCOUNTS), offsets, st.one_of(st.none(), st.floats(0.1, 500)),
                      st.sampled_from(["low", "normal", "high", "urgent"]), st.sampled_from([None, 1.0, 5.0])),
            max_size=6,
        ).map(lambda rows: frame(
            [(f"t{i}", a, stamp(o), None if h is None else stamp(o, h), p, c) for i, (a, o, h, p, c) in enumerate(rows)],
            ["ticket_id", "account_id", "created_at", "resolved_at", "priority", "csat"])),
        "nps_responses": st.lists(
            st.tuples(st.sampled_from(ACCOUNTS), offsets, st.integers(0, 10)), max_size=5,
        ).map(lambda rows: frame([(a, stamp(o), sc) for a, o, sc in rows], ["account_id", "responded_at", "score"])),
    }
)

#: Values that break the contract, dropped into one random cell.
BAD_VALUES = [None, "", "ghost", "not a date", "2099-01-01 00:00:00", "2024-02-30", "-5", "abc", "12,5", "11", "7.5", "2.2e-313", "1e300"]


@st.composite
def worlds(draw):
    """A valid world, or one with a single random cell replaced by a contract-breaking value."""
    world = draw(valid_worlds)
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(world)))
        target = world[name].astype(object)
        if len(target):
            row = draw(st.integers(0, len(target) - 1))
            column = draw(st.sampled_from(list(target.columns)))
            target.loc[target.index[row], column] = draw(st.sampled_from(BAD_VALUES))
        world[name] = target
    return world


def write(folder, world):
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in world.items():
        if len(frame.columns):
            frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_loader_accepts_or_rejects_with_a_documented_error(tmp_path_factory, world):
    folder = write(tmp_path_factory.mktemp("fuzz"), world)
    result = CliRunner().invoke(app, ["validate", "--data", str(folder)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2), result.output
    with open_source(folder) as source:
        report = validate(source)
        assert {p.check for p in report.problems} <= CHECK_NAMES
        assert (result.exit_code == 0) == report.ok
        event("accepted" if report.ok else "rejected")
        if report.ok:
            frame = build_features(source, load_config(None, {}), [AS_OF]).frame
            numeric = frame.select_dtypes("number")
            assert not numeric.map(lambda v: isinstance(v, float) and math.isinf(v)).any().any()
