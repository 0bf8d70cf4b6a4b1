"""Databases that are not the bare official image, on the real engine: a service built FROM
postgres (its own tag names nothing), and pgvector's image (a stand-in built FROM postgres:17
and tagged with the real name: dashenv sees the name, the tag and the entrypoint contract).
Each is PostgreSQL to dashenv: its role detected, the test database on tmpfs with the speed
flags and stamped, 'psql' served."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_ports
from tests.e2e.helpers import LAYOUTS, Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Layout]:
    yield from adopted(tmp_path, "built", "app")


def test_a_database_built_from_postgres(built: Layout) -> None:
    p = built
    out = p.ok("init", "--detect")
    assert (
        "postgres_service = 'database'  (database in docker-compose.yml: built FROM "
        "postgres:17: PostgreSQL's official image)"
    ) in out
    assert "app_service = 'backend'" in out

    p.ok("up", "dev", "--build")
    p.ok("psql", "dev", "-c", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev')")
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    flags = p.ok("psql", "test", "-Atc", "SHOW fsync").strip()
    assert flags == "off"  # the speed flags, as on the official image
    stamp = p.ok("psql", "test", "-Atc", "SELECT value FROM dashenv.metadata "
                 "WHERE key = 'environment'").strip()  # fmt: skip
    assert stamp == "test"
    # the project's own init script ran in the test database's server too, before the reset
    # replaced the database it made with the template's clone
    logs = subprocess.run(
        ["docker", "compose", "-p", f"{p.root.name}-test", "logs", "database"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "running /docker-entrypoint-initdb.d/10-audit.sql" in logs
    assert p.ok("psql", "dev", "-Atc", "SELECT v FROM marker").strip() == "dev"


@pytest.fixture(params=["pgvector/pgvector:pg17", "acme/shop-postgres:1.2"])
def vector(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Layout]:
    """An app on pgvector's image (its pgNN tags), or on a project's own published image
    whose tag is its own version (its major only in the image's PG_MAJOR): each a stand-in
    built FROM postgres:17 and tagged for this test."""
    tag = request.param
    present = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    if present.returncode != 0:
        subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=b"FROM postgres:17\n",
                       check=True, capture_output=True)  # fmt: skip
    root = tmp_path / f"vector-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    shutil.copytree(LAYOUTS / "app", root / "app")
    db_port, api_port = free_ports(2)
    (root / "docker-compose.yml").write_text(
        f"""services:
  api:
    build: ./app
    ports:
      - "127.0.0.1:{api_port}:8000"
    environment:
      DATABASE_URL: postgresql://vec:vec-secret@vectordb:5432/embeddings
    depends_on:
      - vectordb
  vectordb:
    image: {tag}
    environment:
      POSTGRES_USER: vec
      POSTGRES_PASSWORD: vec-secret
      POSTGRES_DB: embeddings
    ports:
      - "127.0.0.1:{db_port}:5432"
    volumes:
      - vectors:/var/lib/postgresql/data
volumes:
  vectors:
"""
    )
    layout = Layout(root)
    try:
        yield layout
    finally:
        layout("down", "test", "--volumes")
        layout("down", "dev", "--volumes", "--yes")
        if present.returncode != 0:
            subprocess.run(["docker", "rmi", tag], capture_output=True)


def test_pgvector_s_image_and_its_pg_tags(vector: Layout) -> None:
    p = vector
    assert "postgres_service = 'vectordb'" in p.ok("init", "--detect")
    p.ok("up", "dev", "--build")
    p.ok("psql", "dev", "-c", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev')")
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    # 17 (from the tag, or the image's PG_MAJOR): 17's data path, on tmpfs in the test
    # environment, with no volume over it
    assert p.ok("psql", "test", "-Atc", "SHOW data_directory").strip() == (
        "/var/lib/postgresql/data"
    )
    found = subprocess.run(
        ["docker", "compose", "-p", f"{p.root.name}-test", "ps", "-q", "vectordb"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    inspected = json.loads(
        subprocess.run(["docker", "inspect", found], capture_output=True, text=True).stdout
    )[0]
    assert "/var/lib/postgresql/data" in (inspected["HostConfig"].get("Tmpfs") or {})
    assert [m["Destination"] for m in inspected["Mounts"] if m["Type"] == "volume"] == []
    assert p.ok("psql", "dev", "-Atc", "SELECT v FROM marker").strip() == "dev"
