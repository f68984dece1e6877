"""The HTML pages built from Jinja2 templates: the training report renders, and data never becomes markup.

Hostile strings (``<script>...``) from the data, the registry or the score table
must come out HTML-escaped, both in ``train_report.html`` and in the CSM risk list.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date, datetime
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from pipeline.publish import report
from pipeline.publish.registry import Decision
from pipeline.io.warehouse import Run, Warehouse
from pipeline.render import risk_list_page
from pipeline.steps import risk_list, train
from training_fixtures import build_demo, train_config

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class Page(HTMLParser):
    """The tags of a page (name and attributes, in order) and its text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def count(self, tag: str) -> int:
        return sum(name == tag for name, _ in self.tags)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training run without MLflow (the report is written to a temporary folder)."""
    demo = build_demo(tmp_path_factory)
    cfg = train_config(demo["folder"], tmp_path_factory.mktemp("report"))
    return train.run(cfg, table=demo["table"], track=False)


# ----------------------------------------------------------------- the report
def test_report_renders_every_section_table_and_figure(trained):
    folder = trained.report.parent
    assert trained.report.name == "train_report.html"
    assert all((folder / name).exists() for name in report.OUTPUTS)
    text = trained.report.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</body></html>")
    assert "{{" not in text and "{%" not in text and "Promotion" not in text  # no gate ran
    page = Page(text)
    assert [t for t, _ in page.tags[:5]] == ["html", "head", "meta", "title", "style"]
    assert page.count("li") == 6 and "data fingerprint" in page.text and trained.fingerprint in text
    assert "out-of-time fold(s)" in text and "UNVALIDATED" not in text
    assert page.count("table") == 3 and "Out-of-time backtest: model vs health score" in page.text
    metrics, folds, curves = trained.backtest.table(), report.fold_summary(trained), trained.model.curve_metrics_
    assert page.count("th") == len(metrics.columns) + len(folds[0]) + len(curves.columns)
    assert page.count("tr") == 3 + len(metrics) + len(folds) + len(curves)  # three header rows
    assert "Time to churn (latest out-of-time fold)" in page.text
    assert list(curves["scorer"]) == ["time-to-churn model", "classifier", "health score"]
    ibs = curves.columns[-1]
    assert list(curves.columns[:-1]) == ["scorer", *[f"AUC {t} d" for t in trained.model.hazard_.days]]
    assert ibs.startswith("IBS 30-") and f"{curves[ibs].iloc[0]:.4f}" in page.text and curves[ibs].iloc[1:].isna().all()
    assert f"{metrics['roc_auc'].iloc[0]:.4f}" in page.text and "scorer" in page.text
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert [i["src"] for i in images] == [f"figures/{stem}.png" for stem in report.FIGURE_TITLES]
    assert [i["alt"] for i in images] == list(report.FIGURE_TITLES.values())
    assert all((folder / i["src"]).is_file() for i in images)
    assert pd.read_csv(folder / "time_to_churn.csv")["scorer"].tolist() == list(curves["scorer"])
    decided = dataclasses.replace(trained, version="7", decision=Decision(True, "beats the health score", 0.8, 0.7))
    assert "version 7 &rarr; <b>champion</b>: beats the health score</p>" in report.render(decided, metrics)


def parts(text: str = "fine") -> dict:
    """The arguments of :func:`pipeline.publish.report.page`, every free text set to ``text``."""
    return {
        "facts": {"data": "data end 2025-06-01", "model": text, "data fingerprint": "ab12"},
        "metrics": pd.DataFrame({"scope": ["all", text], "scorer": ["model", "health"], "roc_auc": [0.71234, None],
                                 text: [1, 2]}),
        "folds": pd.DataFrame({"fold": [1], "train": [["2024-01-01", "2024-06-01"]], "calibration": [text]}),
    }


def test_page_lays_out_facts_tables_figures_and_the_decision():
    plain = report.page(**parts())
    page = Page(plain)
    assert "Promotion" not in plain and page.count("li") == 3 and page.count("table") == 2
    assert [a["class"] for t, a in page.tags if t == "table"] == ["dataframe m", "dataframe m"]
    assert "<td>0.7123</td>" in plain and "<td></td>" in plain  # four decimals, missing left empty
    assert "[&#39;2024-01-01&#39;, &#39;2024-06-01&#39;]" in plain  # a date span, shown as its text
    assert page.count("img") == page.count("h2") - 2 == len(report.FIGURE_TITLES)
    decision = Decision(False, "not better than champion v6 & the health score", 0.7, 0.71)
    decided = report.page(**parts(), decision=decision, version="7")
    assert ("<p><b>Promotion:</b> version 7 &rarr; <b>challenger</b>: "
            "not better than champion v6 &amp; the health score</p>") in decided


def test_page_escapes_hostile_strings():
    decision = Decision(False, HOSTILE, 0.6, 0.7)
    text = report.page(**parts(HOSTILE), decision=decision, version=HOSTILE)
    assert HOSTILE not in text and "<script" not in text and Page(text).count("script") == 0
    # fact, metrics cell and column header, fold cell, version and reason
    assert text.count(ESCAPED) == 6


def test_table_cells_are_text_formatted_like_the_metrics():
    frame = pd.DataFrame({"name": ["a", None], "value": [0.123456, float("nan")], "n": [1, 2]})
    assert report.table_rows(frame) == {"columns": ["name", "value", "n"],
                                        "rows": [["a", "0.1235", "1"], ["", "", "2"]]}


# ------------------------------------------------------------- the risk list
def score_rows(day: date, step: int, n: int = 12) -> pd.DataFrame:
    """``n`` scored accounts (all three tiers), the first one's name, segment, CSM and reason hostile."""
    p = np.clip(np.linspace(0.8, 0.02, n) * (0.8 + 0.1 * step), 0, 0.99)
    reasons = [json.dumps({"base_value": -2.0, "other": 0.0, "protective": [], "context": [], "risk": [
        {"group": "usage_trend", "feature": "events_trend", "value": -0.5, "contribution": 0.4,
         "sentence": HOSTILE if i == 0 else "Product usage changed -50% vs the previous 30 days"}]})
        for i in range(n)]
    return pd.DataFrame({
        "as_of_date": day, "account_id": [f"A{i:03d}" for i in range(n)],
        "account_name": [HOSTILE if i == 0 else f"Account {i}" for i in range(n)],
        "csm": [HOSTILE if i == 0 else "Alice Moreau" for i in range(n)],
        "segment": [HOSTILE if i == 0 else "SMB" for i in range(n)], "churn_probability": p,
        "risk_rank": np.arange(1, n + 1), "risk_tier": np.where(p >= 0.3, "high", np.where(p >= 0.1, "medium", "low")),
        "mrr": 1000.0, "revenue_at_risk": p * 1000 * 3, "health_score": 40.0, "reasons": reasons,
        "reason_summary": [json.loads(t)["risk"][0]["sentence"] for t in reasons],
        "model_name": "churn-model", "model_version": "4", "run_id": f"r{step}", "scored_at": datetime(2025, 3, 1),
    })


@pytest.fixture
def hostile_store(tmp_path):
    """Three scoring runs in a DuckDB warehouse; one account's texts are all script tags."""
    wh = Warehouse(tmp_path / "wh.duckdb")
    for step, day in enumerate([date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]):
        rows = score_rows(day, step)
        wh.write(rows, Run(f"r{step}", day, datetime(2025, 3, 1), status="succeeded", rows=len(rows)))
    return wh


def test_risk_list_escapes_hostile_strings(hostile_store, tmp_path):
    text, _ = risk_list.publish(hostile_store, "html", csm=HOSTILE)
    page = Page(text)
    assert page.count("script") == 1  # the page's own sort script, nothing from the data
    assert HOSTILE not in text
    # title and heading (CSM), account name, segment, reason sentence
    assert text.count(ESCAPED) == 5
    assert page.count("tr") == 2 and page.count("svg") == 1 and page.count("polyline") == 1
    _, written = risk_list.publish(hostile_store, "html", tmp_path / "pages")
    assert "script-alert-1-script.html" in {p.name for p in written}
    for path in written:  # the lists keep their sort script; the account pages have none
        text = path.read_text()
        assert Page(text).count("script") == (0 if path.parent.name == "accounts" else 1) and HOSTILE not in text


def test_risk_list_template_keeps_tiers_sort_keys_and_sparklines(hostile_store):
    rl = risk_list.load(hostile_store, history=True)
    page = Page(risk_list_page.to_html(rl))
    rows = [attrs["class"] for tag, attrs in page.tags if tag == "tr" and "class" in attrs]
    assert rows == rl.rows["risk_tier"].tolist()
    badges = {attrs["class"] for tag, attrs in page.tags if tag == "span"}
    assert badges == {f"tier tier-{t}" for t in rl.rows["risk_tier"]}
    keys = [attrs["data-v"] for tag, attrs in page.tags if tag == "td" and "data-v" in attrs]
    assert len(keys) == 6 * len(rl.rows)  # rank, probability, tier, likely to leave, revenue, change
    assert page.count("svg") == len(rl.rows) and page.count("circle") == len(rl.rows)
    sortable = [attrs.get("data-type") for tag, attrs in page.tags if tag == "th"]
    assert sortable == ["num", None, "num", None, "num", "num", "num", None, None]


def test_a_run_without_time_to_churn_measures_leaves_no_stale_table(trained, tmp_path):
    report.write(trained, tmp_path)
    assert (tmp_path / "time_to_churn.csv").is_file()
    model = copy.copy(trained.model)  # a model trained before the measures existed
    del model.curve_metrics_
    report.write(dataclasses.replace(trained, model=model), tmp_path)
    assert not (tmp_path / "time_to_churn.csv").exists()
    assert "Time to churn" not in (tmp_path / "train_report.html").read_text(encoding="utf-8")
