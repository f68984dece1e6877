"""Tests of the synthetic SaaS world generator (``pipeline.synthetic``)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.synthetic import generate_world

WORLD = dict(accounts=600, days=365, seed=7, start_date="2023-11-15", chunk_accounts=250)
DATA_START, DATA_END = "2023-11-15", "2024-11-14"  # 2024 is a leap year
TABLES = ("accounts", "subscriptions", "support_tickets", "milestones", "nps_responses")
DRIVERS = {"usage_decline", "onboarding_lag", "open_urgent_tickets", "detractor_nps", "segment",
           "unpredictable"}


def _hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    return out, generate_world(out, **WORLD)


@pytest.fixture(scope="module")
def db(world):
    out, _ = world
    con = duckdb.connect()
    csv = {
        "accounts": {"account_id": "VARCHAR", "created_at": "TIMESTAMP", "csm": "VARCHAR"},
        "subscriptions": {"start_date": "DATE", "end_date": "DATE", "mrr": "DOUBLE"},
        "support_tickets": {"ticket_id": "VARCHAR", "created_at": "TIMESTAMP",
                            "resolved_at": "TIMESTAMP", "csat": "DOUBLE"},
        "milestones": {"due_date": "DATE", "completed_at": "TIMESTAMP"},
        "nps_responses": {"responded_at": "TIMESTAMP", "score": "INTEGER"},
    }
    for name, types in csv.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{out / name}.csv', header=true, "
                    f"types={types!r})")
    con.execute(f"CREATE VIEW usage_events AS SELECT * FROM read_parquet('{out}/usage_events/*.parquet')")
    con.execute(f"CREATE VIEW truth AS SELECT * FROM read_parquet('{out}/_truth/truth.parquet')")
    # churn per the contract: coverage ends and no row starts again within 30 days
    con.execute(f"""CREATE TABLE churn AS
        SELECT account_id, end_date AS churn_date FROM (
          SELECT *, lead(start_date) OVER (PARTITION BY account_id ORDER BY start_date, end_date) AS nxt
          FROM subscriptions)
        WHERE end_date < DATE '{DATA_END}' - 30 AND (nxt IS NULL OR nxt > end_date + 30)""")
    return con


def _zero(db, sql: str) -> None:
    n = db.sql(sql).fetchone()[0]
    assert n == 0, f"{n} violations: {sql}"


# ---------------------------------------------------------------- determinism

def test_same_seed_gives_identical_files(world, tmp_path):
    out, _ = world
    generate_world(tmp_path / "again", **WORLD)
    assert _hashes(out) == _hashes(tmp_path / "again")


def test_different_seed_gives_different_files(world, tmp_path):
    out, _ = world
    generate_world(tmp_path / "other", **{**WORLD, "seed": 8})
    a, b = _hashes(out), _hashes(tmp_path / "other")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a)


def test_summary_and_layout(world, db):
    out, summary = world
    assert summary["data_end"] == DATA_END and summary["data_start"] == DATA_START
    for name in TABLES:
        assert (out / f"{name}.csv").exists()
        assert summary["tables"][name] == db.sql(f"SELECT count(*) FROM {name}").fetchone()[0]
    parts = sorted((out / "usage_events").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(3)]  # 600 / 250
    assert summary["tables"]["usage_events"] == sum(pq.read_metadata(p).num_rows for p in parts)
    assert 0 < summary["churned_accounts"] < WORLD["accounts"]
    meta = json.loads((out / "_truth" / "world.json").read_text())
    assert meta["seed"] == 7 and meta["data_end"] == DATA_END and "params" in meta


# ---------------------------------------------------------------- contract

def test_usage_schema(world):
    out, _ = world
    schema = pq.read_schema(next((out / "usage_events").glob("*.parquet")))
    assert schema.names == ["account_id", "occurred_at", "event_type", "user_id", "quantity"]
    assert schema.types == [pa.string(), pa.timestamp("us"), pa.string(), pa.string(), pa.float64()]


def test_keys_and_orphans(db):
    assert db.sql("SELECT count(*) = count(DISTINCT account_id) FROM accounts").fetchone()[0]
    assert db.sql("SELECT count(*) = count(DISTINCT ticket_id) FROM support_tickets").fetchone()[0]
    for name in TABLES[1:] + ("usage_events", "truth"):
        _zero(db, f"SELECT count(*) FROM {name} WHERE account_id NOT IN (SELECT account_id FROM accounts)")
    _zero(db, "SELECT count(*) FROM accounts WHERE name IS NULL OR segment IS NULL OR created_at IS NULL")
    segments = db.sql("SELECT segment, count(*) / sum(count(*)) OVER () FROM accounts GROUP BY 1").fetchall()
    share = dict(segments)
    assert set(share) == {"SMB", "Mid-Market", "Enterprise"} and share["SMB"] > share["Enterprise"]


def test_nothing_after_end_of_period(db):
    end = f"TIMESTAMP '{DATA_END}'"
    for table, col in [("accounts", "created_at"), ("usage_events", "occurred_at"),
                       ("support_tickets", "created_at"), ("support_tickets", "resolved_at"),
                       ("milestones", "completed_at"), ("nps_responses", "responded_at"),
                       ("subscriptions", "start_date")]:
        _zero(db, f"SELECT count(*) FROM {table} WHERE {col} >= {end}")
    _zero(db, f"SELECT count(*) FROM usage_events WHERE occurred_at < TIMESTAMP '{DATA_START}'")
    # the only dates beyond the period are the contracted ends of running annual terms
    _zero(db, f"""SELECT count(*) FROM subscriptions WHERE end_date >= DATE '{DATA_END}'
                  AND NOT (billing_term = 'annual' AND end_date = start_date + INTERVAL 1 YEAR)""")


def test_value_rules(db):
    _zero(db, "SELECT count(*) FROM subscriptions WHERE mrr < 0 OR mrr IS NULL OR end_date <= start_date")
    _zero(db, "SELECT count(*) FROM usage_events WHERE quantity < 0 OR quantity IS NULL")
    _zero(db, "SELECT count(*) FROM nps_responses WHERE score NOT BETWEEN 0 AND 10 OR score IS NULL")
    _zero(db, """SELECT count(*) FROM support_tickets WHERE resolved_at < created_at
                 OR priority NOT IN ('low', 'normal', 'high', 'urgent')
                 OR csat NOT BETWEEN 1 AND 5 OR (resolved_at IS NULL AND csat IS NOT NULL)""")
    _zero(db, """SELECT count(*) FROM milestones m JOIN accounts a USING (account_id)
                 WHERE m.completed_at < a.created_at OR m.due_date < a.created_at::DATE""")
    per_account = db.sql("""SELECT count(*), count(DISTINCT milestone) FROM milestones
                            GROUP BY account_id""").fetchall()
    assert set(per_account) == {(4, 4)}
    # some urgent tickets stay open for months, some milestones are never completed
    assert db.sql("""SELECT count(*) FROM support_tickets WHERE priority = 'urgent'
                     AND coalesce(resolved_at, TIMESTAMP '2999-01-01')
                         > created_at + INTERVAL 60 DAY""").fetchone()[0] > 0
    assert db.sql("SELECT count(*) FROM milestones WHERE completed_at IS NULL").fetchone()[0] > 0


def test_subscriptions_do_not_overlap(db):
    _zero(db, """SELECT count(*) FROM (
        SELECT end_date, lead(start_date) OVER w AS nxt, row_number() OVER w AS k,
               count(*) OVER (PARTITION BY account_id) AS n
        FROM subscriptions WINDOW w AS (PARTITION BY account_id ORDER BY start_date, end_date))
        WHERE nxt < end_date OR (end_date IS NULL AND k < n)""")


def test_usage_only_while_subscribed(db):
    _zero(db, """SELECT count(*) FROM usage_events e WHERE NOT EXISTS (
        SELECT 1 FROM subscriptions s WHERE s.account_id = e.account_id
        AND s.start_date <= e.occurred_at::DATE
        AND (s.end_date IS NULL OR s.end_date > e.occurred_at::DATE))""")


def test_churn_then_return_is_present(db):
    gaps = [g for (g,) in db.sql("""SELECT nxt - end_date FROM (
        SELECT end_date, lead(start_date) OVER (PARTITION BY account_id ORDER BY start_date) AS nxt
        FROM subscriptions) WHERE nxt > end_date""").fetchall()]
    assert any(g <= 30 for g in gaps) and any(g > 30 for g in gaps)
    assert all(g <= 25 or g >= 40 for g in gaps)  # never ambiguous around the 30-day grace


# ---------------------------------------------------------------- truth

def test_truth_rows_and_values(db):
    _zero(db, """SELECT count(*) FROM truth
                 WHERE true_churn_prob NOT BETWEEN 0 AND 1 OR true_churn_prob IS NULL""")
    drivers = {d for (d,) in db.sql("SELECT DISTINCT dominant_driver FROM truth").fetchall()}
    assert drivers <= DRIVERS and len(drivers) >= 4
    _zero(db, """SELECT count(*) FROM (
                 SELECT account_id, as_of_date FROM truth GROUP BY ALL HAVING count(*) > 1)""")
    # exactly the accounts active on each first day of a month
    active = f"""SELECT DISTINCT s.account_id, d::DATE AS as_of_date
        FROM range(DATE '{DATA_START}', DATE '{DATA_END}', INTERVAL 1 DAY) t(d)
        JOIN subscriptions s ON s.start_date <= d AND (s.end_date IS NULL OR s.end_date > d)
        WHERE dayofmonth(d) = 1"""
    _zero(db, f"SELECT count(*) FROM (({active}) EXCEPT (SELECT account_id, as_of_date FROM truth))")
    _zero(db, f"SELECT count(*) FROM ((SELECT account_id, as_of_date FROM truth) EXCEPT ({active}))")


def test_truth_label_matches_subscriptions(db):
    _zero(db, f"""SELECT count(*) FROM truth t WHERE t.as_of_date + 120 < DATE '{DATA_END}'
        AND t.churned_in_horizon <> EXISTS (SELECT 1 FROM churn c WHERE c.account_id = t.account_id
            AND c.churn_date > t.as_of_date AND c.churn_date <= t.as_of_date + 90)""")


def test_truth_probability_is_informative(db):
    truth = db.sql("SELECT true_churn_prob, churned_in_horizon FROM truth").df()
    rate = truth.churned_in_horizon.mean()
    assert 0.03 < rate < 0.12
    assert roc_auc_score(truth.churned_in_horizon, truth.true_churn_prob) > 0.75
    assert abs(truth.true_churn_prob.mean() - rate) < 0.03


# ---------------------------------------------------------------- learnability

def test_churners_are_visible_in_raw_tables(db):
    """Churners vs. non-churners observed at comparable dates, from the raw tables only."""
    db.execute(f"""CREATE OR REPLACE TEMP TABLE windows AS
        WITH churners AS (
            SELECT account_id, min(churn_date) AS ref FROM churn
            WHERE churn_date >= DATE '{DATA_START}' + 60 GROUP BY 1),
        refs AS (SELECT ref, row_number() OVER (ORDER BY account_id) - 1 AS k FROM churners),
        others AS (
            SELECT account_id, row_number() OVER (ORDER BY account_id) - 1 AS k FROM accounts
            WHERE account_id NOT IN (SELECT account_id FROM churn))
        SELECT c.account_id, c.ref, 1 AS churned FROM churners c
        WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = c.account_id
                      AND s.start_date <= c.ref - 60)
        UNION ALL
        SELECT o.account_id, r.ref, 0 FROM others o
        JOIN refs r ON r.k = o.k % (SELECT count(*) FROM refs)
        WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = o.account_id
                      AND s.start_date <= r.ref - 60 AND (s.end_date IS NULL OR s.end_date > r.ref))""")
    stats = db.sql("""
        SELECT w.churned, count(*) AS n,
          avg(ln((coalesce(u.last30, 0) + 1) / (coalesce(u.prev30, 0) + 1))) AS trend,
          avg(((coalesce(u.last30, 0) + 1) / (coalesce(u.prev30, 0) + 1) < 0.67)::INTEGER) AS big_drop,
          avg((SELECT count(*) FROM milestones m WHERE m.account_id = w.account_id
               AND m.due_date < w.ref - 7 AND (m.completed_at IS NULL OR m.completed_at >= w.ref
                   OR m.completed_at > m.due_date + INTERVAL 7 DAY))) AS late_milestones,
          avg((SELECT count(*) FROM support_tickets t WHERE t.account_id = w.account_id
               AND t.priority = 'urgent' AND t.created_at < w.ref - INTERVAL 7 DAY
               AND (t.resolved_at IS NULL OR t.resolved_at >= w.ref))) AS open_urgent
        FROM windows w LEFT JOIN (
            SELECT w.account_id, w.ref,
                   count(*) FILTER (WHERE e.occurred_at >= w.ref - INTERVAL 30 DAY) AS last30,
                   count(*) FILTER (WHERE e.occurred_at < w.ref - INTERVAL 30 DAY) AS prev30
            FROM windows w JOIN usage_events e ON e.account_id = w.account_id
             AND e.occurred_at >= w.ref - INTERVAL 60 DAY AND e.occurred_at < w.ref
            GROUP BY 1, 2) u USING (account_id, ref)
        GROUP BY 1""").df().set_index("churned")
    churn, stay = stats.loc[1], stats.loc[0]
    assert churn.n >= 50 and stay.n >= 150
    assert churn.trend < stay.trend - 0.12
    assert churn.big_drop > 1.5 * stay.big_drop
    assert churn.late_milestones > stay.late_milestones + 0.3
    assert churn.open_urgent > 1.5 * stay.open_urgent and churn.open_urgent > stay.open_urgent + 0.05


# ---------------------------------------------------------------- scaling

@pytest.mark.parametrize("target", [30_000, 300_000])
def test_events_target_is_met(tmp_path, target):
    summary = generate_world(tmp_path, accounts=120, days=200, seed=3, events=target, chunk_accounts=50)
    parts = sorted((tmp_path / "usage_events").glob("part-*.parquet"))
    assert len(parts) == 3
    total = sum(pq.read_metadata(p).num_rows for p in parts)
    assert total == summary["tables"]["usage_events"]
    assert abs(total - target) < 0.2 * target
    ids = [np.unique(pq.read_table(p, columns=["account_id"]).column(0).to_numpy()) for p in parts]
    assert all(a.max() < b.min() for a, b in zip(ids, ids[1:]) if a.size and b.size)


def test_progress_messages(tmp_path):
    messages = []
    generate_world(tmp_path, accounts=40, days=60, seed=1, progress=messages.append)
    assert messages and all(isinstance(m, str) for m in messages)
