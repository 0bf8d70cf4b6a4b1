"""Pure planning: compose invocations, endpoints, port conflicts. No I/O libraries here."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dashenv.facts import ComposeService, Container
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
    context: str | None = None  # a Docker context (``docker --context NAME``)
    # -p only where dashenv decides the name: the files' own name: otherwise holds
    pass_project: bool = True

    @property
    def files_label(self) -> str:
        """How Compose labels containers with the files they came from."""
        return ",".join(str(f) for f in self.files)

    def argv(self, *args: str) -> list[str]:
        cmd = ["docker", *(["--context", self.context] if self.context else []), "compose"]
        for f in self.files:
            cmd += ["-f", str(f)]
        cmd += ["--env-file", str(self.env_file)]
        if self.pass_project:
            cmd += ["--project-name", self.project_name]
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


def compose_invocation(
    settings: EnvironmentSettings,
    root: Path,
    name: str | None = None,
    context: str | None = None,
    pass_project: bool = True,
) -> ComposeInvocation:
    env_file = (root / settings.env_file).resolve()
    variables = {"DASHENV_ENV_FILE": str(env_file)}
    for field_name, var in PORT_VARIABLES.items():
        port = getattr(settings, field_name)
        if port is not None:
            variables[var] = str(port)
    variables["DASHENV_HOST"] = settings.host
    variables["DASHENV_PROJECT_NAME"] = settings.project_name
    if name is not None:
        variables["DASHENV_ENVIRONMENT"] = name
    variables["DASHENV_MIGRATION_COMMAND"] = settings.migration_command or "true"
    return ComposeInvocation(
        files=tuple((root / f).resolve() for f in settings.compose_files),
        env_file=env_file,
        project_name=settings.project_name,
        profiles=tuple(settings.profiles),
        variables=variables,
        context=context,
        pass_project=pass_project,
    )


@dataclass(frozen=True)
class Endpoints:
    app: str | None
    callback: str | None
    postgres: str | None  # host:port
    redis: str | None  # redis://host:port/index


def endpoints(
    settings: EnvironmentSettings, redis_index: int = 0, proxy_url: str | None = None
) -> Endpoints:
    """Where the environment's published services answer; the app only where it serves
    HTTP (the idle test app has no URL), at its published port or else at the reverse
    proxy's route the compose files declare (``proxy_url``)."""
    host = "localhost" if settings.host in {"127.0.0.1", "0.0.0.0"} else settings.host
    app = f"{settings.app_scheme}://{host}:{settings.app_port}" if settings.app_port else proxy_url
    return Endpoints(
        app=app if settings.app_http else None,
        callback=f"https://{host}:{settings.callback_port}" if settings.callback_port else None,
        postgres=f"{settings.host}:{settings.postgres_port}" if settings.postgres_port else None,
        redis=(
            f"redis://{settings.host}:{settings.redis_port}/{redis_index}"
            if settings.redis_port
            else None
        ),
    )


@dataclass(frozen=True)
class Conflict:
    """Something that would make ``up`` fail or, worse, quietly reach the wrong environment."""

    message: str
    hint: str


def _owner(project: str | None, env_by_project: dict[str, str]) -> str:
    if project is None:
        return "a container outside Compose"
    env = env_by_project.get(project)
    return f"compose project {project}" + (f" (environment {env})" if env else "")


def _fix(project: str | None, container: str, env_by_project: dict[str, str]) -> str:
    env = env_by_project.get(project or "")
    return f"stop it first: dashenv down {env}" if env else f"remove it: docker rm -f {container}"


def find_conflicts(
    project_name: str,
    services: dict[str, ComposeService],
    containers: list[Container],
    ports_in_use: dict[int, bool],
    env_by_project: dict[str, str],
) -> list[Conflict]:
    """Container names and host ports this project needs that someone else holds.

    ``ports_in_use`` maps each published host port to whether binding it failed
    (only probed for ports none of this project's own containers publish).
    """
    conflicts: list[Conflict] = []
    by_name = {c.name: c for c in containers}
    for svc in services.values():
        if not svc.container_name:
            continue
        holder = by_name.get(svc.container_name)
        if holder is not None and holder.project != project_name:
            conflicts.append(
                Conflict(
                    f"container name {svc.container_name} is already used by "
                    f"{_owner(holder.project, env_by_project)}",
                    _fix(holder.project, holder.name, env_by_project),
                )
            )
    publishers: dict[int, Container] = {}
    for c in containers:
        if c.state in ("running", "restarting", "paused"):
            for binding in c.ports:
                publishers.setdefault(binding.host_port, c)
    for svc in services.values():
        for _ip, port, _target in svc.ports:
            holder = publishers.get(port)
            if holder is not None and holder.project == project_name:
                continue  # ours already
            if holder is not None:
                conflicts.append(
                    Conflict(
                        f"host port {port} ({svc.name}) is published by container {holder.name} "
                        f"of {_owner(holder.project, env_by_project)}",
                        f"{_fix(holder.project, holder.name, env_by_project)}, "
                        f"or give this environment another {svc.name} port "
                        f"(--set {svc.name}_port=N or dashenv.toml)",
                    )
                )
            elif ports_in_use.get(port):
                conflicts.append(
                    Conflict(
                        f"host port {port} ({svc.name}) is held by another process",
                        f"find it with 'ss -ltnp sport = :{port}' and stop it, or give this "
                        f"environment another port (--set {svc.name}_port=N)",
                    )
                )
    return conflicts


def unpublished_ports(
    project_name: str, services: dict[str, ComposeService], containers: list[Container]
) -> list[str]:
    """After start: each published port must really map to this project's container."""
    problems = []
    for svc in services.values():
        mine = [c for c in containers if c.project == project_name and c.service == svc.name]
        for _ip, port, target in svc.ports:
            if not any(b.host_port == port for c in mine for b in c.ports):
                problems.append(f"{svc.name}: host port {port} -> {target} is not published")
    return problems


def environment_containers(
    inv: ComposeInvocation, containers: list[Container], shared_project: bool
) -> list[Container]:
    """This environment's containers. When environments share a compose project (the
    overlay layout), the compose files a container was started from tell them apart."""
    mine = [c for c in containers if c.project == inv.project_name]
    if not shared_project:
        return mine
    return [c for c in mine if c.config_files == inv.files_label]


def missing_prerequisites(networks: list[str], volumes: list[str]) -> list[Conflict]:
    """External networks and volumes the compose files need and the engine lacks: Compose
    would fail on them half-way; each comes with the command that creates it."""
    found = [
        Conflict(f"external network {n} does not exist", f"create it: docker network create {n}")
        for n in networks
    ]
    found += [
        Conflict(f"external volume {v} does not exist", f"create it: docker volume create {v}")
        for v in volumes
    ]
    return found


def open_to_all_interfaces(services: dict[str, ComposeService]) -> list[str]:
    """Published ports bound to every interface (reachable from the network)."""
    return [
        f"{svc.name} {port}"
        for svc in services.values()
        for host_ip, port, _target in svc.ports
        if host_ip in ("", "0.0.0.0", "::")
    ]


def started_services(services: dict[str, ComposeService], asked: list[str]) -> list[str]:
    """The services ``docker compose up SERVICE...`` starts: those asked for and everything
    they depend on (all of them when none is asked for), in the files' order."""
    if not asked:
        return list(services)
    wanted: set[str] = set()
    stack = list(asked)
    while stack:
        name = stack.pop()
        if name in wanted or name not in services:
            continue
        wanted.add(name)
        stack += services[name].depends_on
    return [name for name in services if name in wanted]


@dataclass(frozen=True)
class UpRecord:
    """What the last up of one configuration left on record, by service: the configuration
    hash Compose gave each container, and how often each had restarted by then."""

    hashes: dict[str, str]
    restarts: dict[str, int] = field(default_factory=dict)


def why_compose_up(
    project: str,
    files_label: str,
    starts: list[str],
    containers: list[Container],
    recorded: UpRecord | None,
    images: dict[str, str],
) -> str | None:
    """Why ``docker compose up`` has something to do, or None when it has nothing: every
    service it would start has its container of ``project`` from these compose files,
    running and healthy (or without a healthcheck), with the configuration hash Compose gave
    it at the last up of this very configuration (``recorded``), not restarted since (a
    restart loop caught running), and running the image its name stands for now
    (``images``: a rebuilt or pulled image is recreated by Compose)."""
    if recorded is None:
        return "no up of this configuration on record"
    by_service = {c.service: c for c in containers if c.project == project and c.service}
    for name in starts:
        c = by_service.get(name)
        if c is None:
            return f"{name} has no container"
        if not c.ready:
            return f"{name} is {c.health if c.state == 'running' else c.state}"
        if files_label and c.config_files != files_label:
            return f"{name} was started from other compose files"
        if c.config_hash is None or c.config_hash != recorded.hashes.get(name):
            return f"{name}'s configuration changed"
        since = c.restart_count - recorded.restarts.get(name, 0)
        if since > 0:
            return f"{name} has restarted {since} time(s) since"
        if c.image_id is None or images.get(c.image) != c.image_id:
            return f"{name}'s image changed"
    return None


def role_services(settings: EnvironmentSettings) -> dict[str, str]:
    """The service playing each role: app, callback, postgres, redis."""
    return {
        "app": settings.app_service,
        "callback": settings.callback_service,
        "postgres": settings.postgres_service,
        "redis": settings.redis_service,
    }


def url_role(settings: EnvironmentSettings, service: str) -> str | None:
    """The role a service name plays (its role's name works too), or None."""
    roles = role_services(settings)
    if service in roles:
        return service
    return {name: role for role, name in roles.items()}.get(service)
