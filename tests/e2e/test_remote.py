"""A remote engine, for real: test runs on the second engine (the Docker context
sandbox-remote, ../shared/sandbox/docker-second.sh) while dev runs on the first."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, new_project, teardown
from tests.e2e.helpers import ok, sql

pytestmark = pytest.mark.docker
REMOTE = "sandbox-remote"


def remote(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "--context", REMOTE, *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    if remote("info").returncode != 0:
        message = f"the second engine (context {REMOTE}) is not running: docker-second.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    image = "dashtam-app:local"  # built on the first engine; engines share no images
    ids = [
        subprocess.run(
            [*cmd, "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True
        ).stdout.strip()
        for cmd in (["docker"], ["docker", "--context", REMOTE])
    ]
    if ids[0] != ids[1]:
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        subprocess.run(["docker", "--context", REMOTE, "load"], stdin=save.stdout, check=True,
                       capture_output=True)  # fmt: skip
        save.wait()
    project = new_project(tmp_path_factory.mktemp("remote"), ("dev", "test"))
    toml = project.root / "dashenv.toml"
    toml.write_text(toml.read_text().replace(
        "[environments.test]\n", f'[environments.test]\ncontext = "{REMOTE}"\n'
    ))  # fmt: skip
    try:
        ok(project("up", "dev"))
        sql(project, "dev", "INSERT INTO users (email) VALUES ('local@dev')")
        yield project
    finally:
        teardown(project, ("dev", "test"))


def names_on(engine: list[str], prefix: str) -> set[str]:
    out = subprocess.run([*engine, "ps", "--format", "{{.Names}}"], capture_output=True, text=True)
    return {n for n in out.stdout.split() if n.startswith(prefix)}


def test_test_runs_on_the_second_engine_beside_local_dev(stack: Project, tmp_path: Path) -> None:
    setup = ok(stack("test", "setup"))
    assert "Test database initialized successfully" in setup
    local = names_on(["docker"], stack.prefix)
    far = names_on(["docker", "--context", REMOTE], stack.prefix)
    assert {stack.container("dev", s) for s in ("app", "postgres")} <= local
    assert far == {stack.container("test", s) for s in ("app", "callback", "postgres", "redis")}
    assert not far & local

    doc = json.loads(stack("status", "--all", "--json").stdout)
    envs = {e["name"]: e for e in doc["environments"]}
    assert envs["dev"]["context"] is None and envs["test"]["context"] == REMOTE
    assert envs["test"]["healthy"] and envs["dev"]["healthy"], doc
    assert envs["test"]["postgres"]["stamp"]["environment"] == "test"

    # the engine's API answers for the second engine through the same code (its context's
    # unix socket, from the CLI's context store), as the CLI does
    views = []
    for api in ("1", "0"):
        result = stack("-v", "ps", "--json", env={"DASHENV_ENGINE_API": api})
        assert ("+ docker --context" in result.stderr) is (api == "0"), result.stderr
        listed = json.loads(result.stdout)
        views.append(
            {
                e: sorted((c["name"], c["state"]) for c in cs)
                for e, cs in listed["environments"].items()
            }
        )
    assert views[0] == views[1] and len(views[0]["test"]) == 4

    logs = ok(stack("logs", "test", "app", "--tail", "50"))
    assert "Running Alembic migrations..." in logs
    assert stack.container("test", "redis") in ok(stack("ps", "test"))

    doctor = json.loads(stack("doctor", "test", "--json").stdout)
    found = {c["name"]: c for c in doctor["checks"] if c["environment"] == "test"}
    assert found["engine"]["detail"] == f"runs on context {REMOTE}"
    assert found["bind mounts"]["level"] == "warn"  # works here, not on a truly remote host
    assert f"runs on context {REMOTE} and bind-mounts host paths" in found["bind mounts"]["detail"]

    # --context overrides the setting for one run: the default engine has no test containers
    assert ok(stack("--context", "default", "ps", "test")).strip() == "test: no containers"

    ok(stack("down", "test"))
    assert names_on(["docker", "--context", REMOTE], stack.prefix) == set()
    assert sql(stack, "dev", "SELECT email FROM users") == "local@dev"
