"""The benchmarks' PostgreSQL databases: each world or simulator gets one of its own on the server."""

from __future__ import annotations

from urllib.parse import urlsplit


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names, connecting to its server's ``postgres`` database, unless it exists;
    whether it was created."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, dbname="postgres", autocommit=True) as con:
        if con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        con.execute(f'CREATE DATABASE "{name}"')
    return True
