"""Readiness without healthchecks, on the real engine: most compose files give the database
none, so 'up' waits until PostgreSQL, Redis and the app answer, lets any other service run
through a settle window, and fails at once (exit 5, the last lines, a hint that fits) on a
service that exits or restarts."""

from __future__ import annotations

import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_ports
from tests.e2e.helpers import Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Layout]:
    """After CogitoPawan/apptest-20250811: no healthcheck anywhere, the app depending on the
    database by name only, its settings in .env, the database's hard-coded in environment:."""
    yield from adopted(tmp_path, "plain", "app")


def test_no_healthcheck_anywhere(plain: Layout) -> None:
    p = plain
    p.ok("init", "--detect")
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["postgres_service"] == "db" and config["dev"]["app_service"] == "web"

    out = p.ok("up", "dev", "--build")
    assert "dev is up: 0 healthy, 3 running (no healthcheck)" in out
    # straight after 'up' returns, the database takes a connection (it answered one already)
    compose = (p.root / "docker-compose.yml").read_text()
    port = compose.split("127.0.0.1:", 2)[2].split(":", 1)[0]  # db's, the second published
    dev_url = f"postgresql://anomaly:anomaly-secret@127.0.0.1:{port}/anomaly_db"
    with psycopg.connect(dev_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev marker')")
    status = p("status", "dev").stdout  # exit 1: dev's migrations are pending, as they are
    assert "no healthcheck" in status and "migrations pending" in status

    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    assert "2 passed" in p.ok("test", "run")
    with psycopg.connect(dev_url) as conn:
        assert conn.execute("SELECT v FROM marker").fetchall() == [("dev marker",)]
    p.ok("down", "test")


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Layout]:
    """A database without its required password and a worker that exits on a missing
    variable under 'restart: unless-stopped' (a restart loop)."""
    root = tmp_path / f"broken-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    (db_port,) = free_ports(1)
    (root / "docker-compose.yml").write_text(
        f"""services:
  db:
    image: postgres:17
    environment:
      POSTGRES_USER: shop
    ports:
      - "127.0.0.1:{db_port}:5432"
  worker:
    image: python:3.13-slim
    restart: unless-stopped
    environment:
      SECRET_KEY: s3cret
    volumes:
      - ./flag:/flag
    command:
      - python
      - -c
      - |
        import os, pathlib, time
        print('starting')
        os.environ['SECRET_KEY']
        while not pathlib.Path('/flag/crash').exists():
            time.sleep(0.2)
        time.sleep(1)
        raise SystemExit('crashed')
"""
    )
    (root / "flag").mkdir()
    (root / ".env").write_text("DATABASE_URL=postgresql://shop:shop-secret@db:5432/shop\n")
    layout = Layout(root)
    try:
        yield layout
    finally:
        layout("down", "dev", "--volumes", "--yes")


def test_a_service_that_cannot_start_fails_up_at_once(broken: Layout) -> None:
    p = broken
    p.ok("init", "--detect")
    done = p("up", "dev")
    assert done.returncode == 5, done.stderr
    assert "dev failed to become healthy: db (exited with code 1)" in done.stderr
    assert "POSTGRES_PASSWORD" in done.stderr  # its last lines
    assert "Hint: db needs POSTGRES_PASSWORD: set it in .env" in done.stderr
    assert "waiting longer will not help" in done.stderr
    assert "Traceback" not in done.stderr.split("last lines")[0]

    # the database given its password, the worker's variable taken away: the worker is
    # then the one that cannot start (one at a time, so which fails first is not a race)
    compose = p.root / "docker-compose.yml"
    compose.write_text(
        compose.read_text()
        .replace(
            "POSTGRES_USER: shop\n", "POSTGRES_USER: shop\n      POSTGRES_PASSWORD: shop-secret\n"
        )
        .replace("    environment:\n      SECRET_KEY: s3cret\n", "")
    )
    done = p("up", "dev")
    assert done.returncode == 5, done.stderr
    first = done.stderr.splitlines()[0]
    assert "worker (restart" in first and "db" not in first, first
    assert "Hint: worker needs SECRET_KEY" in done.stderr
    # nothing was reported up, and the database itself did start
    listed = subprocess.run(
        ["docker", "compose", "ps", "--format", "{{.Service}} {{.State}}"],
        cwd=p.root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "db running" in listed

    # given its variable the worker runs; then it starts crashing a second after each start
    compose.write_text(
        compose.read_text().replace(
            "restart: unless-stopped\n",
            "restart: unless-stopped\n    environment:\n      SECRET_KEY: s3cret\n",
        )
    )
    p.ok("up", "dev")
    (p.root / "flag" / "crash").write_text("")
    worker = next(c for c in _containers(p) if c["service"] == "worker")
    for _ in range(300):  # caught running between two crashes, as a glance at 'ps' shows it
        state = _inspect(worker["id"])
        if state["RestartCount"] >= 1 and state["State"]["Status"] == "running":
            break
        time.sleep(0.05)
    done = p("up", "dev")  # a restart loop caught running is not taken for up
    assert done.returncode == 5, done.stdout + done.stderr
    assert "worker (restart" in done.stderr.splitlines()[0] or "worker (exited" in done.stderr


def _containers(p: Layout) -> list[dict[str, str]]:
    listed = subprocess.run(
        ["docker", "compose", "ps", "-a", "--format", "{{.ID}} {{.Service}}"],
        cwd=p.root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [dict(zip(("id", "service"), line.split(), strict=True)) for line in listed.splitlines()]


def _inspect(container: str) -> dict:
    import json

    out = subprocess.run(["docker", "inspect", container], capture_output=True, text=True)
    return json.loads(out.stdout)[0]
