"""Every service behind a Compose profile, started by `docker compose --profile dev up` in
the project's Makefile, on the real engine: detection proposes the profile with its evidence,
dev and the derived test environment run with it (the tools profile stays off until one of
its services is named), and a profile no service declares is a configuration error naming
those that exist."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def profiled(tmp_path: Path) -> Iterator[Layout]:
    yield from adopted(tmp_path, "profiled", "app")


def running_services(p: Layout) -> list[str]:
    """The services of dev's project that run now (by its label: whatever profile)."""
    done = subprocess.run(
        ["docker", "compose", "-p", p.root.name, "ps", "--format", "{{.Service}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.split()


def test_every_service_behind_a_profile(profiled: Layout) -> None:
    p = profiled
    out = p.ok("init", "--detect")
    assert "profiles = ['dev']  (dev: Makefile's dev command enables it)" in out
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["profiles"] == ["dev"]
    assert config["dev"].get("postgres_service", "postgres") == "postgres"

    p.ok("up", "dev", "--build")
    p.ok("psql", "dev", "-c", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev')")
    running = running_services(p)
    assert sorted(running) == ["api", "postgres"]  # the tools profile stays off
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    assert p.ok("psql", "dev", "-Atc", "SELECT v FROM marker").strip() == "dev"

    # naming a service behind a profile not enabled enables it, as Compose does
    done = p("up", "dev", "admin")
    assert done.returncode == 0, done.stderr
    assert "dev: enabling profile tools for admin" in done.stderr
    running = running_services(p)
    assert "admin" in running

    toml = p.root / "dashenv.toml"
    toml.write_text(toml.read_text().replace('profiles = ["dev"]', 'profiles = ["dev", "nope"]'))
    done = p("up", "dev")
    assert done.returncode == 2, done.stderr
    assert "dev: no service declares the profile 'nope'" in done.stderr
    assert "declare: db, dev, tools" in done.stderr
    assert "Traceback" not in done.stderr
