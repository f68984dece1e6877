"""Shared fixtures: small generated worlds, built once per test session."""

from __future__ import annotations

import os
import shutil

import pytest

PG_URL = os.environ.get("CHURN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A small generated world (CSV/Parquet folder). Treat as read-only: copy before breaking it."""
    from pipeline.synthetic import generate_world

    out = tmp_path_factory.mktemp("world") / "small"
    generate_world(out, accounts=150, days=400, seed=7)
    return out


@pytest.fixture
def world_copy(small_world, tmp_path):
    """A private, writable copy of :func:`small_world` (without the truth folder)."""
    dest = tmp_path / "world"
    shutil.copytree(small_world, dest, ignore=shutil.ignore_patterns("_truth"))
    return dest


@pytest.fixture(scope="session")
def pg_url():
    """URL of the real PostgreSQL server; the test is skipped only outside CI when it is down."""
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    return PG_URL



@pytest.fixture
def pg_database(pg_url):
    """A fresh, empty PostgreSQL database on the real server; dropped afterwards. Yields its URL."""
    import uuid

    import psycopg

    name = f"churn_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One Spark local[2] session for every Spark test; skipped without pyspark or Java, except under CI."""
    import shutil

    try:
        import pyspark  # noqa: F401

        missing = None if (os.environ.get("JAVA_HOME") or shutil.which("java")) else "no Java runtime"
    except ImportError:
        missing = "pyspark is not installed"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Spark tests cannot run: {missing}")
        pytest.skip(missing)
    from pipeline.engine.spark import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = spark_session("local[2]", conf={"spark.sql.warehouse.dir": str(warehouse)})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A world long enough for two out-of-time folds, and its snapshot panel (see ``training_fixtures``)."""
    from training_fixtures import build_demo

    return build_demo(tmp_path_factory)
