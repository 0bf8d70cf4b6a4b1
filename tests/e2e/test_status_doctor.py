"""status and doctor against real running and stopped environments."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import REPO
from tests.e2e.conftest import Project, new_project, teardown
from tests.e2e.helpers import ok, sql

pytestmark = pytest.mark.docker
SCHEMA = json.loads((REPO / "docs" / "status.schema.json").read_text())


@pytest.fixture(scope="module")
def stack(built_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = new_project(tmp_path_factory.mktemp("status"))
    try:
        ok(project("up", "dev"))
        ok(project("test", "setup"))
        yield project
    finally:
        teardown(project, ("dev", "test"))


def status_json(p: Project, *args: str) -> tuple[int, dict]:
    result = p("status", *args, "--json")
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    return result.returncode, doc


def checks(p: Project, *args: str) -> tuple[int, dict[tuple[str | None, str], dict]]:
    return checks_env(p, {}, *args)


def checks_env(
    p: Project, env: dict[str, str], *args: str
) -> tuple[int, dict[tuple[str | None, str], dict]]:
    result = p("doctor", *args, "--json", env=env)
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    return result.returncode, {(c["environment"], c["name"]): c for c in doc["checks"]}


def test_status_of_running_environments(stack: Project) -> None:
    code, doc = status_json(stack, "--all")
    assert code == 0 and doc["healthy"] and doc["schema_version"] == 1
    envs = {e["name"]: e for e in doc["environments"]}
    dev, test, ci = envs["dev"], envs["test"], envs["ci"]
    assert dev["state"] == "up" and dev["healthy"] and ci["state"] == "down"
    assert {c["service"] for c in dev["containers"]["list"]} == {
        "app",
        "callback",
        "postgres",
        "redis",
    }
    assert all(c["uptime_seconds"] is not None for c in dev["containers"]["list"])
    assert (
        dev["postgres"]["database"] == "dashtam"
        and dev["postgres"]["migrations"]["state"] == "latest"
    )
    assert dev["postgres"]["settings"]["fsync"] == "on"
    assert test["postgres"]["settings"] == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    assert test["postgres"]["stamp"]["environment"] == "test"
    assert {t["name"] for t in test["postgres"]["tables"]} >= {"users", "providers"}
    assert test["redis"]["index"] == 1 and dev["redis"]["index"] == 0
    assert dev["app"]["healthy"] and dev["app"]["body"]["database"]["ok"] is True
    assert test["app"] is None  # the test app idles; it serves no HTTP
    rendered = ok(stack("status", "dev"))
    assert "dev (development, project" in rendered and "up, healthy" in rendered


def engine_view(doc: dict) -> list:
    """What status says of the engine's side: every environment's containers (their uptime
    moves between two calls) and whether it is up."""
    return [
        (
            e["name"],
            e["state"],
            [
                {k: v for k, v in c.items() if k != "uptime_seconds"}
                for c in e["containers"]["list"]
            ],
            e["containers"]["not_ready"],
        )
        for e in doc["environments"]
    ]


def test_status_says_the_same_through_the_engines_api_and_the_cli(stack: Project) -> None:
    """DASHENV_ENGINE_API=1 (what a preloaded worker does) and =0 (the CLI) give one
    document; a container stopped a moment ago is seen stopped at once by both."""
    views = []
    for api in ("1", "0"):
        result = stack("-v", "status", "--all", "--json", env={"DASHENV_ENGINE_API": api})
        assert result.returncode == 0, result.stderr
        asked_cli = "+ docker container ls" in result.stderr
        assert asked_cli is (api == "0"), result.stderr
        views.append(engine_view(json.loads(result.stdout)))
    assert views[0] == views[1]
    # doctor's questions (images, external networks and volumes, ports) likewise
    verdicts = []
    for api in ("1", "0"):
        _, found = checks_env(stack, {"DASHENV_ENGINE_API": api})
        verdicts.append({k: (c["level"], c["detail"]) for k, c in found.items()})
    assert verdicts[0] == verdicts[1]
    subprocess.run(["docker", "stop", stack.container("test", "redis")], capture_output=True)
    try:
        for api in ("1", "0"):
            code, doc = status_json_env(stack, {"DASHENV_ENGINE_API": api}, "test")
            assert code == 1 and "not ready: redis" in doc["environments"][0]["problems"]
    finally:
        ok(stack("up", "test"))


def test_the_engines_list_tells_who_holds_names_and_ports_as_inspect_does(
    stack: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What up's conflict check, the leases and the reset's guards read of other projects'
    containers (names, states, labels, published ports, images) comes from the engine's list
    alone: the same as inspecting each, on the real engine, stopped containers included."""
    from dashenv.context import RunContext
    from dashenv.facts import Container

    monkeypatch.setenv("DASHENV_ENGINE_API", "1")
    subprocess.run(["docker", "stop", stack.container("test", "redis")], capture_output=True)
    try:
        docker = RunContext(str(stack.root), {}, None, False, None).docker()

        def seen(c: Container) -> tuple[object, ...]:
            fields = ("id", "name", "project", "service", "state", "config_files", "image",
                      "working_dir", "instance", "environment", "protected", "config_hash",
                      "image_id")  # fmt: skip
            return (*(getattr(c, f) for f in fields), frozenset(c.ports))

        # its own containers: another test's may start or stop between the two listings
        mine = stack.prefix
        inspected = sorted(seen(c) for c in docker.containers() if c.name.startswith(mine))
        listed = sorted(seen(c) for c in docker.every_container() if c.name.startswith(mine))
        assert listed == inspected
        assert any(c[4] == "exited" for c in listed) and any(c[-1] for c in listed)
        full = {c.name: c for c in docker.every_container(frozenset({f"{mine}-test"}))}
        assert full[stack.container("test", "postgres")].started_at  # inspected: in full
    finally:
        ok(stack("up", "test"))


def status_json_env(p: Project, env: dict[str, str], *args: str) -> tuple[int, dict]:
    result = p("status", *args, "--json", env=env)
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    return result.returncode, doc


def test_status_of_a_stopped_environment_is_1(stack: Project) -> None:
    code, doc = status_json(stack, "ci")
    assert code == 1 and not doc["healthy"]
    assert doc["environments"][0]["problems"] == ["not running"]


def test_status_unreachable_parts_are_reported_not_raised(stack: Project) -> None:
    subprocess.run(["docker", "stop", stack.container("test", "redis")], capture_output=True)
    try:
        code, doc = status_json(stack, "test")
        assert code == 1
        env = doc["environments"][0]
        assert env["redis"]["reachable"] is False and env["redis"]["error"]
        assert any(p.startswith("Redis unreachable") for p in env["problems"])
        assert "not ready: redis" in env["problems"]
    finally:
        ok(stack("up", "test"))


def test_status_without_engine(tmp_path: Path) -> None:
    project = new_project(tmp_path, ("dev",))
    nope = {"DOCKER_HOST": "unix:///nope.sock"}
    result = project("status", "dev", "--json", env=nope)
    doc = json.loads(result.stdout)  # the document still comes, then exit 4
    jsonschema.validate(doc, SCHEMA)
    assert result.returncode == 4 and doc["engine"]["reachable"] is False
    assert result.stderr.startswith("Error: cannot reach the Docker engine")
    assert "Traceback" not in result.stderr
    through_api = project("status", "dev", "--json", env={**nope, "DASHENV_ENGINE_API": "1"})
    assert (through_api.returncode, through_api.stderr) == (result.returncode, result.stderr)
    text = project("status", "--all", env=nope)
    assert text.returncode == 4 and text.stdout == ""
    assert text.stderr.splitlines()[-1].startswith("Hint: start Docker")


@pytest.mark.parametrize(
    "args",
    [
        ("ps", "--all"),
        ("up", "test"),
        ("down", "test"),
        ("restart", "test"),
        ("logs", "test"),
        ("exec", "test", "app", "--", "true"),
        ("db", "reset", "test", "--yes"),
        ("db", "reset", "test", "--dry-run"),
        ("test", "setup"),
    ],
)
def test_every_command_needing_the_engine_exits_4_without_it(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = new_project(tmp_path, ("dev", "test"))
    result = project(*args, env={"DOCKER_HOST": "unix:///nope.sock"})
    assert result.returncode == 4, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: cannot reach the Docker engine")
    assert lines[-1].startswith("Hint: ") and "Traceback" not in result.stderr


def test_doctor_passes_on_a_good_setup(stack: Project) -> None:
    code, found = checks(stack)
    assert code == 0, [c for c in found.values() if c["level"] == "fail"]
    assert found[("test", "test database")]["level"] == "pass"
    assert found[("ci", "databases")]["level"] == "warn"  # ci is not running


def test_doctor_finds_a_dirty_then_unstamped_test_database(stack: Project) -> None:
    sql(stack, "test", "INSERT INTO users (email) VALUES ('left@behind')")
    _, found = checks(stack, "test")
    assert found[("test", "test database")]["level"] == "warn"
    assert "users (1)" in found[("test", "test database")]["detail"]
    sql(stack, "test", "DROP SCHEMA dashenv CASCADE")
    try:
        code, found = checks(stack, "test")
        assert code == 1
        assert found[("test", "test database")]["detail"] == "dashtam_test is unstamped"
    finally:
        ok(stack("db", "reset", "test", "--yes", "--adopt"))


def test_doctor_finds_a_missing_database(stack: Project) -> None:
    ok(
        stack(
            "exec",
            "test",
            "postgres",
            "--",
            "psql",
            "-U",
            "dashtam_test_user",
            "-d",
            "postgres",
            "-c",
            "DROP DATABASE dashtam_test WITH (FORCE)",
        )
    )
    try:
        code, found = checks(stack, "test")
        assert code == 1
        assert found[("test", "databases")]["detail"] == "database dashtam_test does not exist"
        assert found[("test", "databases")]["fix"] == "dashenv test setup"
    finally:
        ok(stack("test", "setup"))


def test_doctor_finds_port_and_name_conflicts(stack: Project, tmp_path: Path) -> None:
    other = new_project(tmp_path, ("dev",))
    port = other.ports["dev"]["redis"]
    name = other.container("dev", "postgres")
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "redis:8"], check=True, capture_output=True
    )
    try:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", port))
            holder.listen()
            code, found = checks(other, "dev")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert code == 1
    assert (
        found[("dev", "host ports")]["detail"]
        == f"host port {port} (redis) is held by another process"
    )
    assert found[("dev", "container names")]["detail"].startswith(
        f"container name {name} is already used"
    )


def test_doctor_finds_broken_files(tmp_path: Path) -> None:
    project = new_project(tmp_path, ("dev",))
    compose = project.root / "compose" / "docker-compose.dev.yml"
    compose.write_text(compose.read_text() + "\nnot: [valid\n")
    (project.root / "env" / ".env.dev").write_text("ENVIRONMENT=development\n")
    code, found = checks(project, "dev")
    assert code == 1
    assert found[("dev", "compose files")]["level"] == "fail"
    assert "lacks" in found[("dev", "env file")]["detail"]
    assert found[(None, "certificates")]["level"] == "warn"


def test_doctor_without_docker_or_engine(tmp_path: Path) -> None:
    project = new_project(tmp_path, ("dev",))
    result = project("doctor", "dev", "--json", env={"DOCKER_HOST": "unix:///nope.sock"})
    found = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.returncode == 1 and found["docker engine"]["level"] == "fail"
    result = project("doctor", "dev", "--json", env={"PATH": "/nonexistent"})
    found = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.returncode == 1 and found["docker client"]["level"] == "fail"
    assert found["env file"]["level"] == "pass"


def test_doctor_without_compose_v2(tmp_path: Path) -> None:
    project = new_project(tmp_path, ("dev",))
    shim = tmp_path / "bin"
    shim.mkdir()
    real = shutil.which("docker")
    (shim / "docker").write_text(
        "#!/bin/sh\n"
        '[ "$1" = compose ] && { echo "docker: unknown command: compose" >&2; exit 1; }\n'
        f'exec {real} "$@"\n'
    )
    (shim / "docker").chmod(0o755)
    result = project("doctor", "dev", "--json", env={"PATH": f"{shim}:{os.environ['PATH']}"})
    found = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.returncode == 1 and found["compose v2"]["level"] == "fail"


def test_status_watch_refreshes_until_ctrl_c(stack: Project) -> None:
    import signal
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "status", "dev", "--watch"],
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)  # long enough for two refreshes (every 2 s)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err
    # not a terminal: each refresh follows the last, under its time
    stamps = [ln for ln in out.splitlines() if ln.startswith("--- ")]
    assert len(stamps) >= 2, out
    assert out.count("dev (development, project") >= 2


def test_status_engine_calls_do_not_grow_with_environments(tmp_path: Path) -> None:
    """status asks the engine the same number of questions however many environments there
    are (one listing and one inspect for all), counted at the docker command itself."""
    shim, log = tmp_path / "bin", tmp_path / "calls.log"
    shim.mkdir()
    real = shutil.which("docker")
    (shim / "docker").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "docker").chmod(0o755)
    path = {"PATH": f"{shim}:{os.environ['PATH']}"}
    project = new_project(tmp_path, ("dev", "test", "ci"))

    def calls() -> list[str]:
        log.unlink(missing_ok=True)
        project("status", "--all", "--json", env=path)
        first = log.read_text().splitlines()
        # the compose files are read once (docker compose config), then cached by content
        assert any(c.startswith("compose ") and c.endswith(" config --format json") for c in first)
        log.unlink()
        project("status", "--all", "--json", env=path)  # an unchanged project: no Compose call
        return log.read_text().splitlines()

    three = calls()
    toml = project.root / "dashenv.toml"
    for n in range(3):  # three more environments
        toml.write_text(
            toml.read_text()
            + f'\n[environments.extra{n}]\nrole = "testing"\n'
            + 'compose_files = ["compose/docker-compose.ci.yml"]\nenv_file = "env/.env.ci"\n'
            + f'project_name = "{project.prefix}-extra{n}"\n'
        )
    six = calls()
    assert len(three) == len(six) <= 2, (three, six)
    assert [c.split()[:2] for c in six] in (
        [["container", "ls"], ["container", "inspect"]],
        [["container", "ls"]],  # no container on the engine at all: nothing to inspect
    )
