"""Risk lists read from the score table: text, CSV, per-CSM HTML pages checked in headless Chromium."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from models.errors import ChurnError
from pipeline.steps.risk_list import load, publish
from pipeline.io.warehouse import Run, Warehouse

DATES = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
CSMS = ["Alice Moreau", "Ben Okafor", None]


def rows_for(day: date, step: int) -> pd.DataFrame:
    """30 accounts drifting toward risk run after run; the scorer's columns, reasons as JSON text."""
    n = 30
    p = np.clip(np.linspace(0.9, 0.01, n) * (0.7 + 0.15 * step), 0, 0.99)
    reasons = [json.dumps({"base_value": -2.0, "other": 0.0, "protective": [], "context": [], "risk": [
        {"group": "urgent_tickets", "feature": "open_urgent_tickets", "value": 2.0, "contribution": 0.8,
         "sentence": f"{i % 3 + 1} high/urgent support tickets still open"},
        {"group": "usage_trend", "feature": "events_trend", "value": -0.5, "contribution": 0.4,
         "sentence": "Product usage changed -50% vs the previous 30 days <b>"}]}) for i in range(n)]
    return pd.DataFrame({
        "as_of_date": day, "account_id": [f"A{i:03d}" for i in range(n)],
        "account_name": [f"Account & Co {i}" for i in range(n)], "csm": [CSMS[i % 3] for i in range(n)],
        "segment": ["SMB" if i % 2 else "Enterprise" for i in range(n)], "churn_probability": p,
        "risk_rank": np.arange(1, n + 1), "risk_tier": np.where(p >= 0.3, "high", np.where(p >= 0.1, "medium", "low")),
        "mrr": 1000.0, "revenue_at_risk": p * 1000 * 3, "health_score": 40.0, "reasons": reasons,
        "reason_summary": ["; ".join(r["sentence"] for r in json.loads(t)["risk"]) for t in reasons],
        "model_name": "churn-model", "model_version": "4", "run_id": f"r{step}", "scored_at": datetime(2025, 3, 1),
        "contributions": [json.dumps({
            "urgent_tickets": [0.3 * step + 0.01 * i, "open_urgent_tickets", float(step), "High/urgent support tickets"],
            "usage_trend": [0.4 - 0.1 * step, "events_trend", -0.5, "Usage trend"],
            "renewal": [0.2, "days_to_renewal", 40.0, "Renewal timing"]}) for i in range(n)],
    })


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    wh = Warehouse(tmp_path_factory.mktemp("lists") / "wh.duckdb")
    for step, day in enumerate(DATES):
        wh.write(rows_for(day, step), Run(f"r{step}", day, datetime(2025, 3, 1), status="succeeded", rows=30))
    return wh


def test_table_defaults_to_the_latest_date_most_at_risk_first(store):
    text, written = publish(store, "table", top=5)
    assert written == []
    lines = text.splitlines()
    assert lines[0] == "Accounts at risk as of 2025-03-01" and lines[1].startswith("5 of 30 accounts")
    assert re.match(r"rank\s+account\s+csm\s+prob\s+tier\s+likely to leave\s+rev\. at risk\s+change\s+why on the list"
                    r"\s+top reasons", lines[3])
    assert "likely to leave (no validated uplift model yet: listed by churn probability)" in lines[4]
    first = lines[4]
    assert first.split()[0] == "1" and "Account & Co 0 (A000)" in first and "Alice Moreau" in first
    assert "90.0%" in first and "high" in first and "+13.5 pts" in first and "still open" in first
    assert len(lines) == 4 + 5


def test_filters_by_csm_and_segment_case_insensitively(store):
    rl = load(store, csm="ben okafor", segment="smb")
    assert set(rl.rows["csm"]) == {"Ben Okafor"} and set(rl.rows["segment"]) == {"SMB"}
    assert rl.rows["risk_rank"].is_monotonic_increasing and rl.title.endswith("for Ben Okafor as of 2025-03-01")
    assert load(store, as_of=DATES[0]).rows["run_id"].unique().tolist() == ["r0"]


def test_unknown_csm_or_date_names_what_exists(store):
    with pytest.raises(ChurnError, match="known: Alice Moreau, Ben Okafor"):
        load(store, csm="Nobody")
    with pytest.raises(ChurnError, match="no scores for 2024-12-01"):
        load(store, as_of=date(2024, 12, 1))
    with pytest.raises(ChurnError, match="--format"):
        publish(store, "pdf")


def test_csv_has_machine_readable_columns(store):
    text, _ = publish(store, "csv", top=10)
    frame = pd.read_csv(io.StringIO(text))
    assert len(frame) == 10 and frame["risk_rank"].tolist() == list(range(1, 11))
    assert frame.loc[0, "churn_probability"] == pytest.approx(0.9)
    assert frame.loc[0, "probability_change"] == pytest.approx(0.9 - 0.9 * 0.85)
    assert frame["reason_summary"].str.contains("still open").all()


def test_html_writes_one_self_contained_page_per_csm(store, tmp_path):
    _, written = publish(store, "html", tmp_path / "pages", top=4)  # the top 4 of each CSM
    lists = [p for p in written if p.parent.name != "accounts"]
    assert sorted(p.name for p in lists) == ["alice-moreau.html", "ben-okafor.html", "unassigned.html"]
    assert len(written) == 3 + 12  # and one page per listed account
    page = (tmp_path / "pages" / "alice-moreau.html").read_text()
    assert "<script src" not in page and "<link" not in page and not re.search(r"(src|href)=\"?https?:", page)
    assert page.count('<tr class="') == 4 and "Accounts at risk for Alice Moreau" in page and "4 of 10 accounts" in page
    assert "Account &amp; Co 0" in page and "&lt;b&gt;" in page  # escaped, never raw HTML from data
    trend = re.search(r'<polyline[^>]*points="([^"]+)"', page).group(1)
    assert len(trend.split()) == 3  # three runs in the history


def test_every_listed_account_links_to_its_page_with_history_reasons_and_signals(store, tmp_path):
    _, written = publish(store, "html", tmp_path / "list.html", top=3)
    pages = sorted(p for p in written if p.parent.name == "accounts")
    assert [p.name for p in pages] == ["A000.html", "A001.html", "A002.html"]
    listing = (tmp_path / "list.html").read_text()
    assert listing.count('<a href="accounts/A00') == 3
    page = (tmp_path / "accounts" / "A000.html").read_text()
    assert "<script" not in page and not re.search(r"(src|href)=\"?https?:", page)
    assert "Account &amp; Co 0" in page and "&lt;b&gt;" in page  # escaped
    history = re.findall(r'<polyline class="series"[^>]*points="([^"]+)"', page)
    assert len(history) == 1 + 3 and all(len(p.split()) == 3 for p in history)  # probability + 3 signals, 3 runs
    assert page.count("<tr><td>2025-") == 3 and "High/urgent support tickets" in page  # a legend in words
    assert "risk up 14 points: 1 high/urgent support tickets still open" in page  # why it moved: the tickets rose
    assert "urgent_tickets" not in page and "usage_trend" not in page


def test_account_page_renders_in_headless_chromium_with_its_charts(store, tmp_path):
    publish(store, "html", tmp_path / "list.html", top=1)
    shot = tmp_path / "account.png"
    done = headless(f"--screenshot={shot}", "--window-size=1000,1400", (tmp_path / "accounts" / "A000.html").as_uri())
    assert shot.is_file(), done.stderr
    import matplotlib.image

    pixels = (matplotlib.image.imread(str(shot))[..., :3] * 255).round().astype(int).reshape(-1, 3)
    colours = {tuple(p) for p in np.unique(pixels, axis=0)}
    for colour in ((0xCF, 0x22, 0x2E), (0x00, 0x72, 0xB2), (0xD5, 0x5E, 0x00)):  # probability, two signal lines
        assert colour in colours, f"line colour {colour} missing from the rendered page"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return path


def headless(*args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-dev-shm-usage", "--virtual-time-budget=2000"]
    return subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=120)


def test_html_renders_in_headless_chromium_with_tier_colours(store, tmp_path):
    page = tmp_path / "risk.html"
    publish(store, "html", page)
    shot = tmp_path / "risk.png"
    done = headless(f"--screenshot={shot}", "--window-size=1400,4400", page.as_uri())  # all 30 rows
    assert shot.is_file(), done.stderr
    import matplotlib.image

    pixels = (matplotlib.image.imread(str(shot))[..., :3] * 255).round().astype(int).reshape(-1, 3)
    colours = {tuple(p) for p in np.unique(pixels, axis=0)}
    assert (0xFF, 0xD8, 0xD3) in colours, "high tier badge colour missing"  # --tier-high background
    assert (0xFF, 0xF1, 0xC2) in colours, "medium tier badge colour missing"


def test_clicking_a_header_sorts_the_table_in_chromium(store, tmp_path):
    page = tmp_path / "sorted.html"
    publish(store, "html", page)
    click = "<script>document.querySelectorAll('#risk th')[2].click();</script></body>"
    page.write_text(page.read_text().replace("</body>", click))
    dom = headless("--dump-dom", page.as_uri()).stdout
    values = [float(v) for v in re.findall(r'<td class="num" data-v="([0-9.]+)">[0-9.]+%</td>', dom)]
    assert len(values) == 30 and values == sorted(values)  # probability, ascending after one click


def test_cli_risk_list(store, tmp_path):
    result = CliRunner().invoke(app, ["risk-list", "--warehouse", store.url, "--top", "3", "--csm", "alice moreau"])
    assert result.exit_code == 0, result.output
    assert "Alice Moreau" in result.output and len(result.output.splitlines()) == 4 + 3
    out = tmp_path / "ann.html"
    made = CliRunner().invoke(app, ["risk-list", "-w", store.url, "--csm", "Alice Moreau", "-f", "html", "-o", str(out)])
    assert made.exit_code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    bad = CliRunner().invoke(app, ["risk-list", "-w", store.url, "--csm", "Nobody"])
    assert bad.exit_code == 2 and "known:" in bad.output


# ------------------------------------------------------------ experiments' holdout
def _experiment_store(tmp_path, **extra):
    from pipeline.config import load_config
    from pipeline.io.experiment_tables import assigner, read_assignments

    exps = load_config(None, {"experiments": [{"name": "q1", "start": "2025-01-01", "tiers": ["high", "medium"],
                                               "holdout_share": 0.3, **extra}]}).experiments
    wh = Warehouse(tmp_path / "wh.duckdb")
    for step, day in enumerate(DATES):
        wh.write(rows_for(day, step), Run(f"r{step}", day, datetime(2025, 3, 1), status="succeeded", rows=30),
                 also=assigner(exps, day, []))
    assigned = read_assignments(wh, "q1")
    return wh, exps, set(assigned.loc[assigned["arm"] == "holdout", "account_id"])


def test_holdout_accounts_never_appear_in_any_list_and_are_counted(tmp_path):
    wh, exps, holdout = _experiment_store(tmp_path)
    assert holdout  # 30 % of the medium and high accounts
    text, _ = publish(wh, "table", experiments=exps)
    assert f"{len(holdout)} held out by an experiment (not listed)" in text.splitlines()[1]
    assert not any(f"({a})" in text for a in holdout)
    assert f"{30 - len(holdout)} of {30 - len(holdout)} accounts" in text.splitlines()[1]
    top = load(wh, top=5, experiments=exps)
    assert len(top.rows) == 5 and not set(top.rows["account_id"]) & holdout
    for csm in ("Alice Moreau", "Ben Okafor"):
        assert not set(load(wh, csm=csm, experiments=exps).rows["account_id"]) & holdout
    csv_text, _ = publish(wh, "csv", experiments=exps)
    assert not set(pd.read_csv(io.StringIO(csv_text))["account_id"]) & holdout
    pages, written = publish(wh, "html", tmp_path / "pages", experiments=exps)
    html = "".join(p.read_text() for p in written if p.parent.name == "pages")
    assert not any(f">{a} ·" in html for a in holdout)
    assert len(load(wh).rows) == 30  # no experiment configured: everyone is listed


def test_holdout_accounts_are_marked_do_not_contact_when_configured(tmp_path):
    wh, exps, holdout = _experiment_store(tmp_path, show_holdout=True)
    rl = load(wh, experiments=exps)
    assert len(rl.rows) == 30 and set(rl.rows.loc[rl.rows["holdout"], "account_id"]) == holdout
    text, _ = publish(wh, "table", experiments=exps)
    marked = [line for line in text.splitlines() if "HOLDOUT – DO NOT CONTACT" in line]
    assert len(marked) == len(holdout) and f"{len(holdout)} listed as 'holdout – do not contact'" in text
    html, _ = publish(wh, "html", experiments=exps)
    assert html.count("holdout – do not contact") >= len(holdout)


def test_holdout_accounts_come_back_after_the_experiment_ends(tmp_path):
    wh, exps, holdout = _experiment_store(tmp_path, end="2025-02-15")
    assert len(load(wh, experiments=exps).rows) == 30
    assert not set(load(wh, as_of=DATES[1], experiments=exps).rows["account_id"]) & holdout


def test_rank_by_urgency_orders_by_the_30_day_probability(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    rows = rows_for(DATES[0], 0)
    soon = np.linspace(0.01, 0.6, len(rows))  # the accounts least at risk over the horizon leave soonest
    rows = rows.assign(churn_probability_30d=soon, churn_probability_60d=soon, churn_probability_90d=soon,
                       churn_probability_180d=soon)
    wh.write(rows, Run("r0", DATES[0], datetime(2025, 3, 1), status="succeeded", rows=len(rows)))
    urgent = load(wh, rank_by="urgency", top=3).rows
    assert urgent["account_id"].tolist() == ["A029", "A028", "A027"]
    assert load(wh, top=3).rows["account_id"].tolist() == ["A000", "A001", "A002"]
    with pytest.raises(ChurnError, match="--rank-by must be one of saved, probability, revenue, urgency"):
        load(wh, rank_by="soonest")
    # scores written without a curve (an older model) rank by the probability under urgency too
    old = Warehouse(tmp_path / "old.duckdb")
    old.write(rows_for(DATES[0], 0), Run("r0", DATES[0], datetime(2025, 3, 1), status="succeeded", rows=30))
    assert load(old, rank_by="urgency", top=2).rows["account_id"].tolist() == ["A000", "A001"]


def test_the_list_says_when_an_account_is_likely_to_leave_in_every_format(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    day = DATES[0]
    rows = rows_for(day, 0).assign(
        churn_probability_30d=0.6, churn_probability_60d=0.7, churn_probability_90d=0.8, churn_probability_180d=0.9,
        expected_churn_window=pd.array([30, 90, None] * 10, dtype="Int64"),
        renewal_date=[date(2025, 1, 20), date(2025, 3, 10), date(2025, 1, 5)] * 10)
    rows.loc[3, "renewal_date"] = date(2025, 2, 20)  # renews after the first period: the curve says 30 days
    rows.loc[4, "renewal_date"] = date(2025, 2, 10)
    wh.write(rows, Run("r0", day, datetime(2025, 3, 1), status="succeeded", rows=len(rows)))
    listed = load(wh).rows.set_index("account_id")
    assert listed.loc[["A000", "A001", "A002", "A003"], "likely_when"].tolist() == [
        "before its renewal on 2025-01-20", "before its renewal on 2025-03-10", "", "likely within 30 days"]
    text, _ = publish(wh, "table", top=4)
    assert "likely to leave" in text and "before its renewal on 2025-01-20" in text and "likely within 30 days" in text
    csv = pd.read_csv(io.StringIO(publish(wh, "csv", top=4)[0]))
    assert csv["likely_when"].fillna("").tolist() == listed["likely_when"].head(4).tolist()
    assert csv["renewal_date"].tolist()[:2] == ["2025-01-20", "2025-03-10"] and csv["expected_churn_window"][0] == 30
    html, _ = publish(wh, "html", top=4)
    assert "<th data-type=\"num\">Likely to leave</th>" in html
    assert '<td data-v="90">before its renewal on 2025-03-10</td>' in html and '<td data-v="30">likely within 30 days' in html
    # A004 passes one half by day 90 and renews on day 40: in that period only when periods are 60 days long
    assert listed.loc["A004", "likely_when"] == "likely within 90 days"
    assert load(wh, period_days=60).rows.set_index("account_id").loc["A004", "likely_when"] == (
        "before its renewal on 2025-02-10")


def test_a_list_from_before_curves_and_renewals_says_nothing_about_when(store):
    text, _ = publish(store, "table", top=2)
    assert "likely to leave" in text and "likely within" not in text and "before its renewal" not in text
    frame = pd.read_csv(io.StringIO(publish(store, "csv", top=2)[0]))
    assert frame["likely_when"].isna().all() and frame["renewal_date"].isna().all()
