"""Shared fixtures: throwaway project directories built from the shipped files."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def make_project(dest: Path, *, with_dev_env: bool = True) -> Path:
    """A copy of this repository's compose/ and env/ in ``dest``."""
    shutil.copytree(REPO / "compose", dest / "compose")
    shutil.copytree(REPO / "env", dest / "env", ignore=shutil.ignore_patterns(".env.dev"))
    if with_dev_env:
        text = (dest / "env" / ".env.dev.example").read_text()
        (dest / "env" / ".env.dev").write_text(
            text.replace("change_me_postgres_password", "dev_pw_1234")
            .replace("change_me_secret_key", "dev_secret_key_5678")
            .replace("change_me_encryption_key", "dev_encryption_key_9012")
        )
    return dest


@pytest.fixture(scope="session", autouse=True)
def _own_registry(tmp_path_factory: pytest.TempPathFactory) -> None:
    """dashenv's machine-wide registry (instances, port leases) for this test session only,
    never the developer's own."""
    import os

    os.environ["DASHENV_STATE_DIR"] = str(tmp_path_factory.mktemp("dashenv-state"))
    # preloading is on by default outside CI: the tests that are about it switch it on with a
    # runtime directory of their own; every other dashenv they run is a process of its own
    os.environ.setdefault("DASHENV_PRELOAD", "0")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


# the sample application suite runs against a test environment, through the plugin, from
# tests/e2e/test_habits.py; it is not part of dashenv's own collection
collect_ignore = ["sample_app", "sample_workers", "fixtures"]


# shared by the layers that need a real engine or real ports (integration, e2e)


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        return (
            "the Docker engine is not reachable: "
            + (probe.stderr.strip().splitlines() or ["?"])[-1]
        )
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if compose.returncode != 0:
        return "Docker Compose v2 is not installed"
    return None


def free_ports(count: int) -> list[int]:
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports
