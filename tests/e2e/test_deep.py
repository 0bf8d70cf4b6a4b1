"""A development stack three folders down, started by the project's Makefile, beside a
self-host stack at the root that no developer starts, on the real engine: detection takes
dev from the project's own dev command and says why the root file is not dev."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Layout, adopted

pytestmark = pytest.mark.docker


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[Layout]:
    yield from adopted(tmp_path, "deep", "app")


def test_dev_three_folders_down_by_the_project_s_dev_command(deep: Layout) -> None:
    p = deep
    out = p.ok("init", "--detect")
    assert (
        "note: docker-compose.yml: Compose's default file, not dev: the project's dev command "
        "(Makefile: docker compose -f infra/docker/dev/compose.yaml up) starts "
        "infra/docker/dev/compose.yaml"
    ) in out
    config = tomllib.loads((p.root / "dashenv.toml").read_text())["environments"]
    assert config["dev"]["compose_files"] == ["infra/docker/dev/compose.yaml"]

    p.ok("up", "dev", "--build")
    p.ok("psql", "dev", "-c", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('dev')")
    p.ok("test", "setup")
    assert "2 passed" in p.ok("test", "run")
    assert p.ok("psql", "dev", "-Atc", "SELECT v FROM marker").strip() == "dev"
    # the self-host stack was never started (its image is not even here)
    images = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Image}}"], capture_output=True, text=True
    ).stdout
    assert "acme/deep-web" not in images
