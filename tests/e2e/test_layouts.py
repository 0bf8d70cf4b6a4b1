"""Adopting the layouts people have, on the real engine. The fixtures follow public FastAPI
projects' traits (never their files); every one builds the same small app image
(tests/fixtures/layouts/app)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, free_ports
from tests.e2e.conftest import run_dashenv

pytestmark = pytest.mark.docker
LAYOUTS = REPO / "tests" / "fixtures" / "layouts"


class Layout:
    def __init__(self, root: Path):
        self.root = root

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_dashenv(*args, cwd=self.root)

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"dashenv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def by_hand(self, *args: str) -> subprocess.CompletedProcess[str]:
        """docker compose as the team types it in the project's directory."""
        return subprocess.run(
            ["docker", "compose", *args], cwd=self.root, capture_output=True, text=True
        )


def make_layout(tmp_path: Path, name: str, app_dir: str) -> Layout:
    root = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(LAYOUTS / name, root)
    shutil.copytree(LAYOUTS / "app", root / app_dir)
    ports = dict(zip(("@DB_PORT@", "@API_PORT@", "@WEB_PORT@"), free_ports(3), strict=True))
    for f in root.rglob("*.yml"):
        text = f.read_text()
        for mark, port in ports.items():
            text = text.replace(mark, str(port))
        f.write_text(text)
    return Layout(root)


@pytest.fixture
def template(tmp_path: Path) -> Iterator[Layout]:
    """After fastapi/full-stack-fastapi-template: compose.yml + compose.override.yml + .env,
    postgres:18, hard-coded ports, database settings in parts, a prestart migration job."""
    layout = make_layout(tmp_path, "template", "backend")
    try:
        yield layout
    finally:
        if (layout.root / "dashenv.toml").exists():
            layout("down", "test", "--volumes")
            layout("down", "dev", "--volumes", "--yes")


def test_base_and_override_with_one_env_file(template: Layout) -> None:
    p = template
    out = p.ok("init", "--detect")
    assert "test: derived from dev's compose files" in out
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    # dev is the very project a bare 'docker compose' manages here
    assert config["dev"]["project_name"] == p.root.name
    assert config["dev"]["compose_files"] == ["compose.yml", "compose.override.yml"]
    assert config["test"] == {"derived_from": "dev", "derive_markers": False}
    assert p.ok("init", "--detect").startswith("dashenv.toml exists")  # idempotent

    p.ok("up", "dev", "--build")
    marker = "INSERT INTO items (title) VALUES ('dev marker')"
    done = p.by_hand("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-c", marker)
    assert done.returncode == 0, done.stderr  # typed by hand: dev's own containers

    out = p.ok("test", "setup")
    assert "app_test" in out
    assert p.ok("test", "run").count("1 passed") == 1
    p.ok("db", "reset", "test", "--yes")

    # the test database: its own server, on tmpfs, without durability, a name that says test
    project = f"{p.root.name}-test"
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
         "--filter", "label=com.docker.compose.service=db"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(ids) == 1
    tmpfs = subprocess.run(
        ["docker", "inspect", "-f", "{{json .HostConfig.Tmpfs}} {{json .Mounts}}", ids[0]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert '"/var/lib/postgresql"' in tmpfs and "app-db-data" not in tmpfs
    fsync = subprocess.run(
        ["docker", "exec", ids[0], "psql", "-U", "postgres", "-d", "app_test", "-Atc",
         "SHOW fsync"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert fsync == "off"
    # the services tests do not need stay off; dev's keep running beside
    assert "frontend" not in p.ok("status", "test", "--json")

    p.ok("test", "clean")
    rows = p.by_hand("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-Atc",
                     "SELECT title FROM items")  # fmt: skip
    assert rows.stdout.split("\n")[0] == "dev marker"
    listed = p.by_hand("ps", "--format", "{{.Service}}").stdout.split()
    assert {"db", "backend", "redis", "frontend"} <= set(listed)
