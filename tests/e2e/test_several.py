"""Three PostgreSQL services, none named postgres (the app's, a workflow engine's, an
analytics one), on the real engine: detection names the app's, by what the app depends on
and what its URL names, and says which it left alone; the test environment is derived from
that one, dev's data untouched."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def several(tmp_path: Path) -> Iterator[Layout]:
    yield from adopted(tmp_path, "several", "app")


def test_the_app_s_database_among_several(several: Layout) -> None:
    p = several
    out = p.ok("init", "--detect")
    assert (
        "postgres_service = 'app-db'  (app-db in docker-compose.yml: image postgres:17; the "
        "app's: api depends on it; api's DATABASE_URL names it (not the app's: "
        "analytics-db, temporal-postgresql))"
    ) in out
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["postgres_service"] == "app-db"
    assert config["dev"]["app_service"] == "api"

    p.ok("up", "dev", "--build")
    marker = "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev marker')"
    done = p.by_hand("exec", "-T", "app-db", "psql", "-U", "app", "-d", "app", "-c", marker)
    assert done.returncode == 0, done.stderr

    assert "app_test" in p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    shown = p.ok("exec", "test", "api", "--", "sh", "-c", "echo $DATABASE_URL")
    assert "@app-db:5432/app_test" in shown
    rows = p.by_hand("exec", "-T", "app-db", "psql", "-U", "app", "-d", "app", "-Atc",
                     "SELECT v FROM marker")  # fmt: skip
    assert rows.stdout.strip() == "dev marker"
