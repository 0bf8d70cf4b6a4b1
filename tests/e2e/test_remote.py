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


SANDBOX = Path(__file__).resolve().parents[3] / "shared" / "sandbox"


def _first_bridge_back() -> None:
    """Starting the second engine deletes the first one's default bridge (dockerd removes
    docker0 when given another bridge; a quirk of running two engines on one machine, which
    .ci/run handles at start): put it back as the first engine knows it."""
    import ipaddress

    if subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0:
        return
    config = json.loads(subprocess.run(
        ["docker", "network", "inspect", "bridge", "-f", "{{json (index .IPAM.Config 0)}}"],
        capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    # the engine names the gateway, or (restarted, as .ci/run may) only the subnet, whose
    # first address the bridge then has
    subnet = ipaddress.ip_network(config["Subnet"])
    gateway = config.get("Gateway") or str(next(subnet.hosts()))
    for cmd in (["ip", "link", "add", "docker0", "type", "bridge"],
                ["ip", "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", "docker0"],
                ["ip", "link", "set", "docker0", "up"]):  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)


def test_an_engine_restarted_mid_up_leaves_what_the_next_up_completes(tmp_path: Path) -> None:
    """The second engine stopped (its containers with it) while 'dashenv up' starts a stack
    on it, then started again: the interrupted up ends (it does not hang), and the next up
    reaches healthy."""
    import sys
    import time
    import uuid

    from tests.conftest import free_ports
    from tests.e2e.helpers import Layout

    if remote("info").returncode != 0:
        message = f"the second engine (context {REMOTE}) is not running: docker-second.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path / f"restart-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    db_port, cache_port = free_ports(2)
    (root / "docker-compose.yml").write_text(
        f"""services:
  db:
    image: postgres:17
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: shop-secret
      POSTGRES_DB: shop
    ports:
      - "127.0.0.1:{db_port}:5432"
  cache:
    image: redis:8
    ports:
      - "127.0.0.1:{cache_port}:6379"
"""
    )
    p = Layout(root)
    p.ok("init", "--detect")
    toml = root / "dashenv.toml"
    toml.write_text(toml.read_text().replace(
        "[environments.dev]\n", f'[environments.dev]\ncontext = "{REMOTE}"\nup_timeout = 60\n'
    ))  # fmt: skip
    pidfile = Path("/run/docker-remote/docker.pid")
    try:
        up = subprocess.Popen(
            [sys.executable, "-m", "dashenv", "up", "dev"], cwd=root, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "DASHENV_PRELOAD": "0"},
        )  # fmt: skip
        time.sleep(1.0)
        engine = int(pidfile.read_text())
        subprocess.run(["bash", str(SANDBOX / "docker-second.sh"), "stop"], check=True)
        for _ in range(120):
            if not Path(f"/proc/{engine}").exists():
                break
            time.sleep(0.25)
        _out, err = up.communicate(timeout=120)  # it ends, whatever it had got to
        assert "Traceback" not in err
        # the engine gone mid-up: exit 4 with one clear line (or it had finished first)
        assert up.returncode == 0 or (
            up.returncode == 4 and "cannot reach the Docker engine" in err
        ), err
        subprocess.run(["bash", str(SANDBOX / "docker-second.sh")], check=True,
                       capture_output=True)  # fmt: skip
        _first_bridge_back()
        done = p("up", "dev")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "dev is up" in done.stdout
    finally:
        subprocess.run(["bash", str(SANDBOX / "docker-second.sh")], capture_output=True)
        _first_bridge_back()
        p("down", "dev", "--volumes", "--yes")
