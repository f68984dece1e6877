"""Data-source and warehouse addresses: recognise them, normalise them, never print a password.

The one place that knows URL forms: PostgreSQL URLs in their SQLAlchemy,
libpq and ibis spellings, and DuckDB files given as a path or as the
``duckdb:///path`` URL that SQLAlchemy and ibis use.
"""

from __future__ import annotations

from pipeline.errors import mask_secrets

POSTGRES_SCHEMES = ("postgres://", "postgresql://", "postgresql+psycopg://")
DUCKDB_SCHEME = "duckdb://"

__all__ = ["mask_url", "is_postgres", "postgres_url", "duckdb_path"]


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``.

    Examples
    --------
    >>> mask_url("postgresql://bob:secret@db:5432/prod")
    'postgresql://bob:***@db:5432/prod'
    >>> mask_url("postgresql://bob@db/prod?password=secret&sslmode=require")
    'postgresql://bob@db/prod?password=***&sslmode=require'
    """
    return mask_secrets(url)


def is_postgres(spec: str) -> bool:
    """Whether ``spec`` is a PostgreSQL URL."""
    return str(spec).startswith(POSTGRES_SCHEMES)


def postgres_url(url: str, scheme: str = "postgresql") -> str:
    """The same PostgreSQL URL under another scheme: ``postgresql`` for psycopg, ``postgres`` for ibis.

    Examples
    --------
    >>> postgres_url("postgresql+psycopg://bob@db/prod")
    'postgresql://bob@db/prod'
    >>> postgres_url("postgresql://bob@db/prod", "postgres")
    'postgres://bob@db/prod'
    """
    for known in POSTGRES_SCHEMES:
        if url.startswith(known):
            return f"{scheme}://{url[len(known):]}"
    raise ValueError(f"not a PostgreSQL URL: {mask_url(url)}")


def duckdb_path(spec: str) -> str:
    """A DuckDB file path from a path or a ``duckdb:///path`` URL (``duckdb:///rel.duckdb`` is relative).

    Examples
    --------
    >>> duckdb_path("duckdb:////data/wh.duckdb")
    '/data/wh.duckdb'
    >>> duckdb_path("duckdb:///wh.duckdb")
    'wh.duckdb'
    >>> duckdb_path("data/wh.duckdb")
    'data/wh.duckdb'
    """
    text = str(spec)
    if text.startswith(DUCKDB_SCHEME):
        return text[len(DUCKDB_SCHEME):].removeprefix("/")
    return text
