"""Lifecycle end to end: real engine, real PostgreSQL and Redis, the shipped compose files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import Project, new_project, run_dashenv
from tests.e2e.helpers import https_json, ok, sql

pytestmark = pytest.mark.docker


def test_dev_and_test_side_by_side_and_dev_data_survives(e2e: Project) -> None:
    out = ok(e2e("up", "dev"))
    assert "dev is up: 4 containers healthy" in out
    dev_app = e2e.ports["dev"]["app"]
    health = https_json(f"https://localhost:{dev_app}/health")
    assert health["status"] == "ok" and health["database"]["database"] == "dashtam"

    sql(e2e, "dev", "INSERT INTO users (email) VALUES ('keep@dashtam.dev')")
    assert ok(e2e("redis-cli", "dev", "SET", "oauth:token", "precious")).strip() == "OK"

    ok(e2e("up", "test"))
    ps = json.loads(ok(e2e("ps", "--json")))["environments"]
    names = {c["name"] for env in ("dev", "test") for c in ps[env]}
    assert len(names) == 8
    assert {e2e.container("dev", s) for s in ("app", "postgres")} <= names
    test_health = https_json(f"https://localhost:{e2e.ports['test']['callback']}/health")
    assert test_health == {"status": "ok"}
    # the test environment really reaches its own database on its own port
    assert sql(e2e, "test", "SELECT current_database()") == "dashtam_test"
    assert sql(e2e, "test", "SELECT count(*) FROM users") == "0"

    assert sql(e2e, "dev", "SELECT email FROM users") == "keep@dashtam.dev"
    assert ok(e2e("redis-cli", "dev", "GET", "oauth:token")).strip() == "precious"
    assert ok(e2e("redis-cli", "test", "GET", "oauth:token")).strip() == ""

    ok(e2e("down", "test"))
    ok(e2e("down", "dev"))
    ok(e2e("up", "dev"))
    assert sql(e2e, "dev", "SELECT email FROM users") == "keep@dashtam.dev"
    assert ok(e2e("redis-cli", "dev", "GET", "oauth:token")).strip() == "precious"


def test_up_again_is_quick_and_changes_nothing(e2e: Project) -> None:
    ok(e2e("up", "test"))
    before = {
        c["name"]: c["id"]
        for c in json.loads(ok(e2e("ps", "test", "--json")))["environments"]["test"]
    }
    ok(e2e("up", "test"))
    after = {
        c["name"]: c["id"]
        for c in json.loads(ok(e2e("ps", "test", "--json")))["environments"]["test"]
    }
    assert before == after  # same containers, not recreated


def _compose_up_ran(result: subprocess.CompletedProcess[str]) -> bool:
    assert result.returncode == 0, result.stderr
    return any(
        ln.startswith("+ docker compose") and " up --detach" in ln
        for ln in result.stderr.splitlines()
    )


def test_up_on_a_healthy_environment_asks_compose_nothing_until_something_changes(
    e2e: Project,
) -> None:
    """Every container running, healthy, with the hash Compose gave it for this very
    configuration: no 'compose up'. A changed compose file, a stopped container, a rebuilt
    image: Compose is asked, as before."""
    ok(e2e("up", "test"))
    quiet = e2e("-v", "up", "test")
    assert not _compose_up_ran(quiet), quiet.stderr
    assert "docker compose up: nothing to do" in quiet.stderr
    assert "test is up: 4 containers healthy" in quiet.stdout  # the same report
    compose = e2e.root / "compose" / "docker-compose.test.yml"
    original = compose.read_text()
    try:
        compose.write_text(original + "\n# edited\n")
        changed = e2e("-v", "up", "test")
        assert _compose_up_ran(changed) and "no up of this configuration" in changed.stderr
        assert not _compose_up_ran(e2e("-v", "up", "test"))  # recorded again
    finally:
        compose.write_text(original)
    ok(e2e("up", "test"))
    subprocess.run(["docker", "stop", e2e.container("test", "redis")], check=True,
                   capture_output=True)  # fmt: skip
    stopped = e2e("-v", "up", "test")
    assert _compose_up_ran(stopped) and "redis is exited" in stopped.stderr
    # the same tag, another image: Compose would recreate the container, so it is asked
    retag = ["docker", "tag", "redis:8", "redis:8-was"]
    subprocess.run(retag, check=True)
    try:
        build = subprocess.run(
            ["docker", "build", "-q", "-t", "redis:8", "-"],
            input="FROM redis:8-was\nLABEL dashenv.test=rebuilt\n",
            text=True, capture_output=True, check=True,
        )  # fmt: skip
        assert build.stdout.strip()
        rebuilt = e2e("-v", "up", "test")
        assert _compose_up_ran(rebuilt) and "redis's image changed" in rebuilt.stderr
    finally:
        subprocess.run(["docker", "tag", "redis:8-was", "redis:8"], check=True)
        subprocess.run(["docker", "rmi", "redis:8-was"], check=False, capture_output=True)
    ok(e2e("up", "test"))


def test_port_held_by_another_process_is_refused(e2e: Project) -> None:
    port = e2e.ports["test"]["postgres"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = e2e("up", "test")
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert (
        first == f"Error: cannot start test: host port {port} (postgres) is held by another process"
    )
    assert "Hint: " in result.stderr and "Traceback" not in result.stderr
    assert ok(e2e("ps", "test")).strip() == "test: no containers"  # nothing half-started


def test_port_published_by_another_environment_is_refused(e2e: Project) -> None:
    ok(e2e("up", "dev", "redis"))
    dev_redis = e2e.ports["dev"]["redis"]
    result = e2e("--set", f"redis_port={dev_redis}", "up", "test")
    assert result.returncode == 1
    assert (
        f"host port {dev_redis} (redis) is published by container {e2e.container('dev', 'redis')} "
        f"of compose project {e2e.prefix}-dev (environment dev)"
    ) in result.stderr


def test_container_name_held_by_another_project_is_refused(e2e: Project) -> None:
    name = e2e.container("test", "redis")
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--label",
            "com.docker.compose.project=someone-else",
            "redis:8",
        ],
        check=True,
        capture_output=True,
    )
    try:
        result = e2e("up", "test")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert result.returncode == 1
    assert f"container name {name} is already used by compose project someone-else" in result.stderr
    assert f"remove it: docker rm -f {name}" in result.stderr


def test_down_volumes_on_dev_needs_yes(e2e: Project) -> None:
    ok(e2e("up", "dev", "redis"))
    refused = e2e("down", "dev", "--volumes")
    assert refused.returncode == 3
    assert refused.stderr.startswith(
        "Error: refusing to delete the volumes of protected environment dev without confirmation"
    )
    volume = f"{e2e.prefix}-dev-redis-data"
    assert (
        subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode == 0
    )
    ok(e2e("down", "dev", "--volumes", "--yes"))
    assert (
        subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode != 0
    )


def test_logs_and_exec_pass_through(e2e: Project) -> None:
    ok(e2e("up", "test"))
    logs = ok(e2e("logs", "test", "app", "--tail", "50"))
    assert "Running Alembic migrations..." in logs
    assert "Migrations completed successfully" in logs
    lines = [ln for ln in logs.splitlines() if "Running Alembic migrations..." in ln]
    # every line carries its service's prefix (the container name, then "|")
    assert lines and all(ln.split("|")[0].strip() == e2e.container("test", "app") for ln in lines)
    result = e2e("exec", "test", "app", "--", "sh", "-c", "echo out; exit 7")
    assert result.returncode == 7 and result.stdout.strip() == "out"
    assert ok(e2e("exec", "test", "app", "--", "printenv", "ENVIRONMENT")).strip() == "testing"
    missing = e2e("exec", "test", "nope", "--", "true")
    assert missing.returncode == 2 and "test has no service 'nope'" in missing.stderr
    # a secret the app writes to its log is masked by dashenv logs
    ok(
        e2e(
            "exec",
            "test",
            "app",
            "--",
            "sh",
            "-c",
            'echo "connecting with password $POSTGRES_PASSWORD" > /proc/1/fd/1',
        )
    )
    masked = ok(e2e("logs", "test", "app", "--tail", "5"))
    assert "connecting with password ****" in masked and "test_password" not in masked


def test_logs_follow_ends_cleanly_on_ctrl_c(e2e: Project) -> None:
    ok(e2e("up", "test", "redis"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashenv", "logs", "test", "redis", "--follow"],
        cwd=e2e.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # following: the existing lines arrive first
    assert "redis" in first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err


def test_timeout_exits_5_naming_the_services(e2e: Project) -> None:
    result = e2e("up", "test", "--timeout", "1")
    assert result.returncode == 5, result.stderr
    error = next(line for line in result.stderr.splitlines() if line.startswith("Error:"))
    assert error.startswith("Error: test not healthy after 1s: ")
    assert "app (" in error


def test_docker_unreachable_exits_4(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        pytest.skip("needs the docker client")
    project = new_project(tmp_path, ("dev",))
    result = project("up", "dev", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 4
    assert result.stderr.startswith("Error: cannot reach the Docker engine")
    assert "Hint: " in result.stderr and "Traceback" not in result.stderr
    by_context = project("--context", "no-such-context", "up", "dev")
    assert by_context.returncode == 4
    assert by_context.stderr.startswith("Error: cannot reach the Docker engine (context no-such")


def test_shipped_compose_files_are_valid_and_config_compose_prints_a_working_line(
    e2e: Project,
) -> None:
    for env in ("dev", "test", "ci"):
        line = ok(e2e("config", "compose", env, "--", "config", "--quiet")).strip()
        result = subprocess.run(line, shell=True, cwd=e2e.root, capture_output=True, text=True)
        assert result.returncode == 0, f"{env}: {result.stderr}"
        names = ok(e2e("config", "compose", env, "--", "config", "--services")).strip()
        listed = subprocess.run(names, shell=True, cwd=e2e.root, capture_output=True, text=True)
        assert set(listed.stdout.split()) == {"app", "callback", "postgres", "redis"}


def test_overlay_example_switches_exclusive_environments(built_image: None, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "compose" / "app", root / "compose" / "app")
    overlay = root / "examples" / "overlay"
    shutil.copytree(
        REPO / "examples" / "overlay", overlay, ignore=shutil.ignore_patterns(".env", "certs")
    )
    project = new_project(tmp_path / "ports", ("dev",))  # only for its free ports and prefix
    ports = project.ports["dev"]
    text = (overlay / "dashenv.toml").read_text()
    text = text.replace('project_name = "dashtam"', f'project_name = "{project.prefix}"')
    shipped = {"app": 8000, "callback": 8182, "postgres": 5432, "redis": 6379}
    for svc, port in ports.items():
        text = text.replace(f"{svc}_port = {shipped[svc]}", f"{svc}_port = {port}")
    (overlay / "dashenv.toml").write_text(text)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_dashenv(*args, cwd=overlay)

    try:
        ok(run("init", "dev"))
        ok(run("up", "dev"))
        ok(run("psql", "dev", "-c", "INSERT INTO users (email) VALUES ('dev@overlay')"))
        switched = run("up", "test")
        ok(switched)
        assert "Stopping dev first: test and dev share containers (exclusive)" in switched.stderr
        groups = json.loads(ok(run("ps", "--json")))["environments"]
        assert groups["dev"] == [] and len(groups["test"]) == 4
        db = ok(run("psql", "test", "-tA", "-c", "SELECT current_database()")).strip()
        assert db == "dashtam_test"
        # one compose project, one PostgreSQL, one Redis, the sharing declared on both
        # sides: the reset runs, on the test database and the test index only
        devkey = ("exec", "test", "redis", "--", "redis-cli", "-n", "0")
        ok(run(*devkey, "SET", "oauth:token", "precious"))
        ok(run("redis-cli", "test", "SET", "cache:x", "1"))
        out = ok(run("db", "reset", "test", "--yes"))
        assert "Flushed Redis index 1 (1 keys)" in out
        assert ok(run(*devkey, "GET", "oauth:token")).strip() == "precious"
        # the test environment's index pointed at dev's: the index rule refuses it
        env_test = overlay / ".env.test"
        saved = env_test.read_text()
        env_test.write_text(saved.replace("redis://redis:6379/1", "redis://redis:6379/0"))
        try:
            refused = run("--set", "redis_index=0", "db", "reset", "test", "--yes")
        finally:
            env_test.write_text(saved)
        assert refused.returncode == 3, refused.stderr
        assert "protected environment dev uses index 0 on that server" in refused.stderr
        assert ok(run(*devkey, "GET", "oauth:token")).strip() == "precious"
        switched_back = run("up", "dev")
        ok(switched_back)
        assert "Stopping test first" in switched_back.stderr
        rows = ok(run("psql", "dev", "-tA", "-c", "SELECT email FROM users")).strip()
        assert rows == "dev@overlay"
    finally:
        run("down", "test")
        run("down", "dev", "--volumes", "--yes")


def test_a_failed_build_is_the_builds_failure_not_the_engines(e2e: Project) -> None:
    dockerfile = e2e.root / "compose" / "app" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nRUN echo broken step && exit 3\n")
    for args in (("build", "dev"), ("up", "dev", "--build")):
        result = e2e(*args)
        assert result.returncode == 1, f"{args}: {result.returncode}\n{result.stderr}"
        (first,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
        assert first.startswith("Error: docker compose ") and "the image build failed: " in first
        assert "exit code: 3" in first
        assert "check the Dockerfile" in result.stderr and "Traceback" not in result.stderr
    assert ok(e2e("ps", "dev")).strip() == "dev: no containers"


def test_a_build_streams_its_progress_on_a_terminal_and_not_into_a_pipe(e2e: Project) -> None:
    """On a terminal the build's steps show as they come; in a pipe, nothing of them."""
    import shlex

    dockerfile = e2e.root / "compose" / "app" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nRUN echo streamed-build-step\n")
    piped = e2e("build", "dev")
    assert piped.returncode == 0, piped.stderr
    assert "streamed-build-step" not in piped.stdout + piped.stderr
    dockerfile.write_text(dockerfile.read_text() + "\nRUN echo second-streamed-step\n")
    command = shlex.join([sys.executable, "-m", "dashenv", "build", "dev"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHENV_")}
    env.update(DASHENV_PRELOAD="0", NO_COLOR="1")
    on_a_terminal = subprocess.run(
        ["script", "-qec", command, "/dev/null"], cwd=e2e.root, env=env,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert on_a_terminal.returncode == 0, on_a_terminal.stdout
    assert "second-streamed-step" in on_a_terminal.stdout  # the terminal's output, live


def test_a_missing_external_network_is_named_before_anything_starts(e2e: Project) -> None:
    network = f"{e2e.prefix}-edge"
    (e2e.root / "compose" / "edge.yml").write_text(
        "services:\n  redis:\n    networks: [default, edge]\n"
        f"networks:\n  edge:\n    external: true\n    name: {network}\n"
    )
    files = ("--set", "compose_files=compose/docker-compose.test.yml,compose/edge.yml")
    doctor = e2e(*files, "doctor", "test", "--json")
    found = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert doctor.returncode == 1
    assert found["external networks"]["detail"] == f"external network {network} does not exist"
    assert found["external networks"]["fix"] == f"create it: docker network create {network}"
    up = e2e(*files, "up", "test")
    assert up.returncode == 1
    assert f"Error: cannot start test: external network {network} does not exist" in up.stderr
    assert f"Hint: create it: docker network create {network}" in up.stderr
    assert ok(e2e("ps", "test")).strip() == "test: no containers"  # nothing was started
    subprocess.run(["docker", "network", "create", network], check=True, capture_output=True)
    try:
        doctor = e2e(*files, "doctor", "test", "--json")
        found = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert found["external networks"]["level"] == "pass"
        ok(e2e(*files, "up", "test", "postgres", "redis"))
    finally:
        e2e(*files, "down", "test")
        subprocess.run(["docker", "network", "rm", network], capture_output=True)
