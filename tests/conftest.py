"""Shared fixtures: small generated worlds, built once per test session."""

from __future__ import annotations

import os
import shutil

import pytest

PG_URL = os.environ.get("CHURN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

#: The test modules with a test on the :func:`spark` fixture (each test checked as it starts, below). Under
#: pytest-xdist they form one unit of work: a single worker starts the local-cluster (a driver and two
#: executor JVMs) instead of one cluster per worker competing for the machine's two cores.
SPARK_MODULES = (
    "tests/pipeline/engine/spark/test_spark_session.py",
    "tests/pipeline/engine/spark/test_spark_engine.py",
    "tests/pipeline/engine/spark/test_spark_errors.py",
    "tests/pipeline/engine/spark/test_spark_read.py",
    "tests/pipeline/io/test_apply_mapping.py",
)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_runtest_setup(item):
    """A test on the Spark fixture or marked ``spark`` outside :data:`SPARK_MODULES` errors, naming the list."""
    uses_spark = "spark" in getattr(item, "fixturenames", ()) or item.get_closest_marker("spark")
    if uses_spark and _module(item.nodeid) not in SPARK_MODULES:
        pytest.fail(f"{_module(item.nodeid)} uses Spark: add it to SPARK_MODULES in tests/conftest.py", pytrace=False)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist (`-n 2 --dist loadfile` in pyproject.toml)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with :data:`SPARK_MODULES` as one file: one test module per unit of work, so its
    module-scoped fixtures are built once, and every Spark test on the same worker.

    (xdist's own ``--dist loadgroup`` with ``xdist_group`` marks does not group under pytest 9.2: it
    renames node ids through ``item._nodeid``, which pytest no longer reads; pytest-xdist issue 1386.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SparkModulesAsOneFile(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return "spark" if module in SPARK_MODULES else module

    return SparkModulesAsOneFile(config, log)


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


#: Master of the Spark tests: two executor JVMs of one core and 1 GiB each beside the driver, so
#: closures, the model shipped to mapInPandas and the Python workers cross real process boundaries.
SPARK_TEST_MASTER = os.environ.get("CHURN_TEST_SPARK_MASTER", "local-cluster[2,1,1024]")


def spark_executors(session) -> list[str]:
    """The executor ids registered with the session's driver (the driver itself left out)."""
    infos = session.sparkContext._jsc.sc().statusTracker().getExecutorInfos()
    driver = session.sparkContext.getConf().get("spark.driver.host")
    hosts = [f"{info.host()}:{info.port()}" for info in infos]
    return [h for h in hosts if h != f"{driver}:{session.sparkContext.getConf().get('spark.driver.port')}"]


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One Spark session for every Spark test, on :data:`SPARK_TEST_MASTER` (two executor JVMs).

    Skipped without pyspark or Java, except under CI. Waits until the executors
    have registered, so every test runs on them.
    """
    import shutil
    import time

    try:
        import pyspark  # noqa: F401

        missing = None if (os.environ.get("JAVA_HOME") or shutil.which("java")) else "no Java runtime"
    except ImportError:
        missing = "pyspark is not installed"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Spark tests cannot run: {missing}")
        pytest.skip(missing)
    from pipeline.engine.spark.session import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = spark_session(SPARK_TEST_MASTER, conf={"spark.sql.warehouse.dir": str(warehouse),
                                                     "spark.executor.memory": "1g"})
    wanted = 2 if SPARK_TEST_MASTER.startswith("local-cluster") else 0
    deadline = time.monotonic() + 120
    while len(spark_executors(session)) < wanted and time.monotonic() < deadline:
        time.sleep(0.5)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A world long enough for two out-of-time folds, and its snapshot panel (see ``training_fixtures``)."""
    from training_fixtures import build_demo

    return build_demo(tmp_path_factory)


@pytest.fixture(autouse=True, scope="module")
def _no_tracking_uri_from_another_module():
    """``MLFLOW_TRACKING_URI`` outranks the config: one left behind (``mlflow.set_tracking_uri`` writes it
    into the environment) must not reach the next module's fixtures, nor, below, the next test."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True)
def _no_tracking_uri_from_another_test():
    os.environ.pop("MLFLOW_TRACKING_URI", None)
