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


def with_curve(renewal: date | None) -> pd.DataFrame:
    rows = history()
    return rows.assign(churn_probability_30d=0.12, churn_probability_60d=0.3, churn_probability_90d=0.55,
                       churn_probability_180d=0.8, expected_churn_window=pd.array([90] * 3, dtype="Int64"),
                       renewal_date=renewal)


def test_the_page_draws_the_time_to_churn_curve_with_the_renewal_marked():
    shown = page(with_curve(date(2025, 5, 20)))  # 80 days after the latest run: in the period passing one half
    curve = shown["curve"]
    assert curve["points"] == [(30, "12.0%"), (60, "30.0%"), (90, "55.0%"), (180, "80.0%")]
    xs = [float(x) for x, _ in curve["lines"][0]["dots"]]
    assert xs[0] == 28 and xs[-1] == 640 - 28 and abs((xs[2] - xs[1]) - (xs[3] - xs[2])) < 0.2  # days in proportion
    assert abs((xs[4] - xs[3]) - 3 * (xs[2] - xs[1])) < 0.2  # 90 -> 180 days is three times 30 -> 60
    ((mark_x, label),) = curve["marks"]
    assert label == "renewal 2025-05-20" and abs(float(mark_x) - (28 + 584 * 80 / 180)) < 0.1
    html = to_html(with_curve(date(2025, 5, 20)))
    assert "When it may leave: before its renewal on 2025-05-20" in html
    assert "Within 30 days: 12.0% · Within 60 days: 30.0% · Within 90 days: 55.0% · Within 180 days: 80.0%" in html
    assert html.count('class="series"') == 2 + SIGNALS and html.count('class="mark"') == 1
    assert f'points="{curve["lines"][0]["points"]}"' in html


def test_no_curve_no_curve_chart_and_a_renewal_beyond_it_is_not_marked():
    assert page(history())["curve"] is None and "When it may leave" not in to_html(history())
    far = page(with_curve(date(2026, 3, 1)))["curve"]
    assert far["marks"] == [] and far["when"] == "likely within 90 days"
