"""Pure planning: compose invocations, endpoints, port conflicts. No I/O libraries here."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dashenv.settings.model import EnvironmentSettings

# Variables the shipped compose files interpolate; dashenv passes the resolved values.
PORT_VARIABLES = {
    "app_port": "DASHENV_APP_PORT",
    "callback_port": "DASHENV_CALLBACK_PORT",
    "postgres_port": "DASHENV_POSTGRES_PORT",
    "redis_port": "DASHENV_REDIS_PORT",
}


@dataclass(frozen=True)
class ComposeInvocation:
    """Everything that selects one environment's compose project."""

    files: tuple[Path, ...]
    env_file: Path
    project_name: str
    profiles: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)

    def argv(self, *args: str) -> list[str]:
        cmd = ["docker", "compose"]
        for f in self.files:
            cmd += ["-f", str(f)]
        cmd += ["--env-file", str(self.env_file), "--project-name", self.project_name]
        for p in self.profiles:
            cmd += ["--profile", p]
        return cmd + list(args)

    def shell(self, *args: str, relative_to: Path | None = None) -> str:
        """The command line as a user would type it, interpolation variables first."""

        def rel(arg: str) -> str:
            if relative_to is not None and arg.startswith(str(relative_to) + "/"):
                return arg[len(str(relative_to)) + 1 :]
            return arg

        env = [f"{k}={shlex.quote(v)}" for k, v in sorted(self.variables.items())]
        return " ".join(env + [shlex.quote(rel(a)) for a in self.argv(*args)])


def compose_invocation(settings: EnvironmentSettings, root: Path) -> ComposeInvocation:
    env_file = (root / settings.env_file).resolve()
    variables = {"DASHENV_ENV_FILE": str(env_file)}
    for name, var in PORT_VARIABLES.items():
        port = getattr(settings, name)
        if port is not None:
            variables[var] = str(port)
    variables["DASHENV_HOST"] = settings.host
    variables["DASHENV_MIGRATION_COMMAND"] = settings.migration_command
    return ComposeInvocation(
        files=tuple((root / f).resolve() for f in settings.compose_files),
        env_file=env_file,
        project_name=settings.project_name,
        profiles=tuple(settings.profiles),
        variables=variables,
    )


@dataclass(frozen=True)
class Endpoints:
    app: str | None
    callback: str | None
    postgres: str | None  # host:port
    redis: str | None  # redis://host:port/index


def endpoints(settings: EnvironmentSettings) -> Endpoints:
    host = "localhost" if settings.host in {"127.0.0.1", "0.0.0.0"} else settings.host
    return Endpoints(
        app=f"https://{host}:{settings.app_port}" if settings.app_port else None,
        callback=f"https://{host}:{settings.callback_port}" if settings.callback_port else None,
        postgres=f"{settings.host}:{settings.postgres_port}" if settings.postgres_port else None,
        redis=(
            f"redis://{settings.host}:{settings.redis_port}/{settings.redis_index}"
            if settings.redis_port
            else None
        ),
    )


@dataclass(frozen=True)
class PortClash:
    port: int
    service: str
    other_env: str
    other_service: str


def port_clashes(
    name: str, settings: EnvironmentSettings, others: dict[str, EnvironmentSettings]
) -> list[PortClash]:
    """Host ports this environment shares with another, non-exclusive, environment."""
    mine = settings.published_ports()
    clashes = []
    for other_name, other in others.items():
        if other_name == name or other_name in settings.exclusive_with:
            continue
        if name in other.exclusive_with or other.project_name == settings.project_name:
            continue
        theirs = {port: svc for svc, port in other.published_ports().items()}
        for svc, port in mine.items():
            if port in theirs:
                clashes.append(PortClash(port, svc, other_name, theirs[port]))
    return clashes
