from __future__ import annotations

from pathlib import Path

from dashenv.facts import Container
from dashenv.plan.compose import PORT_VARIABLES, compose_invocation, endpoints
from dashenv.settings.model import EnvironmentSettings
from dashenv.settings.project import BUILTIN_ENVIRONMENTS

ROOT = Path("/p")


def builtin(name: str, **changes) -> EnvironmentSettings:
    return EnvironmentSettings(**{**BUILTIN_ENVIRONMENTS[name], **changes})


def test_dev_invocation() -> None:
    inv = compose_invocation(builtin("dev"), ROOT)
    assert inv.argv("up", "-d") == [
        "docker",
        "compose",
        "-f",
        "/p/compose/docker-compose.dev.yml",
        "--env-file",
        "/p/env/.env.dev",
        "--project-name",
        "dashtam-dev",
        "up",
        "-d",
    ]
    assert inv.variables["DASHENV_APP_PORT"] == "8000"
    assert inv.variables["DASHENV_POSTGRES_PORT"] == "5432"


def test_test_invocation_has_own_project_and_ports() -> None:
    inv = compose_invocation(builtin("test"), ROOT)
    assert inv.project_name == "dashtam-test"
    assert inv.files == (Path("/p/compose/docker-compose.test.yml"),)
    assert inv.variables["DASHENV_REDIS_PORT"] == "6380"


def test_ci_publishes_nothing() -> None:
    inv = compose_invocation(builtin("ci"), ROOT)
    assert not any(k.endswith("_PORT") for k in inv.variables)
    assert endpoints(builtin("ci")).app is None


def test_overlay_invocation_and_profiles() -> None:
    s = EnvironmentSettings(
        compose_files=["docker-compose.yml", "docker-compose.test.yml"],
        env_file=".env.test",
        project_name="dashtam",
        profiles=["tools"],
    )
    argv = compose_invocation(s, ROOT).argv("ps")
    assert argv[2:6] == ["-f", "/p/docker-compose.yml", "-f", "/p/docker-compose.test.yml"]
    assert argv[-3:] == ["--profile", "tools", "ps"]


def test_shell_line_is_relative_and_quoted() -> None:
    line = compose_invocation(builtin("dev"), ROOT).shell("up", relative_to=ROOT)
    assert "-f compose/docker-compose.dev.yml --env-file env/.env.dev" in line
    assert "DASHENV_MIGRATION_COMMAND='alembic upgrade head'" in line


def test_endpoints() -> None:
    e = endpoints(builtin("test"), redis_index=1)
    assert e.app is None  # the test app idles: it has no URL, whatever its port
    assert e.callback == "https://localhost:8183"
    assert e.postgres == "127.0.0.1:5433"
    assert e.redis == "redis://127.0.0.1:6380/1"
    assert endpoints(builtin("dev")).app == "https://localhost:8000"


def test_compose_line_names_the_context() -> None:
    inv = compose_invocation(builtin("test"), ROOT, "test", "sandbox-remote")
    assert inv.argv("ps")[:4] == ["docker", "--context", "sandbox-remote", "compose"]
    assert (
        inv.shell("ps", relative_to=ROOT)
        .split(" docker ")[1]
        .startswith("--context sandbox-remote compose -f compose/docker-compose.test.yml")
    )


def _svc(name: str, container: str, port: int):
    from dashenv.facts import ComposeService

    return ComposeService(name, container, [("127.0.0.1", port, 1)])


def _container(name: str, project: str | None, port: int | None, state: str = "running"):
    from dashenv.facts import Container, PortBinding

    ports = (PortBinding("127.0.0.1", port, "1/tcp"),) if port else ()
    return Container(name, name, project, "svc", state, None, ports)


def test_port_held_by_a_process_is_a_conflict() -> None:
    from dashenv.plan.compose import find_conflicts

    (c,) = find_conflicts("p", {"db": _svc("db", "p-db", 5433)}, [], {5433: True}, {})
    assert c.message == "host port 5433 (db) is held by another process"
    assert "ss -ltnp" in c.hint


def test_stopped_containers_hold_names_but_not_ports() -> None:
    from dashenv.plan.compose import find_conflicts

    stopped = _container("p-db", "other", 5433, state="exited")
    (c,) = find_conflicts("p", {"db": _svc("db", "p-db", 5433)}, [stopped], {5433: False}, {})
    assert c.message == "container name p-db is already used by compose project other"
    assert c.hint == "remove it: docker rm -f p-db"


def test_shared_project_containers_told_apart_by_files() -> None:
    from dataclasses import replace

    from dashenv.plan.compose import environment_containers

    dev_inv = compose_invocation(builtin("dev", project_name="dashtam"), ROOT)
    files = ",".join(str(f) for f in dev_inv.files)
    mine = replace(_container("a", "dashtam", None), config_files=files)
    theirs = replace(_container("b", "dashtam", None), config_files=files + ",/p/overlay.yml")
    assert environment_containers(dev_inv, [mine, theirs], shared_project=True) == [mine]
    assert environment_containers(dev_inv, [mine, theirs], shared_project=False) == [mine, theirs]


def test_prerequisites_and_interfaces() -> None:
    from dashenv.adapters.docker import parse_compose_model
    from dashenv.plan.compose import missing_prerequisites, open_to_all_interfaces
    from dashenv.workflows.doctor import speed_flags_check

    model = parse_compose_model(
        {
            "services": {
                "app": {"ports": [{"host_ip": "0.0.0.0", "published": "8000", "target": 8000}]},
                "db": {"ports": [{"host_ip": "127.0.0.1", "published": "5432", "target": 5432}]},
            },
            "networks": {"default": {}, "edge": {"external": True, "name": "traefik-public"}},
            "volumes": {"data": {}, "shared": {"external": True}},
        }
    )
    assert model.external_networks == ["traefik-public"]
    assert model.external_volumes == ["shared"]
    found = missing_prerequisites(["traefik-public"], ["shared"])
    assert [(c.message, c.hint) for c in found] == [
        ("external network traefik-public does not exist",
         "create it: docker network create traefik-public"),
        ("external volume shared does not exist", "create it: docker volume create shared"),
    ]  # fmt: skip
    assert open_to_all_interfaces(model.services) == ["app 8000"]
    slow = speed_flags_check("test", {"fsync": "on", "full_page_writes": "off"})
    assert slow.level == "warn" and "fsync on" in slow.detail
    assert '"-c", "fsync=off"' in slow.fix
    assert speed_flags_check("test", {"fsync": "off", "full_page_writes": "off"}).level == "pass"


def test_builtins_publish_distinct_host_ports() -> None:
    """dev and test run side by side: no host port of one is another's."""
    taken: dict[int, str] = {}
    for name in BUILTIN_ENVIRONMENTS:
        s = builtin(name)
        for key in PORT_VARIABLES:
            port = getattr(s, key)
            if port is not None:
                assert port not in taken, f"{name}.{key} = {port} is {taken[port]}'s too"
                taken[port] = f"{name}.{key}"


def test_up_of_some_services_starts_them_and_what_they_depend_on() -> None:
    from dashenv.facts import ComposeService
    from dashenv.plan.compose import started_services

    services = {
        "app": ComposeService("app", None, depends_on=["postgres", "redis"]),
        "callback": ComposeService("callback", None, depends_on=["app"]),
        "postgres": ComposeService("postgres", None),
        "redis": ComposeService("redis", None),
    }
    assert started_services(services, []) == ["app", "callback", "postgres", "redis"]
    assert started_services(services, ["postgres"]) == ["postgres"]
    assert started_services(services, ["callback"]) == ["app", "callback", "postgres", "redis"]
    assert started_services(services, ["app"]) == ["app", "postgres", "redis"]


def test_a_one_shot_job_is_done_once_it_exits_with_0() -> None:
    from dashenv.facts import Container
    from dashenv.plan.readiness import Readiness

    def job(code: int) -> Container:
        return Container("1", "p-prestart-1", "p", "prestart", "exited", None, exit_code=code)

    def wait(one_shot: frozenset[str] = frozenset()) -> Readiness:
        return Readiness("p", ["prestart", "app"], one_shot)

    app = Container("2", "p-app-1", "p", "app", "running", "healthy")
    assert wait(frozenset({"prestart"})).step([job(0), app], 0.0).done
    failed = wait(frozenset({"prestart"})).step([job(1), app], 0.0)
    assert failed.failed == {"prestart": "exited with code 1"}
    # a service nobody waits for that exits is a failure, whatever its code
    assert list(wait().step([job(0), app], 0.0).failed) == ["prestart"]


def test_compose_up_is_skipped_only_when_every_started_service_runs_as_compose_would_start_it() -> (
    None
):
    from dashenv.plan.compose import UpRecord, why_compose_up

    def c(service: str, **kw: object) -> Container:
        base: dict[str, object] = dict(
            id=service, name=f"p-{service}", project="p", service=service, state="running",
            health="healthy", config_files="a.yml", image=f"{service}:1",
            config_hash=f"h-{service}", image_id=f"sha256:{service}",
        )  # fmt: skip
        base.update(kw)
        return Container(**base)  # type: ignore[arg-type]

    starts = ["db", "app"]
    hashes = UpRecord({"db": "h-db", "app": "h-app"}, {"app": 1})
    images = {"db:1": "sha256:db", "app:1": "sha256:app"}
    both = [c("db"), c("app"), c("other", project="q")]
    assert why_compose_up("p", "a.yml", starts, both, hashes, images) is None
    assert why_compose_up("p", "a.yml", ["db"], [c("db")], hashes, images) is None
    assert why_compose_up("p", "a.yml", starts, both, None, images) == (
        "no up of this configuration on record"
    )
    cases = {
        "app has no container": [c("db")],
        "app is starting": [c("db"), c("app", health="starting")],
        "app is exited": [c("db"), c("app", state="exited", health=None)],
        "app was started from other compose files": [c("db"), c("app", config_files="b.yml")],
        "app's configuration changed": [c("db"), c("app", config_hash="old")],
        "app's image changed": [c("db"), c("app", image_id="sha256:before")],
        # a restart loop caught running, where nothing else tells it
        "app has restarted 2 time(s) since": [c("db"), c("app", health=None, restart_count=3)],
        "db has restarted 1 time(s) since": [c("db", restart_count=1), c("app")],
    }
    for reason, containers in cases.items():
        assert why_compose_up("p", "a.yml", starts, containers, hashes, images) == reason
    ready = [c("db"), c("app", health=None, restart_count=1)]  # as many restarts as recorded
    assert why_compose_up("p", "a.yml", starts, ready, hashes, images) is None  # no healthcheck
