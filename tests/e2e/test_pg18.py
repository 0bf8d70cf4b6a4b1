"""PostgreSQL 18's layout on the real engine: the pre-18 mount path, which the official 18+
image refuses (and a restart policy loops), is found before anything starts; a derived test
environment is unaffected (its data path is tmpfs); 'latest' is read by the local image's
PG_MAJOR."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_ports
from tests.e2e.helpers import LAYOUTS, Layout

pytestmark = pytest.mark.docker
UNAVAILABLE = Path("/tmp/sandbox-postgres18.unavailable")  # ../shared/sandbox/README.md


@pytest.fixture
def notes(tmp_path: Path) -> Iterator[Layout]:
    """After the many compose files written for postgres before 18: the volume at
    /var/lib/postgresql/data, restart: unless-stopped, no healthcheck."""
    if UNAVAILABLE.exists():
        pytest.skip(f"the sandbox could not build postgres:18: {UNAVAILABLE.read_text()}")
    root = tmp_path / f"notes-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    (port,) = free_ports(1)
    (root / "docker-compose.yml").write_text(
        f"""services:
  db:
    image: postgres:18
    restart: unless-stopped
    environment:
      POSTGRES_USER: notes
      POSTGRES_PASSWORD: notes-secret
      POSTGRES_DB: notes
    ports:
      - "127.0.0.1:{port}:5432"
    volumes:
      - notes-data:/var/lib/postgresql/data
  api:
    build: ./app
    environment:
      DATABASE_URL: postgresql://notes:notes-secret@db:5432/notes
    depends_on:
      - db
volumes:
  notes-data:
"""
    )
    shutil.copytree(LAYOUTS / "app", root / "app")
    (root / ".env").write_text("DATABASE_URL=postgresql://notes:notes-secret@db:5432/notes\n")
    layout = Layout(root)
    layout.port = port  # type: ignore[attr-defined]
    tagged = (
        subprocess.run(
            ["docker", "image", "inspect", "postgres:latest"], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield layout
    finally:
        layout("down", "test", "--volumes")
        layout("down", "dev", "--volumes", "--yes")
        if not tagged:
            subprocess.run(["docker", "rmi", "postgres:latest"], capture_output=True)


def checks(p: Layout) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(p("doctor", "dev", "--json").stdout)["checks"]}


def test_the_pre_18_mount_path_is_refused_before_start(notes: Layout) -> None:
    p = notes
    p.ok("init", "--detect")
    done = p("up", "dev")
    assert done.returncode == 2, done.stderr
    assert "db runs PostgreSQL 18 (postgres:18)" in done.stderr
    assert "pre-18 path /var/lib/postgresql/data (docker-compose.yml:12)" in done.stderr
    assert "mount notes-data at /var/lib/postgresql instead, or pin the old major" in done.stderr
    listed = subprocess.run(
        ["docker", "compose", "ps", "-a", "-q"], cwd=p.root, capture_output=True, text=True
    ).stdout
    assert listed.strip() == ""  # nothing was started
    check = checks(p)["postgres data path"]
    assert check["level"] == "fail" and "docker-compose.yml:12" in check["detail"]
    # the derived test environment keeps its data on tmpfs: 18 starts there
    p.ok("up", "test")
    p.ok("down", "test")

    # postgres:latest (18 now), read from the local image's PG_MAJOR
    subprocess.run(["docker", "tag", "postgres:18", "postgres:latest"], check=True)
    compose = p.root / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("image: postgres:18", "image: postgres"))
    done = p("up", "dev")
    assert done.returncode == 2 and "db runs PostgreSQL 18 (postgres)" in done.stderr

    # the fix it names: the volume at /var/lib/postgresql
    compose.write_text(
        compose.read_text().replace(
            "notes-data:/var/lib/postgresql/data", "notes-data:/var/lib/postgresql"
        )
    )
    p.ok("up", "dev", "--build")
    url = f"postgresql://notes:notes-secret@127.0.0.1:{p.port}/notes"  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:  # straight after 'up': it answered already
        assert conn.execute("SHOW data_directory").fetchone() == ("/var/lib/postgresql/18/docker",)
    check = checks(p)["postgres data path"]
    assert check["level"] == "warn" and "pin the major version" in check["fix"]
    # and the day goes on: the project's own tests against its test database, dev intact
    p.ok("psql", "dev", "-c", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev')")
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    assert p.ok("psql", "dev", "-Atc", "SELECT v FROM marker").strip() == "dev"
