"""Parsing Docker's own JSON, against outputs captured from a real engine (tests/fixtures;
engine and Compose versions in tests/fixtures/VERSIONS)."""

from __future__ import annotations

import json

from dashenv.adapters.docker import classify, parse_compose_config, parse_inspect
from dashenv.errors import OperationFailed, Unreachable
from dashenv.plan.compose import find_conflicts, unpublished_ports
from dashenv.plan.readiness import Readiness
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_inspect_of_running_healthy_containers() -> None:
    app, pg = parse_inspect(load("docker-inspect-test-env.json"))
    assert (app.name, app.project, app.service) == ("dashtam-test-app", "dashtam-test", "app")
    assert app.state == "running" and app.health == "healthy" and app.ready
    assert pg.ports[0].host_ip == "127.0.0.1" and pg.ports[0].host_port == 5433
    assert pg.ports[0].container_port == "5432/tcp"
    assert pg.config_files == "/project/compose/docker-compose.test.yml"
    assert pg.started_at and not pg.started_at.startswith("0001")


def test_inspect_of_an_exited_container_without_compose() -> None:
    (c,) = parse_inspect(load("docker-inspect-exited.json"))
    assert c.state == "exited" and c.health is None and c.project is None
    assert c.ports == () and not c.ready


def test_compose_config() -> None:
    services = parse_compose_config(load("compose-config-test.json"))
    assert set(services) == {"app", "callback", "postgres", "redis"}
    pg = services["postgres"]
    assert pg.container_name == "dashtam-test-postgres"
    assert pg.ports == [("127.0.0.1", 5433, 5432)]
    assert pg.has_healthcheck and not pg.has_build
    assert services["app"].has_build and services["app"].image == "dashtam-app:local"


def test_planning_over_captured_state() -> None:
    services = parse_compose_config(load("compose-config-test.json"))
    containers = parse_inspect(load("docker-inspect-test-env.json"))
    # our own containers hold our names and ports: no conflict
    assert find_conflicts("dashtam-test", services, containers, {}, {}) == []
    # another project wanting the same names and ports is told who holds them
    conflicts = find_conflicts("other", services, containers, {}, {"dashtam-test": "test"})
    messages = [c.message for c in conflicts]
    assert (
        "container name dashtam-test-app is already used by compose project dashtam-test "
        "(environment test)" in messages
    )
    assert any(
        m.startswith("host port 5433 (postgres) is published by container dashtam-test-postgres")
        for m in messages
    )
    progress = Readiness("dashtam-test", ["app", "postgres", "redis"]).step(containers, 0.0)
    assert progress.pending == ["redis"] and not progress.done
    missing = unpublished_ports("dashtam-test", services, containers)
    assert "redis: host port 6380 -> 6379 is not published" in missing


def stderr(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_classify_engine_down_and_unknown_context() -> None:
    for name in ("stderr-engine-down.txt", "stderr-context-not-found.txt"):
        err = classify("listing containers", 1, stderr(name), " (context nope)")
        assert isinstance(err, Unreachable) and err.exit_code == 4
        assert err.message.startswith("cannot reach the Docker engine (context nope): ")
        assert err.hint and "start Docker" in err.hint


def test_classify_a_failed_build_as_a_failure_not_the_engine() -> None:
    # a build whose base image cannot be pulled says "no such host": the engine answered
    for name in ("stderr-compose-build-failed.txt", "stderr-compose-build-pull-failed.txt"):
        err = classify("docker compose build", 17, stderr(name))
        assert isinstance(err, OperationFailed) and err.exit_code == 1
        assert err.message.startswith("docker compose build failed: the image build failed: ")
        assert "failed to solve" in err.message
        assert err.hint and "check the Dockerfile" in err.hint


def test_classify_anything_else_keeps_dockers_reason() -> None:
    err = classify("docker compose config", 1, 'x\nservice "app" refers to undefined volume\n')
    assert isinstance(err, OperationFailed) and err.hint is None
    assert err.message == 'docker compose config failed: service "app" refers to undefined volume'
