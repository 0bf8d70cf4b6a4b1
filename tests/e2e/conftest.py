"""End-to-end: the dashenv command against a real Docker engine, in throwaway projects.

Each project gets its own compose project names and free host ports, so these tests
never touch a developer's own environments, and every test takes down what it started.
Without Docker they skip with the reason; under CI (CI=true) they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, docker_problem, free_ports, make_project

SERVICES = ("app", "callback", "postgres", "redis")


@pytest.fixture(scope="session")
def docker_engine() -> None:
    problem = docker_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"end-to-end tests need Docker under CI: {problem}")
        pytest.skip(f"end-to-end tests need Docker: {problem}")


@pytest.fixture(autouse=True)
def _every_e2e_test_needs_docker(docker_engine: None) -> None:
    """Skip (or, under CI, fail) every end-to-end test alike when Docker is missing."""


def run_dashenv(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DASHENV_") or k == "DASHENV_STATE_DIR"
    }
    # preloading (on by default outside CI) only where a test asks for it, with a runtime
    # directory of its own; "DASHENV_PRELOAD": "" asks for the default
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200", "DASHENV_PRELOAD": "0"})
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "dashenv", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def isolated_toml(prefix: str, envs: dict[str, dict[str, object]]) -> str:
    lines = []
    for name, values in envs.items():
        lines.append(f"[environments.{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}".replace("'", '"'))
        lines.append("")
    return "\n".join(lines)


class Project:
    def __init__(self, root: Path, prefix: str, ports: dict[str, dict[str, int]]):
        self.root, self.prefix, self.ports = root, prefix, ports

    def __call__(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_dashenv(*args, cwd=self.root, **kwargs)  # type: ignore[arg-type]

    def container(self, env: str, service: str) -> str:
        return f"{self.prefix}-{env}-{service}"


def new_project(base: Path, envs: tuple[str, ...] = ("dev", "test", "ci")) -> Project:
    prefix = "e2e" + uuid.uuid4().hex[:6]
    root = make_project(base / prefix)
    numbers = iter(free_ports(4 * len(envs)))
    ports: dict[str, dict[str, int]] = {}
    table: dict[str, dict[str, object]] = {}
    for env in envs:
        table[env] = {"project_name": f"{prefix}-{env}"}
        if env != "ci":
            ports[env] = {svc: next(numbers) for svc in SERVICES}
            table[env].update({f"{svc}_port": port for svc, port in ports[env].items()})
    (root / "dashenv.toml").write_text(isolated_toml(prefix, table))
    return Project(root, prefix, ports)


def teardown(project: Project, envs: tuple[str, ...]) -> None:
    for env in envs:
        project("down", env, "--volumes", "--yes")


@pytest.fixture(scope="session")
def built_image(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build the app image once per session (cached layers make it quick when unchanged)."""
    project = new_project(tmp_path_factory.mktemp("build"), ("dev",))
    result = project("build", "dev")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def e2e(built_image: None, tmp_path: Path) -> Iterator[Project]:
    project = new_project(tmp_path)
    try:
        yield project
    finally:
        teardown(project, ("dev", "test", "ci"))


__all__ = ["REPO", "Project", "run_dashenv"]
