"""The app's own tests, run inside the app container by 'dashenv test run' / 'dashenv ci run'."""

import os

import psycopg
from dashtam_app.config import database_url


def test_runs_against_a_test_database():
    assert os.environ["ENVIRONMENT"] == "testing"
    with psycopg.connect(database_url(), client_encoding="utf8") as conn:
        assert "test" in conn.execute("SELECT current_database()").fetchone()[0]


def test_schema_is_migrated_with_alembic():
    with psycopg.connect(database_url(), client_encoding="utf8") as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        catalog = conn.execute("SELECT count(*) FROM provider_catalog").fetchone()[0]
    assert {"users", "providers", "provider_catalog", "alembic_version"} <= tables
    assert catalog == 3  # the data migration's rows


def test_each_xdist_worker_has_its_own_database_and_index():
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    with psycopg.connect(database_url(), client_encoding="utf8") as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
    if worker is None:
        assert name == "dashtam_test"
    else:
        assert name == f"dashtam_test_{worker}"
        assert not os.environ["REDIS_URL"].endswith("/0")
