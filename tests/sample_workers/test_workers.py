"""A sample suite for parallel runs: each test records the database and Redis index it got
and what it saw, into DASHENV_SAMPLE_RECORD. Run by tests/e2e/test_habits.py as
pytest --dashenv -n 3 (not part of dashenv's own collection)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest


@pytest.fixture
def db(dashenv_database_url: str):
    url = dashenv_database_url.replace("postgresql+asyncpg://", "postgresql://")
    with psycopg.connect(url, client_encoding="utf8") as conn:
        yield conn


@pytest.mark.parametrize("n", range(9))
def test_records_its_worker(db, dashenv_redis, n: int) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    marker = f"{worker}-{n}"
    database = db.execute("SELECT current_database()").fetchone()[0]
    db.execute("INSERT INTO users (email) VALUES (%s)", (f"{marker}@sample",))
    db.commit()
    dashenv_redis.set(f"sample:{marker}", "1")
    record = {
        "worker": worker,
        "database": database,
        "index": dashenv_redis.connection_pool.connection_kwargs["db"],
        "rows": [r[0] for r in db.execute("SELECT email FROM users")],
        "keys": sorted(k.decode() for k in dashenv_redis.keys("sample:*")),
    }
    out = Path(os.environ["DASHENV_SAMPLE_RECORD"]) / f"{marker}.json"
    out.write_text(json.dumps(record))


@pytest.mark.parametrize("n", range(3))
def test_a_fresh_database_per_test(dashenv_fresh_database: str, n: int) -> None:
    url = dashenv_fresh_database.replace("postgresql+asyncpg://", "postgresql://")
    with psycopg.connect(url, client_encoding="utf8") as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        assert "_fresh_" in name and "test" in name
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0  # migrated, empty
        assert conn.execute("SELECT count(*) FROM provider_catalog").fetchone()[0] == 3
        conn.execute("INSERT INTO users (email) VALUES (%s)", (f"fresh-{n}@sample",))
        conn.commit()
