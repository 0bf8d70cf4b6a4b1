"""Projects' own test suites green under 'dashenv test run' with no hand edit after
'init --detect', on the real engine. Each fixture app (tests/fixtures/suites) follows a public
project's patterns (never its files) and has a small suite of its own that passes against its
own test database and fails against dev's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
    out, config = p.detect()
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


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[Layout]:
    """After the layout FastAPI's "FastAPI in Containers" guide documents (the image copies
    ./app only) with a uv project: the tests stay in the checkout, the project's CI runs them
    on the host with 'uv run pytest', no migrations at all (its tests make their own table)."""
    if shutil.which("uv") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("uv is not installed: pip install -e '.[test]' installs it")
        pytest.skip("uv is not installed (pip install -e '.[test]')")
    for layout in adopted(tmp_path, "hosted", None, SUITES):
        # the project's own setup step, as its README and CI run it (this downloads the locked
        # packages once, as a new developer's first sync does)
        subprocess.run(["uv", "sync", "--frozen", "-q"], cwd=layout.root, check=True)
        yield layout


def test_an_image_without_tests_runs_them_on_the_host_through_the_project_s_lock(
    hosted: Layout,
) -> None:
    p = hosted
    out, config = p.detect()
    dev = config["dev"]
    assert dev["test_runner"] == "host"
    assert "the app's image holds no tests (Dockerfile does not copy tests/)" in out
    assert dev["test_command"] == "uv run --frozen pytest"  # the lock as it is
    assert (dev["migration_command"], dev["migrations_dir"]) == ("none", "none")

    p.ok("up", "dev", "--build")
    marker = (
        "CREATE TABLE notes (id serial PRIMARY KEY, body text); "
        "INSERT INTO notes (body) VALUES ('dev marker')"
    )
    done = p.by_hand("exec", "-T", "db", "psql", "-U", "notes", "-d", "notes", "-c", marker)
    assert done.returncode == 0, done.stderr
    # the suite tells its own database from dev's: against dev, it fails
    published = p.by_hand("port", "db", "5432").stdout.strip()
    against_dev = subprocess.run(
        ["uv", "run", "--frozen", "pytest", "-q"], cwd=p.root, capture_output=True, text=True,
        env={**os.environ, "DATABASE_URL": f"postgresql://notes:notes-secret@{published}/notes"},
    )  # fmt: skip
    assert against_dev.returncode != 0, against_dev.stdout

    setup = p("test", "setup")
    assert setup.returncode == 0, setup.stderr
    assert "the template is the empty database" in setup.stderr  # said as it is built
    running = p.by_hand("-p", f"{p.root.name}-test", "ps", "--format", "{{.Service}}").stdout
    assert running.split() == ["db"]  # the tests run on the host: no app container
    assert "2 passed" in p.ok("test", "run")
    again = json.loads(p.ok("db", "reset", "test", "--yes", "--json"))
    assert again["template_built"] is False
    assert "2 passed" in p.ok("test", "run")
    rows = p.by_hand("exec", "-T", "db", "psql", "-U", "notes", "-d", "notes", "-Atc",
                     "SELECT body FROM notes")  # fmt: skip
    assert rows.stdout.strip() == "dev marker"
