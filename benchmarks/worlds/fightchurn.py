"""fight-churn's simulator, converted to the project's data contract (test tooling only).

The simulator of the book *Fighting Churn With Data* (PyPI ``fightchurn`` 1.2.0,
``python -m fightchurn.churnsim.churnsim --config-name socialnet7``, Hydra
overrides) writes the tables ``account``, ``subscription``, ``event`` and
``event_type`` into the PostgreSQL schema named after its model (``socialnet7``)
of the database given by ``CHURN_DB`` / ``CHURN_DB_USER`` / ``CHURN_DB_PASS`` /
``CHURN_DB_HOST``. This module runs it into a dedicated database (``fightchurn``,
created if missing; nothing else on the server is touched) and exports the result
as a folder the pipeline reads: ``accounts.csv``, ``subscriptions.csv``,
``usage_events/part-00000.parquet`` (no optional tables) and ``_truth/world.json``.

The project's code never imports this module. fightchurn pins old versions of
SQLAlchemy (1.4), Pillow, packaging and pyparsing that break MLflow 3 and
matplotlib 3.11, so it cannot share the project's venv: the simulator runs in a
venv of its own (``--setup`` creates it; ``FIGHTCHURN_VENV`` moves it).

Conversion choices (the simulator's data is a consumer social network, not B2B):

* ``accounts``: ``account_id`` = the simulator's integer id as text; ``segment`` =
  the product channel (web / appstore1 / appstore2: each has its own behaviour
  model); ``csm`` null; ``created_at`` = the first subscription's start; extra
  columns ``country`` and ``age_at_signup`` (from ``date_of_birth``).
* ``subscriptions``: one row per monthly bill period as written by the simulator
  (contiguous rows: ``end_date`` of one = ``start_date`` of the next). Rows still
  running at the end of the simulation show their next renewal date, which is not
  known yet at the data end: their ``end_date`` becomes null. ``plan`` = product;
  ``bill_period_months`` and ``discount`` are kept as extra columns.
* ``usage_events``: the simulator generates each customer's events up to the end
  of the bill month running at the simulation end (up to a month past it): events
  at or after the simulation end are dropped, so the data ends on ``end_date``.
  ``user_id`` = ``<account>-u<user>`` (socialnet7 accounts have one user);
  ``quantity`` = 1; the simulator's ``event_value`` is kept as ``value``.
* Churned customers never return and churn happens at the monthly renewal:
  the world's pipeline config (``fightchurn.yaml``) uses a grace period of 0 days.
* The oracle is unknown: the simulator draws churn from a per-customer monthly
  probability (a sigmoid of the month's utility) but does not record it.

    python -m benchmarks.worlds.fightchurn --setup            # once: the simulator's venv
    python -m benchmarks.worlds.fightchurn --out data/fightchurn [--customers 3000 --seed 42]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

PACKAGE, VERSION = "fightchurn", "1.2.0"
EXPORT_VERSION = 1  # bump when the conversion changes (it keys cached exports)
MODEL = "socialnet7"
VENV = Path(os.environ.get("FIGHTCHURN_VENV", Path.home() / ".cache" / "churn-pipeline" / f"fightchurn-{VERSION}"))
DB_URL = os.environ.get("FIGHTCHURN_DB_URL", "postgresql://postgres@127.0.0.1:5432/fightchurn")
#: The simulator's defaults for socialnet7 (conf/socialnet7.yaml): five months.
START, END = "2020-01-01", "2020-06-01"
CONFIG = Path(__file__).with_name("fightchurn.yaml")


def simulator_python(venv: Path = VENV) -> Path | None:
    """The simulator venv's interpreter, or None when fightchurn is not installed there."""
    python = venv / "bin" / "python"
    found = list(venv.glob(f"lib/python*/site-packages/{PACKAGE}-{VERSION}.dist-info"))
    return python if python.exists() and found else None


def setup(venv: Path = VENV) -> Path:
    """Create the simulator's venv with the pinned fightchurn (idempotent)."""
    if simulator_python(venv) is None:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"{PACKAGE}=={VERSION}"], check=True)
    return simulator_python(venv)


def _connect(url: str, dbname: str | None = None):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                           user=parts.username or "postgres", password=parts.password or "",
                           dbname=dbname or parts.path.lstrip("/"), autocommit=True)


def ensure_database(url: str = DB_URL) -> None:
    """Create the simulator's dedicated database if it does not exist."""
    from benchmarks.pg_database import ensure_database as created

    if created(url):
        name = urlsplit(url).path.lstrip("/")
        with _connect(url, "postgres") as con:
            # the simulator commits twice per customer: without this, fsync latency dominates its run time
            con.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def simulate(workdir: Path, *, customers: int = 3000, seed: int = 42, start: str = START, end: str = END,
             url: str = DB_URL, python: Path | None = None, jobs: int = 1) -> float:
    """Run the simulator into schema ``socialnet7`` of the database at ``url``; return seconds.

    ``jobs`` > 1 runs the simulator's own process pool (faster, not reproducible).
    """
    python = python or simulator_python()
    if python is None:
        raise RuntimeError(f"fightchurn is not installed in {VENV}: run python -m benchmarks.worlds.fightchurn --setup")
    ensure_database(url)
    parts = urlsplit(url)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "CHURN_DB": parts.path.lstrip("/"), "CHURN_DB_USER": parts.username or "postgres",
           "CHURN_DB_PASS": parts.password or "", "CHURN_DB_HOST": parts.hostname or "127.0.0.1",
           "CHURN_OUT_DIR": str(workdir / "out"), "TMPDIR": str(workdir / "tmp")}  # private id/lock files
    if parts.port:
        env["PGPORT"] = str(parts.port)
    cmd = [str(python), "-m", "fightchurn.churnsim.churnsim", "--config-name", MODEL,
           f"init_customers={customers}", f"random_seed={seed}", f"n_parallel={jobs}", "force=True",
           f"start_date='{start}'", f"end_date='{end}'"]
    started = time.perf_counter()
    with open(workdir / "simulator.log", "w") as log:
        run = subprocess.run(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    if run.returncode:
        tail = (workdir / "simulator.log").read_text().strip().splitlines()[-5:]
        raise RuntimeError(f"fightchurn simulator failed ({run.returncode}): " + " | ".join(tail))
    return time.perf_counter() - started


def _copy_out(con, sql: str, path: Path) -> None:
    with con.cursor() as cur, open(path, "wb") as f:
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for chunk in copy:
                f.write(chunk)


def export(out: Path, *, end: str = END, url: str = DB_URL, schema: str = MODEL, meta: dict | None = None) -> dict:
    """Write the simulator's tables in ``schema`` as a contract folder ``out``; return row counts."""
    import duckdb

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "usage_events").mkdir(parents=True)
    (out / "_truth").mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        with _connect(url) as con:
            _copy_out(con, f"SELECT id, channel, date_of_birth, country FROM {schema}.account", raw / "account.csv")
            _copy_out(con, f"SELECT * FROM {schema}.subscription", raw / "subscription.csv")
            _copy_out(con, f"SELECT * FROM {schema}.event_type", raw / "event_type.csv")
            _copy_out(con, f"SELECT account_id, event_time, event_type_id, user_id, event_value FROM {schema}.event "
                           f"WHERE event_time < DATE '{end}'", raw / "event.csv")
        db = duckdb.connect()
        db.execute("SET TimeZone = 'UTC'")
        read = {t: f"read_csv('{raw / t}.csv', header = true, auto_detect = true, sample_size = -1)"
                for t in ("account", "subscription", "event_type", "event")}
        end_d = f"DATE '{end}'"
        db.execute(f"""CREATE TABLE subs AS SELECT account_id::VARCHAR AS account_id, start_date::DATE AS start_date,
                CASE WHEN end_date::DATE >= {end_d} THEN NULL ELSE end_date::DATE END AS end_date,
                mrr::DOUBLE AS mrr, product AS plan, bill_period_months, discount
            FROM {read['subscription']} WHERE start_date::DATE < {end_d}""")
        db.execute(f"""COPY (SELECT * FROM subs ORDER BY account_id::INTEGER, start_date)
            TO '{out / 'subscriptions.csv'}' (HEADER, DELIMITER ',')""")
        db.execute(f"""COPY (
            SELECT a.id::VARCHAR AS account_id, 'socialnet7 customer ' || a.id AS name, a.channel AS segment,
                   NULL::VARCHAR AS csm, f.first_start::TIMESTAMP AS created_at, a.country,
                   floor(datediff('day', a.date_of_birth::DATE, f.first_start) / 365.25)::INTEGER AS age_at_signup
            FROM {read['account']} a
            JOIN (SELECT account_id, min(start_date) AS first_start FROM subs GROUP BY 1) f
              ON f.account_id = a.id::VARCHAR
            ORDER BY a.id) TO '{out / 'accounts.csv'}' (HEADER, DELIMITER ',')""")
        db.execute(f"""COPY (
            SELECT e.account_id::VARCHAR AS account_id, e.event_time::TIMESTAMP AS occurred_at,
                   t.event_type_name AS event_type,
                   e.account_id::VARCHAR || '-u' || coalesce(e.user_id, 0)::VARCHAR AS user_id,
                   1.0::DOUBLE AS quantity, e.event_value::DOUBLE AS value
            FROM {read['event']} e JOIN {read['event_type']} t USING (event_type_id)
            WHERE e.account_id::VARCHAR IN (SELECT account_id FROM subs)
            ORDER BY e.account_id, e.event_time, t.event_type_name
        ) TO '{out / 'usage_events' / 'part-00000.parquet'}' (FORMAT parquet, COMPRESSION zstd)""")
        counts = {
            "accounts": db.sql(f"SELECT count(*) FROM read_csv('{out / 'accounts.csv'}')").fetchone()[0],
            "subscriptions": db.sql("SELECT count(*) FROM subs").fetchone()[0],
            "usage_events": db.sql(f"SELECT count(*) FROM '{out / 'usage_events' / 'part-00000.parquet'}'").fetchone()[0],
            "churned_accounts": db.sql("""SELECT count(DISTINCT account_id) FROM subs s WHERE end_date IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM subs n WHERE n.account_id = s.account_id
                                AND n.start_date = s.end_date)""").fetchone()[0],
        }
    info = {"generator": "fightchurn.churnsim", "version": VERSION, "export_version": EXPORT_VERSION,
            "model": MODEL, "data_end": end,
            "oracle": None, "oracle_note": "the simulator does not record its churn probabilities",
            "horizon_days": 30, "grace_days": 0, "truth_frequency": "weekly", "config": CONFIG.name,
            "tables": counts, **(meta or {})}
    (out / "_truth" / "world.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return counts


def drop_schema(url: str = DB_URL, schema: str = MODEL) -> None:
    """Remove the simulator's schema (its tables) from the dedicated database."""
    with _connect(url) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def build(out: Path, *, customers: int = 3000, seed: int = 42, start: str = START, end: str = END,
          url: str = DB_URL, keep_db: bool = False, jobs: int = 1, progress=print) -> dict:
    """Simulate and export in one go; return the world's ``_truth/world.json`` content."""
    with tempfile.TemporaryDirectory() as work:
        progress(f"fightchurn: simulating {customers} initial customers ({start}..{end}, seed {seed}) ...")
        seconds = simulate(Path(work), customers=customers, seed=seed, start=start, end=end, url=url, jobs=jobs)
        progress(f"fightchurn: simulated in {seconds:.0f} s; exporting to {out} ...")
        meta = {"customers": customers, "seed": seed, "data_start": start, "simulate_seconds": round(seconds, 1)}
        export(out, end=end, url=url, meta=meta)
    if not keep_db:
        drop_schema(url)
    return json.loads((Path(out) / "_truth" / "world.json").read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="contract folder to write")
    ap.add_argument("--setup", action="store_true", help=f"create the simulator venv ({VENV}) with {PACKAGE}=={VERSION}")
    ap.add_argument("--customers", type=int, default=3000, help="initial customers (init_customers)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", default=START)
    ap.add_argument("--end", default=END, help="simulation end = data end (exclusive)")
    ap.add_argument("--db", default=DB_URL, help="PostgreSQL URL of the dedicated database")
    ap.add_argument("--jobs", type=int, default=1, help="simulator processes (>1 is not reproducible)")
    ap.add_argument("--keep-db", action="store_true", help="keep the simulator's schema after the export")
    args = ap.parse_args(argv)
    if args.setup:
        print(f"simulator: {setup()}")
    if args.out:
        info = build(args.out, customers=args.customers, seed=args.seed, start=args.start, end=args.end,
                     url=args.db, keep_db=args.keep_db, jobs=args.jobs)
        print(json.dumps(info["tables"]))
    elif not args.setup:
        ap.error("nothing to do: give --out and/or --setup")
    return 0


if __name__ == "__main__":
    sys.exit(main())
