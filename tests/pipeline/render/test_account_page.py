"""Tests mirroring ``pipeline/render/account_page.py``: file names, chart geometry and the page's content."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipeline.render.account_page import SIGNALS, chart, file_name, page, to_html

DATES = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]


def history() -> pd.DataFrame:
    reasons = {"risk": [{"group": "urgent_tickets", "sentence": "2 high/urgent support tickets still open"}],
               "protective": [], "context": [{"group": "renewal", "sentence": "Renewal is 40 days away"}]}
    groups = ["urgent_tickets", "usage_trend", "nps", "renewal", "recency", "csat"]
    topics = dict(zip(groups, ["High/urgent support tickets", "Usage trend", "NPS", "Renewal timing",
                               "Days since the last activity", "Support satisfaction (CSAT)"]))
    return pd.DataFrame({
        "as_of_date": DATES, "account_id": "A/1", "account_name": "Acme <b>", "csm": None, "segment": "SMB",
        "churn_probability": [0.1, 0.2, 0.4], "risk_tier": ["low", "medium", "high"],
        "change_reasons": [None, "risk up 10 points: usage trend worse", "risk up 20 points: 2 urgent tickets"],
        "reasons": [reasons] * 3,
        "contributions": [{g: [(k + 1) * 0.1 * (i + 1), "f", 1.0, topics[g]] for k, g in enumerate(groups)}
                          for i in range(3)],
    })


def test_file_names_are_safe():
    assert file_name("A/1 ../x") == "A_1_x.html" and file_name("A00042") == "A00042.html"


def test_chart_scales_every_series_into_the_plot_and_marks_zero():
    c = chart({"a": [-0.5, 0.0, 1.0], "b": [0.2, float("nan"), 0.4]}, DATES, percent=False)
    ys = [float(p.split(",")[1]) for line in c["lines"] for p in line["points"].split()]
    assert all(c["pad"] <= y <= c["height"] - c["pad"] for y in ys)
    assert len(c["lines"][1]["points"].split()) == 2  # no point where there is no value
    assert c["zero"] is not None and c["lines"][0]["last"] == "+1.00" and c["first"] == "2025-01-01"


def test_page_shows_the_latest_run_first_and_the_largest_signals():
    shown = page(history())
    assert shown["facts"]["churn probability"] == "40.0% (high)" and shown["facts"]["CSM"] == "unassigned"
    assert [r["date"] for r in shown["runs"]] == ["2025-03-01", "2025-02-01", "2025-01-01"]
    assert [line["name"] for line in shown["signals"]["lines"]] == [  # the groups in words, largest first
        "Support satisfaction (CSAT)", "Days since the last activity", "Renewal timing", "NPS"][:SIGNALS]
    assert shown["context"] == ["Renewal is 40 days away"]
    html = to_html(history())
    assert "Acme &lt;b&gt;" in html and "<script" not in html and html.count('class="series"') == 1 + SIGNALS


def test_one_run_draws_a_point_on_each_chart():
    one = history().tail(1)
    html = to_html(one)
    assert html.count('class="point"') == 1 + SIGNALS  # the probability and each signal: one dot each
    dots = page(one)["probability"]["lines"][0]["dots"]
    assert len(dots) == 1 and float(dots[0][0]) == 640 / 2


def test_groups_stored_without_their_name_in_words_are_not_drawn():
    old = history()
    old["contributions"] = [{"attr_billing_term": 0.5, "nps": 0.2}] * 3  # rows of an older scorer: numbers only
    assert page(old)["signals"] is None and "attr" not in to_html(old)
