"""The ``read_csv`` call of one CSV file, with the dialect and column types DuckDB detects from the whole file.

DuckDB's whole-file detection (``sniff_csv(..., sample_size = -1)``) tries every value against every
candidate type on one thread: 2.7 s for a 131 MB file that a typed read scans in 0.4 s. :func:`sniffed_call`
detects from DuckDB's default sample instead and proves, in scans of the whole file read as text, that the
whole file gives the same answer; when it cannot prove it, it asks the whole file.

Why the proof holds: detection keeps, per column, the first candidate type that no value rejects. Every
candidate a sample value rejects is rejected by the whole file too, so the whole file keeps the sample's type
when every value of the file is one detection reads as that type. The checks accept less than DuckDB does
(the canonical text of a number, an ISO date or timestamp), which only sends more files to whole-file
detection. A text column needs one value no other candidate reads (a sample whose values are all empty is
detected as text too), and no value may hold a quote character (which may make the whole file quoted).
Any other dialect or type, or a scan that fails (a row with another number of fields), falls back.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The only prompt options the sampled answer is trusted with (anything else: whole-file detection).
_DIALECT = ("auto_detect=false, delim=',', quote='', escape='', new_line='{newline}', skip=0, comment='', "
            "header=true, columns={{{columns}}}{formats}")
_FORMATS = ("", ", dateformat='%Y-%m-%d'", ", timestampformat='%Y-%m-%d %H:%M:%S'",
            ", dateformat='%Y-%m-%d', timestampformat='%Y-%m-%d %H:%M:%S'")
#: Per detected type: a SQL predicate on the text ``v``, true only for values detection reads as that type
#: (the value's canonical text: no sign, leading zero, blank or fraction it does not need).
_ACCEPTS = {
    "BIGINT": "CAST(TRY_CAST(v AS BIGINT) AS VARCHAR) = v",
    "DOUBLE": r"regexp_full_match(v, '-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?')",
    "DATE": "length(v) = 10 AND CAST(TRY_CAST(v AS DATE) AS VARCHAR) = v",
    "TIMESTAMP": "length(v) = 19 AND CAST(TRY_CAST(v AS TIMESTAMP) AS VARCHAR) = v",
}
#: A text value that no other candidate type reads.
_TEXT_WITNESS = "regexp_matches(v, '^[A-Za-z]') AND " + " AND ".join(
    f"TRY_CAST(v AS {t}) IS NULL" for t in ("BOOLEAN", "BIGINT", "DOUBLE", "TIME", "DATE", "TIMESTAMP"))
#: A value holding a quote character may make whole-file detection read the file as quoted.
_NO_QUOTES = "NOT contains(v, '\"') AND NOT contains(v, '''')"


def quote(location) -> str:
    """``location`` as a SQL string literal."""
    return "'" + str(location).replace("'", "''") + "'"


def sniffed_call(con, file: Path) -> str:
    """The ``read_csv(...)`` call reading ``file`` with the dialect and types whole-file detection gives.

    ``con`` is a DuckDB connection (``duckdb.DuckDBPyConnection``, or a cursor of one: the detection
    reads only the file, so files can be detected side by side, one cursor each).

    Detecting on every query costs 50-150 ms per table reference; the call is
    reused by every query of the session. An unreadable file gets the
    auto-detecting call, so the query using it reports the problem.
    """
    auto = f"read_csv({quote(file)}, header = true, auto_detect = true, sample_size = -1)"
    try:
        sampled = _call(con, f"sniff_csv({quote(file)})")
        if sampled is not None and _holds(con, sampled):
            return sampled[:-1] + ", sample_size=-1)"
        return _call(con, f"sniff_csv({quote(file)}, sample_size = -1)") or auto
    except Exception:  # unreadable file: let the query report it where it is used
        return auto


def _call(con, sniff: str) -> str | None:
    prompt = con.execute(f"SELECT Prompt FROM {sniff}").fetchone()[0]
    call = prompt.strip().removeprefix("FROM ").rstrip(";").strip()
    return call if call.startswith("read_csv(") and call.endswith(")") else None


def _holds(con, call: str) -> bool:
    """Whether the whole file is sure to get the dialect and column types of the sampled ``call``."""
    parsed = _parse(call)
    if parsed is None:
        return False
    path, newline, columns = parsed
    as_text = ", ".join(f"{quote(name)}: 'VARCHAR'" for name in columns)
    scan = (f"read_csv({path}, auto_detect=false, delim=',', quote='', escape='', new_line='{newline}', "
            f"skip=0, comment='', header=true, columns={{{as_text}}})")
    checks = [f"coalesce(bool_and({_on(_NO_QUOTES, name)}), true)" for name in columns]
    checks += [f'coalesce(bool_and("{name}" IS NULL OR coalesce({_on(_ACCEPTS[kind], name)}, false)), true)'
               for name, kind in columns.items() if kind != "VARCHAR"]
    witnesses = [f"SELECT 1 FROM {scan} WHERE {_on(_TEXT_WITNESS, name)} LIMIT 1"
                 for name, kind in columns.items() if kind == "VARCHAR"]
    try:
        if not all(con.execute(f"SELECT {', '.join(checks)} FROM {scan}").fetchone()):
            return False
        return all(con.execute(witness).fetchone() is not None for witness in witnesses)
    except Exception:  # a row of another width, an encoding error...: the whole file decides
        return False


def _on(predicate: str, column: str) -> str:
    """``predicate`` on the column ``column`` instead of ``v``."""
    return re.sub(r"\bv\b", f'"{column}"', predicate)


def _parse(call: str) -> tuple[str, str, dict[str, str]] | None:
    """(quoted path, newline, column -> type) of a sampled call in the trusted dialect; else ``None``."""
    match = re.fullmatch(r"read_csv\(('(?:[^']|'')*'), (.*)\)", call)
    if match is None:
        return None
    path, options = match.groups()
    cols = re.search(r"columns=\{([^}]*)\}", options)
    newline = re.search(r"new_line='(\\n|\\r\\n)'", options)
    if cols is None or newline is None:
        return None
    columns = dict(re.findall(r"'([^'\"]*)': '([A-Z]+)'", cols.group(1)))
    listed = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    if listed != cols.group(1) or any(kind != "VARCHAR" and kind not in _ACCEPTS for kind in columns.values()):
        return None
    if options not in {_DIALECT.format(newline=newline.group(1), columns=listed, formats=f) for f in _FORMATS}:
        return None
    return path, newline.group(1), columns
