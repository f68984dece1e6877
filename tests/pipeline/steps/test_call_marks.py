"""Risk lists mark the accounts that fit the team's calls and say in words why each is where it is."""

from __future__ import annotations

import io
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from models.errors import ConfigError
from pipeline.config import Scoring, load_config
from pipeline.io.warehouse import Run, Warehouse
from pipeline.steps.risk_list import load, publish
from pipeline.steps.score_table import expected_saved
from tests.pipeline.steps.test_risk_list import rows_for

DAY = date(2025, 1, 1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    wh = Warehouse(tmp_path_factory.mktemp("calls") / "wh.duckdb")
    wh.write(rows_for(DAY, 0), Run("r0", DAY, datetime(2025, 1, 1), status="succeeded", rows=30))
    return wh


def test_the_team_capacity_marks_the_first_accounts_in_table_csv_and_html(store, tmp_path):
    scoring = Scoring(weekly_calls=5)
    text, _ = publish(store, "table", top=8, scoring=scoring)
    lines = text.splitlines()
    assert "5 calls a week: the first 5 are marked (call this week)" in lines[1]
    assert " call " in lines[3] and [("call this week" in x) for x in lines[4:]] == [True] * 5 + [False] * 3
    frame = pd.read_csv(io.StringIO(publish(store, "csv", scoring=scoring)[0]))
    assert frame["call_this_week"].tolist() == [True] * 5 + [False] * 25
    assert frame["account_id"].head(5).tolist() == [f"A00{i}" for i in range(5)]
    page = publish(store, "html", scoring=scoring)[0]
    assert "<th>This week</th>" in page and page.count('<strong class="call">call this week</strong>') == 5


def test_without_a_capacity_nothing_is_marked(store):
    text, _ = publish(store, "table", top=3)
    assert "call this week" not in text and "calls a week" not in text
    assert "call_this_week" not in pd.read_csv(io.StringIO(publish(store, "csv")[0]))


def test_a_filtered_list_marks_what_the_whole_teams_list_marks(store):
    whole = load(store, DAY, scoring=Scoring(weekly_calls=5)).rows
    ben = load(store, DAY, csm="Ben Okafor", scoring=Scoring(weekly_calls=5)).rows
    expected = set(whole.loc[whole["call_this_week"] & (whole["csm"] == "Ben Okafor"), "account_id"])
    assert set(ben.loc[ben["call_this_week"].astype(bool), "account_id"]) == expected and expected


def test_per_csm_capacity_marks_each_csms_first_accounts(store):
    rows = load(store, DAY, scoring=Scoring(calls_per_csm=2)).rows
    marked = rows[rows["call_this_week"]]
    assert marked.groupby("csm").size().to_dict() == {"Alice Moreau": 2, "Ben Okafor": 2}
    assert marked["csm"].notna().all()  # an unassigned account is in nobody's week
    for csm, part in rows.groupby("csm"):
        assert part["call_this_week"].tolist()[:2] == [True, True] and not part["call_this_week"].iloc[2:].any()


def test_with_a_validated_uplift_the_words_say_whether_a_call_keeps_it(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    rows = rows_for(DAY, 0)
    p = rows["churn_probability"].to_numpy()
    rows["uplift"] = np.where(np.arange(30) % 2 == 0, 0.8 * p, 0.01 * p)  # even: a call keeps most; odd: hardly any
    rows["expected_saved_mrr"] = expected_saved(p, rows["mrr"].to_numpy(), rows["uplift"].to_numpy())
    wh.write(rows, Run("r0", DAY, datetime(2025, 1, 1), status="succeeded", rows=30))
    listed = load(wh, DAY).rows.set_index("account_id")["call_reason"]
    assert listed["A000"] == "likely to leave, and accounts like it usually stay when called"
    assert listed["A001"] == "likely to leave whatever we do"
    assert listed["A029"] == "unlikely to leave"
    out = tmp_path / "list.html"
    publish(wh, "html", out, csm="Alice Moreau", top=3)
    page = (tmp_path / "accounts" / "A000.html").read_text()
    assert "On the call list: likely to leave, and accounts like it usually stay when called" in page


def test_without_an_uplift_the_header_and_the_words_say_what_orders_the_list(store):
    rl = load(store, DAY, rank_by="saved")
    assert "ranked by churn probability × MRR (no validated uplift model yet)" in rl.subtitle
    assert rl.rows["call_reason"].iloc[0] == ("likely to leave (no validated uplift model yet: listed by churn "
                                              "probability × MRR)")


def test_capacity_and_words_are_checked_config():
    cfg = load_config(None, {"scoring.weekly_calls": 15, "scoring.calls_per_csm": 4})
    assert cfg.scoring.weekly_calls == 15 and cfg.scoring.calls_per_csm == 4
    assert load_config(None).scoring.weekly_calls is None
    with pytest.raises(ConfigError, match="scoring.weekly_calls"):
        load_config(None, {"scoring.weekly_calls": 0})
    with pytest.raises(ConfigError, match="hardly"):
        load_config(None, {"scoring.call_words.hardly": 0.6})
