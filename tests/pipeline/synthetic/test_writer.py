"""Tests of ``pipeline/synthetic/writer.py``: simulation output turned into contract tables and files."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from pipeline.synthetic.accounts import NEVER, make_accounts
from pipeline.synthetic.dates import SECONDS_PER_DAY, Calendar
from pipeline.synthetic.params import CSM_NAMES, DRIVERS, WorldParams
from pipeline.synthetic.writer import (accounts_frame, fmt_ts, milestones_frame, nps_frame, subscriptions_frame, tickets_frame,
                                       truth_table, write_csv, write_json)

CAL = Calendar("2024-01-01")
IDS = np.array(["A00001", "A00002"])
DAYS = 100
END = DAYS * SECONDS_PER_DAY


def test_timestamps_are_formatted_with_blanks_for_null():
    got = fmt_ts(CAL, np.array([0, SECONDS_PER_DAY + 3661]), null=np.array([False, True]))
    assert got.tolist() == ["2024-01-01 00:00:00", ""] and fmt_ts(CAL, np.array([], int)).size == 0
    assert fmt_ts(CAL, np.array([SECONDS_PER_DAY + 3661])).tolist() == ["2024-01-02 01:01:01"]


def test_accounts_have_contract_columns_and_blank_unowned_csms():
    acc = make_accounts(np.random.default_rng(1), 60, DAYS, WorldParams(), lambda region: np.zeros(region.size, int))
    frame = accounts_frame(acc, acc.ids(), CAL)
    assert list(frame.columns[:5]) == ["account_id", "name", "segment", "csm", "created_at"]
    assert (frame["csm"] == "").tolist() == (acc.csm < 0).tolist() and set(frame["csm"]) - {""} <= set(CSM_NAMES)
    assert frame["created_at"].tolist() == [str(d) + " 00:00:00" for d in CAL.iso(acc.created_day)]


def test_subscriptions_are_seen_as_known_at_the_end_of_the_period():
    rows = {"acc": np.array([0, 0, 1, 1]), "start": np.array([0, 50, 10, 120]), "end": np.array([50, -1, 150, -1]),
            "mrr": np.array([10.0, 12.5, 99.0, 1.0]), "plan": np.array([0, 1, 3, 3]), "term": np.array([0, 0, 1, 1]),
            "natural_end": np.array([-1, -1, 140, 485])}
    frame = subscriptions_frame(rows, IDS, CAL, DAYS)
    assert frame["account_id"].tolist() == ["A00001", "A00001", "A00002"]  # the row starting after the period: gone
    assert frame["end_date"].tolist() == ["2024-02-20", "", "2024-05-20"]  # running monthly: null; annual: contracted
    assert frame["mrr"].tolist() == ["10.00", "12.50", "99.00"] and frame["billing_term"].tolist()[-1] == "annual"


def test_tickets_after_the_period_are_dropped_and_late_resolutions_are_open():
    t = {"acc": np.array([1, 0, 0]), "created": np.array([10, 5, END + 1]), "resolved": np.array([END, 99, END + 9]),
         "priority": np.array([3, 0, 1]), "csat": np.array([2.0, np.nan, 5.0])}
    frame = tickets_frame(t, IDS, CAL, DAYS)
    assert frame["ticket_id"].tolist() == ["T000001", "T000002"] and frame["account_id"].tolist() == ["A00001", "A00002"]
    assert frame["resolved_at"].tolist() == ["2024-01-01 00:01:39", ""]
    assert frame["csat"].tolist() == ["", ""] and frame["priority"].tolist() == ["low", "urgent"]


def test_milestones_done_after_the_period_or_never_are_open():
    acc = SimpleNamespace(due=np.array([[7, 30], [7, 30]]), done=np.array([[5, DAYS], [8, NEVER]]),
                          done_sec=np.full((2, 2), 3600))
    frame = milestones_frame(acc, IDS, CAL, DAYS, names=("kickoff", "launch"))
    assert frame["milestone"].tolist() == ["kickoff", "launch"] * 2
    assert frame["completed_at"].tolist() == ["2024-01-06 01:00:00", "", "2024-01-09 01:00:00", ""]
    assert frame["due_date"].tolist() == ["2024-01-08", "2024-01-31"] * 2


def test_nps_answers_after_the_period_are_dropped():
    r = {"acc": np.array([1, 0, 0]), "responded": np.array([60, END, 30]), "score": np.array([9, 3, 7])}
    frame = nps_frame(r, IDS, CAL, DAYS)
    assert frame.to_dict("list") == {"account_id": ["A00001", "A00002"], "score": [7, 9],
                                     "responded_at": ["2024-01-01 00:00:30", "2024-01-01 00:01:00"]}


def test_truth_table_has_one_push_column_per_driver_sorted_by_account_and_date():
    push = np.arange(3 * len(DRIVERS), dtype=float).reshape(3, -1) / 10
    truth = {"acc": np.array([1, 0, 0]), "day": np.array([0, 31, 0]), "prob": np.array([0.1234567, 0.2, 0.3]),
             "driver": np.array([5, 1, 0]), "push": push, "churned": np.array([True, False, False])}
    table = truth_table(truth, IDS, CAL).to_pandas()
    assert list(table.columns) == ["account_id", "as_of_date", "true_churn_prob", "dominant_driver",
                                   *[f"push_{d}" for d in DRIVERS], "churned_in_horizon"]
    assert table["account_id"].tolist() == ["A00001", "A00001", "A00002"]
    assert [str(d) for d in table["as_of_date"]] == ["2024-01-01", "2024-02-01", "2024-01-01"]
    assert table["dominant_driver"].tolist() == ["usage_decline", "onboarding_lag", "unpredictable"]
    assert table["true_churn_prob"].tolist()[-1] == 0.123457 and table["churned_in_horizon"].tolist()[-1]
    assert table[[f"push_{d}" for d in DRIVERS]].iloc[0].tolist() == push[2].tolist()


def test_files_are_written_deterministically(tmp_path):
    write_csv(pd.DataFrame({"a": [1, None], "csm": [CSM_NAMES[11], "x"]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == b"a,csm\n1.0,Liam O'Connor\n,x\n"
    write_json({"b": 1, "a": [1]}, tmp_path / "w.json")
    text = (tmp_path / "w.json").read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n") and json.loads(text) == {"a": [1], "b": 1}
