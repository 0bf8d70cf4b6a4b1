"""Bad input to the database commands: one line, a hint, exit 2, before anything runs."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Run, assert_usage_error


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (("db", "restore", "dev"), "Invalid value for NAME: give a snapshot NAME or --from FILE"),
        (("db", "restore", "dev", "x", "--from", "f"), "Invalid value for NAME: give a snapshot"),
        (("db", "downgrade", "dev"), "Missing argument 'REVISION'."),
        (("db", "revision", "dev"), "Missing option '--message' / '-m'."),
        (("db", "snapshot", "ci"), "ci publishes no PostgreSQL port"),
        (("db", "snapshots", "ci"), "ci publishes no PostgreSQL port"),
        (("db", "restore", "test", "--from", "/no/such.dump", "-y"), "no file /no/such.dump"),
        (("--set", "alembic_config=none", "db", "current", "test"), "test does not migrate"),
        (("--set", "alembic_config=none", "db", "history", "test"), "test does not migrate"),
    ],
)
def test_bad_database_commands(run: Run, args: tuple[str, ...], first: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0].startswith(f"Error: {first}")
    assert result.stderr.splitlines()[-1].startswith("Hint: ")
    assert "Traceback" not in result.output


def test_a_missing_alembic_config_is_named_with_its_layer(run: Run) -> None:
    assert_usage_error(
        run("--set", "alembic_config=nowhere.ini", "db", "current", "test"),
        "test: alembic_config nowhere.ini does not exist (from --set alembic_config)",
    )
