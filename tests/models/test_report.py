"""The HTML pages built from Jinja2 templates: the training report renders, and data never becomes markup.

Hostile strings (``<script>...``) from the data, the registry or the score table
must come out HTML-escaped, both in ``train_report.html`` and in the CSM risk list.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from html.parser import HTMLParser

import pytest

from models import report
from models.registry import Decision
from pipeline.io.warehouse import Run, Warehouse
from pipeline.steps import risk_list, train
from test_backtest import build_demo, train_config
from test_risk_list import DATES, rows_for

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
    text = trained.report.read_text()
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</body></html>")
    assert "{{" not in text and "{%" not in text and "Promotion" not in text  # no gate ran
    page = Page(text)
    assert [t for t, _ in page.tags[:5]] == ["html", "head", "meta", "title", "style"]
    assert page.count("li") == 5 and "data fingerprint" in page.text and trained.fingerprint in text
    assert page.count("table") == 2 and "Out-of-time backtest: model vs health score" in page.text
    metrics = trained.backtest.table()
    headers = [attrs for tag, attrs in page.tags if tag == "th"]
    assert len(headers) == len(metrics.columns) + len(report.fold_summary(trained)[0])
    assert page.count("tr") == 2 + len(metrics) + len(trained.backtest.folds)  # two header rows
    assert f"{metrics['roc_auc'].iloc[0]:.4f}" in page.text and "scorer" in page.text
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert [i["src"] for i in images] == [f"figures/{stem}.png" for stem in report.FIGURE_TITLES]
    assert [i["alt"] for i in images] == list(report.FIGURE_TITLES.values())
    assert all((folder / i["src"]).is_file() for i in images)


def test_report_shows_the_promotion_decision(trained):
    decided = dataclasses.replace(trained, version="7", decision=Decision(
        promote=True, reason="beats the health score & champion v6", new_auc=0.8, health_auc=0.7))
    text = report.render(decided, decided.backtest.table())
    assert ("<p><b>Promotion:</b> version 7 &rarr; <b>champion</b>: beats the health score &amp; champion v6</p>"
            in text)


def test_report_escapes_hostile_strings(trained):
    hostile = dataclasses.replace(trained, version=HOSTILE, fingerprint=HOSTILE, decision=Decision(
        promote=False, reason=HOSTILE, new_auc=0.6, health_auc=0.7))
    table = hostile.backtest.table().assign(scope=HOSTILE).rename(columns={"roc_auc": HOSTILE})
    text = report.render(hostile, table)
    assert HOSTILE not in text and "<script" not in text
    # version, fingerprint, reason, one column header and the scope cell of every row
    assert text.count(ESCAPED) == 4 + len(table)
    assert Page(text).count("script") == 0


def test_table_cells_are_text_formatted_like_the_metrics():
    import pandas as pd

    frame = pd.DataFrame({"name": ["a", None], "value": [0.123456, float("nan")], "n": [1, 2]})
    assert report.table_rows(frame) == {"columns": ["name", "value", "n"],
                                        "rows": [["a", "0.1235", "1"], ["", "", "2"]]}


# ------------------------------------------------------------- the risk list
@pytest.fixture
def hostile_store(tmp_path):
    """A score table whose account name, segment, CSM and reason sentences are all script tags."""
    wh = Warehouse(tmp_path / "wh.duckdb")
    for step, day in enumerate(DATES):
        rows = rows_for(day, step)
        rows.loc[0, ["account_name", "segment", "csm"]] = HOSTILE
        doc = json.loads(rows.loc[0, "reasons"])
        doc["risk"][0]["sentence"] = HOSTILE
        rows.loc[0, "reasons"] = json.dumps(doc)
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
    for path in written:
        assert Page(path.read_text()).count("script") == 1


def test_risk_list_template_keeps_tiers_sort_keys_and_sparklines(hostile_store):
    rl = risk_list.load(hostile_store, history=True)
    page = Page(risk_list.to_html(rl))
    rows = [attrs["class"] for tag, attrs in page.tags if tag == "tr" and "class" in attrs]
    assert rows == rl.rows["risk_tier"].tolist()
    badges = {attrs["class"] for tag, attrs in page.tags if tag == "span"}
    assert badges == {f"tier tier-{t}" for t in rl.rows["risk_tier"]}
    keys = [attrs["data-v"] for tag, attrs in page.tags if tag == "td" and "data-v" in attrs]
    assert len(keys) == 5 * len(rl.rows)  # rank, probability, tier, revenue, change
    assert page.count("svg") == len(rl.rows) and page.count("circle") == len(rl.rows)
    sortable = [attrs.get("data-type") for tag, attrs in page.tags if tag == "th"]
    assert sortable == ["num", None, "num", None, "num", "num", None, None]
