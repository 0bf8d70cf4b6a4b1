"""URLs mean what the drivers read: a test environment's DATABASE_URL or REDIS_URL whose query
string points the driver at another target than the URL's own parts (which the guards check)
is a configuration error, exit 2, naming the env file and line; a harmless query, and any
query on dev, keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run

BASE = "postgresql+asyncpg://dashtam_test_user:test_password@postgres:5432/dashtam_test"


def set_line(path: Path, key: str, value: str) -> int:
    """Replace KEY's line in the env file; its line number."""
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
    lines[number] = f"{key}={value}"
    path.write_text("\n".join(lines) + "\n")
    return number + 1


@pytest.mark.parametrize(
    ("key", "url", "what"),
    [
        # libpq's own names (psycopg, psycopg2, and SQLAlchemy handing its query to them)
        ("DATABASE_URL", "postgresql://u:p@postgres:5432/dashtam_test?dbname=dashtam", "database"),
        ("DATABASE_URL", "postgresql+psycopg2://u:p@postgres/dashtam_test?host=dev-db", "host"),
        (
            "DATABASE_URL",
            "postgresql+psycopg://u:p@postgres/dashtam_test?hostaddr=10.0.0.9",
            "host",
        ),
        ("DATABASE_URL", f"{BASE}?port=5432", "port"),
        ("DATABASE_URL", f"{BASE}?user=dashtam_user", "user"),
        ("DATABASE_URL", f"{BASE}?service=dev", "connection service"),
        ("DATABASE_URL", f"{BASE}?options=-csearch_path%3Ddev", "server options"),
        # asyncpg's name
        ("DATABASE_URL", f"{BASE}?database=dashtam", "database"),
        # redis-py: db= wins over the path
        ("REDIS_URL", "redis://redis:6379/1?db=0", "index"),
    ],
)
def test_a_query_that_moves_the_target_is_refused(
    run: Run, project: Path, key: str, url: str, what: str
) -> None:
    line = set_line(project / "env" / ".env.test", key, url)
    result = run("config", "show", "test")
    assert result.exit_code == 2, result.output
    first, hint = result.stderr.splitlines()[0], result.stderr.splitlines()[-1]
    assert first.startswith(f"Error: env/.env.test:{line}: {key}'s query sets the {what} (")
    assert "test is reset by dashenv, so its target must be named once" in first
    assert hint.startswith(f"Hint: remove {url.split('?')[1].split('=')[0]}= from {key}'s query")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("query", ["sslmode=disable", "application_name=tests&connect_timeout=5"])
def test_a_query_that_keeps_the_target_is_fine(run: Run, project: Path, query: str) -> None:
    set_line(project / "env" / ".env.test", "DATABASE_URL", f"{BASE}?{query}")
    result = run("config", "show", "test")
    assert result.exit_code == 0, result.output


def test_dev_keeps_a_legitimate_query(run: Run, project: Path) -> None:
    """dev is never reset: its URL may name a socket directory in the query, and the
    database it names is read as the driver reads it."""
    env = project / "env" / ".env.dev"
    url = next(line for line in env.read_text().splitlines() if line.startswith("DATABASE_URL="))
    set_line(env, "DATABASE_URL", url.partition("=")[2] + "?host=/run/postgresql")
    result = run("config", "show", "dev")
    assert result.exit_code == 0, result.output
