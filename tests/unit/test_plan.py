from __future__ import annotations

from pathlib import Path

from dashenv.plan import compose_invocation, endpoints, port_clashes
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
    assert "DASHENV_MIGRATION_COMMAND='python -m dashtam_app.migrate'" in line


def test_endpoints() -> None:
    e = endpoints(builtin("test"))
    assert e.app == "https://localhost:8001"
    assert e.postgres == "127.0.0.1:5433"
    assert e.redis == "redis://127.0.0.1:6380/1"


def test_builtins_do_not_clash() -> None:
    envs = {n: builtin(n) for n in BUILTIN_ENVIRONMENTS}
    for name, s in envs.items():
        assert port_clashes(name, s, envs) == []


def test_clash_found() -> None:
    envs = {"dev": builtin("dev"), "test": builtin("test", postgres_port=5432)}
    (clash,) = port_clashes("test", envs["test"], envs)
    assert (clash.port, clash.other_env, clash.other_service) == (5432, "dev", "postgres")


def test_exclusive_environments_may_share_ports() -> None:
    envs = {"dev": builtin("dev"), "test": builtin("test", app_port=8000, exclusive_with=["dev"])}
    assert port_clashes("test", envs["test"], envs) == []
