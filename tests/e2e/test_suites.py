"""Projects' own test suites green under 'dashenv test run' with no hand edit after
'init --detect', on the real engine. Each fixture app (tests/fixtures/suites) follows a public
project's patterns (never its files) and has a small suite of its own that passes against its
own test database and fails against dev's."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import SUITES, Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def ping(tmp_path: Path) -> Iterator[Layout]:
    """After testdrivenio/fastapi-tdd-docker: app and tests in one image, postgres:// URLs that
    its ORM alone accepts, the password 'postgres', ENVIRONMENT=dev asserted by its own test,
    TESTING read as its test marker, its own migration step before the server, a healthcheck
    on /ping over plain HTTP."""
    yield from adopted(tmp_path, "ping", None, SUITES)


def test_an_app_in_its_container_with_its_own_url_form_markers_and_migrations(
    ping: Layout,
) -> None:
    p = ping
    out = p.ok("init", "--detect")
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    dev = config["dev"]
    assert dev["migration_command"] == "python -m app.migrate"  # its own step, no Alembic
    assert dev["migrations_dir"] == "project/migrations"
    assert (dev["health_path"], dev["app_scheme"]) == ("/ping", "http")  # its healthcheck's
    # TESTING only: the app's own test asserts ENVIRONMENT=dev
    assert config["test"]["derive_markers"] == ["TESTING"]
    assert "asserts its own ENVIRONMENT" in out

    p.ok("up", "dev", "--build")
    marker = "INSERT INTO summaries (url) VALUES ('dev marker')"
    done = p.by_hand(
        "exec", "-T", "web-db", "psql", "-U", "postgres", "-d", "web_dev", "-c", marker
    )
    assert done.returncode == 0, done.stderr
    # the suite tells its own database from dev's: run as the project documents, against dev,
    # it fails
    assert p.by_hand("exec", "-T", "web", "pytest", "-q").returncode != 0

    p.ok("test", "setup")
    override = (p.root / ".dashenv" / "derived" / "test.yml").read_text()
    assert "postgres://postgres:postgres@web-db:5432/web_dev_test" in override, override
    assert "2 passed" in p.ok("test", "run")
    again = json.loads(p.ok("db", "reset", "test", "--yes", "--json"))
    assert again["template_built"] is False  # the template is reused, not rebuilt
    assert "2 passed" in p.ok("test", "run")
    rows = p.by_hand("exec", "-T", "web-db", "psql", "-U", "postgres", "-d", "web_dev", "-Atc",
                     "SELECT url FROM summaries")  # fmt: skip
    assert rows.stdout.strip() == "dev marker"
