"""Adopting an existing project: its own compose files are the truth, and 'init --detect'
writes the rest. The project is tests/fixtures/adopted (its own name:, hard-coded container
names and ports, an external network for Traefik, the app behind the proxy only, no callback
in test, Alembic through uv run with its lock, no speed flags); its app image is never built
here."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import run_dashenv
from tests.e2e.helpers import ok

pytestmark = pytest.mark.docker
FIXTURE = REPO / "tests" / "fixtures" / "adopted"
EXPECTED = REPO / "tests" / "fixtures" / "adopted-expected.toml"


class Adopted:
    def __init__(self, root: Path, network: str):
        self.root, self.network = root, network

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_dashenv(*args, cwd=self.root)

    def by_hand(self, *args: str) -> subprocess.CompletedProcess[str]:
        """docker compose as the team types it, on the same file."""
        return subprocess.run(
            ["docker", "compose", "-f", "compose/docker-compose.test.yml", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
        )


@pytest.fixture
def adopted(tmp_path: Path) -> Iterator[Adopted]:
    root = tmp_path / "dashtam-api"
    shutil.copytree(FIXTURE, root)
    # the proxy's network, named for this run (the files' own name, made unique)
    network = f"e2e{uuid.uuid4().hex[:6]}-traefik-public"
    for f in (root / "compose").glob("*.yml"):
        f.write_text(f.read_text().replace("traefik-public", network))
    project = Adopted(root, network)
    try:
        yield project
    finally:
        if (root / "dashenv.toml").exists():
            for env in ("test", "dev"):
                project("down", env, "--volumes", "--yes")
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


def checks(p: Adopted, env: str) -> tuple[int, dict[str, dict]]:
    result = p("doctor", env, "--json")
    return result.returncode, {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_init_detect_then_the_files_are_the_truth(adopted: Adopted) -> None:
    p = adopted
    first = p("init", "--detect")
    assert first.returncode == 0, first.stderr
    assert (p.root / "dashenv.toml").read_text() == EXPECTED.read_text()
    assert (
        "  alembic_command = 'uv run --frozen alembic'  (app/Dockerfile holds uv.lock and the "
        "project runs its tools with uv run)"
    ) in first.stdout
    assert "test: created env/.env.test" in first.stdout
    # a second run changes nothing
    second = p("init", "--detect")
    assert "dashenv.toml exists; left as it is (--force rewrites it)" in second.stdout
    assert (p.root / "dashenv.toml").read_text() == EXPECTED.read_text()

    # doctor names the missing external network, and passes once it exists
    code, found = checks(p, "test")
    assert code == 1
    assert found["external networks"]["detail"] == f"external network {p.network} does not exist"
    up = p("up", "test", "postgres", "redis")
    assert up.returncode == 1 and f"external network {p.network} does not exist" in up.stderr
    subprocess.run(["docker", "network", "create", p.network], check=True, capture_output=True)
    code, found = checks(p, "test")
    assert code == 0, found
    assert found["reverse proxy"]["level"] == "warn"  # no Traefik runs here
    assert (
        found["app route"]["fix"]
        == "add '127.0.0.1 api-test.dashtam.local' to /etc/hosts (or your DNS)"
    )

    # exactly the two services asked for, under the files' own names
    up = p("up", "test", "postgres", "redis")
    assert up.returncode == 0, up.stderr
    assert "route through Traefik and no Traefik container is running" in up.stderr
    assert "127.0.0.1:15433" in up.stdout and "api-test" not in up.stdout  # no app started
    assert not (p.root / "certs").exists()  # the files mount no dashenv certificate
    listed = json.loads(ok(p("ps", "test", "--json")))
    names = sorted(c["name"] for c in listed["environments"]["test"])
    assert names == ["dashtam-api-test-postgres", "dashtam-api-test-redis"]
    # docker compose by hand on the same file addresses the same containers
    by_hand = p.by_hand("ps", "--format", "{{.Name}}")
    assert sorted(by_hand.stdout.split()) == names, by_hand.stderr
    line = ok(p("config", "compose", "test", "--", "ps")).strip()
    assert "--project-name" not in line  # the files' name: holds

    # status: only the services the files declare, true endpoints
    status = json.loads(p("status", "test", "--json").stdout)["environments"][0]
    assert status["project"] == "dashtam-api-test"
    assert status["containers"]["expected"] == ["api", "postgres", "redis"]
    assert status["containers"]["not_ready"] == ["api"]
    assert status["postgres"]["endpoint"] == "127.0.0.1:15433"
    assert status["redis"]["endpoint"] == "127.0.0.1:16380"
    assert status["app"]["url"] == "https://api-test.dashtam.local/health"
    assert status["app"]["checked"] is False  # the route's name does not resolve here
    # the test PostgreSQL runs without the seed's speed flags: doctor says how to add them
    code, found = checks(p, "test")
    assert found["speed flags"]["level"] == "warn"
    assert "fsync=off" in found["speed flags"]["fix"]

    # the reset plans the detected Alembic command and keys on the detected directory
    plan = ok(p("db", "reset", "test", "--dry-run"))
    assert "run 'uv run --frozen alembic upgrade head' in api" in plan
    explained = json.loads(ok(p("config", "show", "test", "--json")))
    assert explained["settings"]["migrations_dir"]["value"] == "app/migrations"
    assert explained["settings"]["postgres_port"]["layer"] == "compose files"
    assert explained["compose"]["project_name_in_files"] == "dashtam-api-test"

    # an explicit port the files hard-code differently: exit 2 naming both places
    clash = p("--set", "postgres_port=5555", "status", "test")
    assert clash.returncode == 2
    assert "publishes postgres on 15433" in clash.stderr and "--set postgres_port" in clash.stderr


def test_a_build_failure_is_exit_1_with_the_builds_reason(adopted: Adopted) -> None:
    ok(adopted("init", "--detect"))
    (adopted.root / "app" / "Dockerfile").write_text(
        "FROM python:3.13-slim\nRUN echo broken dependency step && exit 7\n"
    )
    result = adopted("build", "test", "api")
    assert result.returncode == 1, result.stderr
    (first,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert "the image build failed: " in first and "exit code: 7" in first
    assert "cannot reach the Docker engine" not in result.stderr
