"""Spark and JVM failures as one clear message: the table, the file or catalog object, never the Java stack.

Whatever fails on Spark (a file Spark cannot read, a schema that does not match,
a missing column, an executor out of memory or lost, a driver JVM that went
away) reaches the user as one :class:`pipeline.errors.SourceError` (exit code 2)
naming the table and its file or catalog object when the failure can be traced
to one, else the source and the tables it reads. The full text, with the Java
stack, goes to the log (logger ``churn``, level DEBUG), and the JVM's own log
(log4j) of a session started here goes to a file, never to the console:
:data:`LOG4J_PROPERTIES`, written to :func:`spark_log_file`.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger("churn")

#: log4j2 configuration of the JVMs this pipeline starts: everything at WARN and
#: above, with stacks, into the file given by the system property ``churn.spark.log``.
LOG4J_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:churn.spark.log}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""

_COLUMN = re.compile(r"with name `([^`]+)` cannot be resolved")
_VIEW = re.compile(r"churn_[0-9a-f]{8}_([a-z_]+)")
_ERROR_CLASS = re.compile(r"^\[[A-Z_.]+\] ")
_CLASS_PREFIX = re.compile(r"^(Caused by: )?((org\.apache|java|scala|shaded|py4j)[\w.$]*\.)?([\w$]*Exception: )?")
_JAVA_LINE = re.compile(r"^\s*at [\w$.<>/]+\(.*\)\s*$")


def spark_log_file() -> Path:
    """Where the JVM log of sessions started here goes: ``$CHURN_SPARK_LOG`` or ``<tmp>/churn-spark.log``."""
    return Path(os.environ.get("CHURN_SPARK_LOG") or Path(tempfile.gettempdir()) / "churn-spark.log")


def log4j_options() -> str:
    """JVM options sending the log4j output to :func:`spark_log_file` (the configuration written once)."""
    target = spark_log_file()
    config = Path(tempfile.gettempdir()) / "churn-spark-log4j2.properties"
    try:
        if not config.exists() or config.read_text() != LOG4J_PROPERTIES:
            config.write_text(LOG4J_PROPERTIES)
    except OSError:  # a temp folder this user cannot write: Spark's own console logging stays
        log.warning("cannot write %s: the JVM logs to the console", config)
        return ""
    return f"-Dlog4j2.configurationFile={config.as_uri()} -Dchurn.spark.log={target}"


def quiet_py4j() -> None:
    """Py4J logs a dead gateway with a traceback at ERROR: send its records to the DEBUG log instead.

    PySpark also warns with the Java stack when an Arrow transfer fails in the
    middle (the failure itself is raised and described): those warnings are dropped.
    """
    warnings.filterwarnings("ignore", message=r"(toPandas|createDataFrame) attempted Arrow optimization",
                            category=UserWarning)
    py4j = logging.getLogger("py4j")
    if not any(isinstance(h, _ToDebug) for h in py4j.handlers):
        py4j.addHandler(_ToDebug())
        py4j.propagate = False


class _ToDebug(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("py4j: %s", record.getMessage(), exc_info=record.exc_info)


def is_spark_failure(exc: BaseException) -> bool:
    """Whether ``exc`` comes from PySpark, Py4J or the JVM (not a :class:`ChurnError` of the pipeline)."""
    from models.errors import ChurnError

    if isinstance(exc, ChurnError) or not isinstance(exc, Exception):
        return False
    try:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
    except ImportError:  # pragma: no cover - Spark engine without pyspark
        return False
    if isinstance(exc, (PySparkException, Py4JError)):
        return True
    tb = exc.__traceback__
    while tb is not None:  # e.g. ConnectionRefusedError from a gateway whose JVM died
        name = tb.tb_frame.f_code.co_filename
        if f"{os.sep}pyspark{os.sep}" in name or f"{os.sep}py4j{os.sep}" in name:
            return True
        tb = tb.tb_next
    return False


def describe(exc: BaseException, label: str, reads: dict) -> str:
    """One message for a Spark failure while reading ``reads`` (table -> :class:`spark_read.TableRead`).

    The full text and the Java stack are logged at DEBUG; the message holds the
    table and its file or catalog object when the failure names one, the
    failure's first line, what to do about it and where the JVM log is.
    """
    text = _full_text(exc)
    log.debug("Spark failure on %s:\n%s", label, text)
    culprit = _culprit(text, reads)
    if culprit is None and len(reads) == 1:  # failed while reading one table's files
        table, read = next(iter(reads.items()))
        culprit = table, read.location
    if culprit:
        where = f"table {culprit[0]} ({culprit[1]})"
    else:
        names = ", ".join(sorted(reads)) or "none opened yet"
        where = f"data source {label} (tables: {names})"
    return f"Spark failed on {where}: {headline(exc, text)}{_hint(exc, text)} (Spark log: {spark_log_file()})"


def _full_text(exc: BaseException) -> str:
    text = str(exc)
    stack = getattr(exc, "_stackTrace", None)
    if stack and str(stack) not in text:
        text = f"{text}\n{stack}"
    return text


def headline(exc: BaseException, text: str | None = None) -> str:
    """The failure's telling line: its Spark error class (``[FAILED_READ_FILE...] ...``) when it has one,
    else its first line, without Py4J's call prefix, exception class names or stack frames."""
    text = str(exc) if text is None else text
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _JAVA_LINE.match(line) or line.startswith(("An error occurred while calling", "JVM stacktrace")):
            continue
        lines.append(_CLASS_PREFIX.sub("", line.lstrip(": ").strip()))
    if not lines:
        return type(exc).__name__
    first = next((line for line in lines if _ERROR_CLASS.match(line)), lines[0])
    return first if len(first) <= 400 else first[:397] + "..."


def _hint(exc: BaseException, text: str) -> str:
    if "spark.driver.maxResultSize" in text:
        return "; raise spark.driver.maxResultSize (and spark.driver.memory) in spark.conf"
    if "OutOfMemoryError" in text or "exceeds memory limits" in text or "Container killed" in text:
        return ("; out of memory: raise spark.executor.memory (or spark.driver.memory when the driver ran out), "
                "or spark.sql.shuffle.partitions")
    if "ExecutorLostFailure" in text or "Lost executor" in text or "executor lost" in text.lower():
        return "; an executor was lost (killed, out of memory or its machine went away): see the cluster's executor logs"
    if _gateway_gone(exc, text):
        return "; the Spark driver JVM stopped (out of memory or killed): raise spark.driver.memory"
    return ""


def _gateway_gone(exc: BaseException, text: str) -> bool:
    from py4j.protocol import Py4JNetworkError

    return isinstance(exc, (Py4JNetworkError, ConnectionError)) or "Answer from Java side is empty" in text


def _culprit(text: str, reads: dict) -> tuple[str, str] | None:
    """(table, file or catalog object) a failure's text points at, if any."""
    for table, read in reads.items():
        for file in read.files:
            if _path_of(file) in text:
                return table, file
    for table, read in reads.items():
        if not read.files and read.location.split(".")[-1] and _mentions_object(text, read.location):
            return table, read.location
    missing = _COLUMN.search(text)
    if missing:
        from pipeline.contract.tables import TABLES

        column = missing.group(1).split(".")[-1].strip("`")
        lacking = [t for t, r in reads.items() if column in TABLES[t].column_names
                   and r.frame is not None and column not in r.frame.columns]
        if len(lacking) == 1:
            return lacking[0], f"{reads[lacking[0]].location}, which has no column {column}"
    view = _VIEW.search(text)
    if view and view.group(1) in reads:
        return view.group(1), reads[view.group(1)].location
    return None


def missing_column(exc: BaseException, reads: dict) -> str | None:
    """The message for a query that used a contract column one table lacks (ibis: no such attribute), if it is one."""
    from pipeline.contract.tables import TABLES

    found = re.search(r"object has no attribute '(\w+)'", str(exc)) if isinstance(exc, AttributeError) else None
    if not found:
        return None
    column = found.group(1)
    lacking = [t for t, r in reads.items() if column in TABLES[t].column_names
               and r.frame is not None and column not in r.frame.columns]
    if len(lacking) != 1:
        return None
    table = lacking[0]
    return (f"table {table} ({reads[table].location}) has no column {column}, which the data contract requires "
            "(run `churn validate` for the full report)")


def _path_of(file: str) -> str:
    parsed = urlparse(file)
    return parsed.path if parsed.scheme in ("file", "") or parsed.path else file


def _mentions_object(text: str, location: str) -> bool:
    plain = text.replace("`", "")
    return location in plain or f"spark_catalog.{location}" in plain
