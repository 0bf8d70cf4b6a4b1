"""What a project pins globally, on the real engine: a fixed subnet (and the database's
fixed address on it, which the app's URL names) and its own init scripts mounted read-only
at /docker-entrypoint-initdb.d. The derived test stack runs beside dev without "Pool
overlaps", its database stamped and the project's scripts run, the project's directory left
as it was."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def pinned(tmp_path: Path) -> Iterator[Layout]:
    """After a public FastAPI exam-reservation project: see the fixture's compose file."""
    for layout in adopted(tmp_path, "pinned", "app"):
        compose = layout.root / "docker-compose.yml"
        # a /24 of its own for this run (10.213/16 is outside Docker's default pools)
        compose.write_text(compose.read_text().replace("@NET@", str(random.randint(1, 254))))
        yield layout


def test_a_pinned_subnet_and_a_read_only_init_directory(pinned: Layout) -> None:
    p = pinned
    p.ok("init", "--detect")
    p.ok("up", "dev", "--build")
    marker = "INSERT INTO reservations (who) VALUES ('dev marker')"
    done = p.by_hand("exec", "-T", "db", "psql", "-U", "web", "-d", "exam", "-c", marker)
    assert done.returncode == 0, done.stderr  # the project's own init script ran in dev

    out = p.ok("test", "setup")
    assert "exam_test" in out
    assert "2 passed" in p.ok("test", "run")
    # the test database server ran the project's scripts from where dashenv moved them
    project = f"{p.root.name}-test"
    logs = subprocess.run(
        ["docker", "compose", "-p", project, "logs", "db"], capture_output=True, text=True
    ).stdout
    assert "running /dashenv-project-initdb/01-schema.sql" in logs
    assert "running /docker-entrypoint-initdb.d/01-dashenv-project-initdb.sh" in logs
    # nothing of dashenv's landed in the project's own directory
    assert sorted(f.name for f in (p.root / "sql").iterdir()) == ["01-schema.sql"]
    # the app's URL named dev's fixed address; the test app's names its own database server
    shown = p.ok("exec", "test", "web", "--", "sh", "-c", "echo $DATABASE_URL")
    assert "@db:5432/exam_test" in shown and "10.213." not in shown

    rows = p.by_hand(
        "exec", "-T", "db", "psql", "-U", "web", "-d", "exam", "-Atc",
        "SELECT who FROM reservations ORDER BY id",
    ).stdout.split("\n")  # fmt: skip
    assert rows[:2] == ["seeded by the init script", "dev marker"]
