"""A small application test suite, as a Dashtam team would write it, using dashenv's pytest
plugin. Run by tests/e2e/test_habits.py as: pytest --dashenv tests/sample_app (not part of
dashenv's own collection: see collect_ignore in tests/conftest.py)."""

from __future__ import annotations

import os

import psycopg
import pytest


@pytest.fixture
def db(dashenv_database_url: str):
    url = dashenv_database_url.replace("postgresql+asyncpg://", "postgresql://")
    with psycopg.connect(url, client_encoding="utf8") as conn:
        yield conn


def test_the_database_is_the_test_database(db) -> None:
    name = db.execute("SELECT current_database()").fetchone()[0]
    assert "test" in name


def test_starts_clean_and_can_write(db) -> None:
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    db.execute("INSERT INTO users (email) VALUES ('sample@test')")


def test_cache_on_the_test_index(dashenv_redis) -> None:
    # the test environment's index (1); under pytest-xdist, each worker an index of its own
    index = dashenv_redis.connection_pool.connection_kwargs["db"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert index == 1 if worker in (None, "gw0") else index not in (0, 1)
    dashenv_redis.set("sample:key", "v")
    assert dashenv_redis.get("sample:key") == b"v"


@pytest.mark.parametrize("n", range(4))
def test_many_workers(db, n: int) -> None:
    """Spread over the xdist workers: each sees the migrated test database and, of the
    uncommitted writes, only its own."""
    db.execute("INSERT INTO users (email) VALUES (%s)", (f"worker{n}@test",))
    seen = db.execute("SELECT email FROM users WHERE email LIKE 'worker%%'").fetchall()
    assert seen == [(f"worker{n}@test",)]
    db.rollback()
