"""What several workflows share: each environment's containers, the owners of names and
ports, exec in a service, what a process on the host is handed, and progress reporting.

lifecycle, status, doctor, testing and ci all build on this module; none of them imports
another workflow's internals.
"""

from __future__ import annotations

import os
from pathlib import Path
from shlex import join as shlex_join
from typing import TYPE_CHECKING, Protocol

from dashenv.errors import ConfigError, DashenvError, OperationFailed
from dashenv.plan.compose import compose_invocation, environment_containers, find_conflicts

if TYPE_CHECKING:
    from dashenv.context import Environment, RunContext
    from dashenv.facts import ComposeService, Container
    from dashenv.plan.compose import ComposeInvocation, Conflict
    from dashenv.settings.sources import ResolvedEnvironment


class Reporter(Protocol):
    def say(self, message: str) -> None: ...

    def progress(
        self, containers: list[Container], expected: list[str], elapsed: float
    ) -> None: ...

    def close(self) -> None:
        """End the live display (output that follows stands below it)."""


class Quiet:
    def say(self, message: str) -> None:
        pass

    def progress(self, containers: list[Container], expected: list[str], elapsed: float) -> None:
        pass

    def close(self) -> None:
        pass


def env_by_project(ctx: RunContext) -> dict[str, str]:
    """Compose project name -> environment name, for naming the owner of a conflict."""
    found: dict[str, str] = {}
    for e in ctx.environments():
        try:
            found.setdefault(e.bare.settings.project_name, e.name)
        except DashenvError:
            continue
    return found


def _invocations(ctx: RunContext, names: list[str]) -> dict[str, tuple[ComposeInvocation, bool]]:
    """Each environment's compose invocation, and whether another environment shares its
    compose project."""
    project = ctx.project()
    envs = {e.name: e for e in ctx.environments()}
    every = {n: e.bare.settings for n, e in envs.items()}
    result = {}
    for name in names:
        s = every[name]
        shared = any(o.project_name == s.project_name for n, o in every.items() if n != name)
        files = envs[name].bare.files
        inv = compose_invocation(
            s, project.root, name, pass_project=files.pass_project if files else True
        )
        result[name] = (inv, shared)
    return result


def compose_projects(ctx: RunContext, names: list[str]) -> frozenset[str]:
    """The compose projects these environments run as (their containers' project label)."""
    return frozenset(inv.project_name for inv, _ in _invocations(ctx, names).values())


def containers_by_environment(
    ctx: RunContext, names: list[str], listings: dict[str | None, list[Container]]
) -> dict[str, list[Container]]:
    """Each environment's containers (ps, status, doctor), from the listing of the engine it
    runs on. Environments sharing a compose project are told apart by the compose files
    their containers were started from."""
    return {
        name: environment_containers(inv, listings.get(ctx.environment(name).context, []), shared)
        for name, (inv, shared) in _invocations(ctx, names).items()
    }


def list_engines(
    ctx: RunContext, names: list[str], projects: frozenset[str] | None = None
) -> tuple[dict[str | None, list[Container]], dict[str | None, DashenvError]]:
    """Every container of each engine the environments run on (with ``projects``, those of
    these compose projects only): one listing per engine, not per environment, the engines
    asked at the same time. Unreachable engines are returned with their error."""
    from concurrent.futures import ThreadPoolExecutor

    engines = list(dict.fromkeys(ctx.environment(n).context for n in names)) or [ctx.context]
    listings: dict[str | None, list[Container]] = {}
    errors: dict[str | None, DashenvError] = {}
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        futures = {e: pool.submit(ctx.docker(e).all_containers, projects) for e in engines}
        for engine, future in futures.items():
            try:
                listings[engine] = future.result()
            except DashenvError as exc:
                listings[engine], errors[engine] = [], exc
    return listings, errors


def environment_conflicts(
    project_name: str,
    services: dict[str, ComposeService],
    containers: list[Container],
    owners: dict[str, str],
    context: str | None,
) -> list[Conflict]:
    """Names and host ports this project needs that someone else holds (up and doctor), on
    the engine ``context`` names (None: the default one)."""
    from dashenv.adapters.host import port_in_use

    own_ports = {b.host_port for c in containers if c.project == project_name for b in c.ports}
    # a remote engine's ports are not this machine's: its own listing (the containers
    # publishing them) is what counts there
    remote = bool(context) or bool(os.environ.get("DOCKER_HOST"))
    probes = {}
    if not remote:
        for svc in services.values():
            for host_ip, port, _ in svc.ports:
                if port not in own_ports:
                    probes[port] = port_in_use(host_ip, port)
    return find_conflicts(project_name, services, containers, probes, owners)


def exec_in(
    t: Environment, service: str, command: list[str], tty: bool, *, user: str | None = None
) -> int:
    name = t.name
    t.docker.ping()
    services = t.compose_model().services
    if service not in services:
        raise ConfigError(
            f"{name} has no service {service!r}", hint=f"services: {', '.join(services)}"
        )
    running = {c.service for c in t.docker.project_containers() if c.state == "running"}
    if service not in running:
        raise OperationFailed(
            f"{service} is not running in {name}", hint=f"start it with 'dashenv up {name}'"
        )
    flags = ([] if tty else ["-T"]) + (["--user", user] if user else [])
    return t.docker.run_attached(t.docker.compose_argv("exec", *flags, service, *command))


def where_app_runs(
    t: Environment, command: list[str], tty: bool, *, user: str | None = None
) -> int:
    """``command`` where the environment's app runs: on the host in its directory, with the
    variables the app reads there (``test_runner = "host"``), else in its app container."""
    if t.settings.test_runner == "host":
        return run_on_host(t, command)
    return exec_in(t, t.settings.app_service, command, tty, user=user)


def host_dir(env: ResolvedEnvironment) -> Path:
    """Where commands run on the host: the app's directory (``host_dir``); a setting that
    names no directory is exit 2, with the layer that set it."""
    path = env.path(env.settings.host_dir)
    if not path.is_dir():
        raise env.missing_path("host_dir", env.settings.host_dir, "point host_dir at the app's "
                               "directory, relative to the project", what="directory")  # fmt: skip
    return path


def host_environment(t: Environment, database: str | None = None) -> dict[str, str]:
    """What a command run on the host needs: the env file's values, with the connection
    settings as seen from the host (pointed at ``database`` when given), and (on a test side)
    every value still holding a protected environment's coordinates pointed at this one's own
    servers."""
    from dashenv.steps.isolation import for_host

    return for_host(t, host_variables(t.env, database), database)


def handed_on_host(t: Environment) -> list[tuple[str, str, str]]:
    """What ``dashenv env``/``run`` and the host runner hand a process on the host in place of
    the env file's values: (variable, the file's value, the value handed over), and for a value
    that still reaches a protected environment (``env`` has not leased its ports yet) what
    is refused instead."""
    from dashenv.plan import isolation
    from dashenv.steps.isolation import host_sides, protected

    env = t.env
    given = {k: e.value for k, e in env.app.entries.items() if not k.startswith("DASHENV_")}
    handed = host_environment(t)
    rows = [(k, given[k], v) for k, v in handed.items() if k in given and given[k] != v]
    leased = "" if env.settings.postgres_port else f" until 'dashenv up {env.name}' leases ports"
    for dev in protected(t):
        for leak in isolation.leaks(handed, *host_sides(env, dev), "host"):
            refused = f"(refused{leased}: it reaches {dev.name}'s data)"
            rows.append((leak.key, given.get(leak.key, leak.value), refused))
    return rows


def host_variables(env: ResolvedEnvironment, database: str | None = None) -> dict[str, str]:
    """``env``'s settings as a process on the host sees them: the env file's values, every
    variable the app reads its database from (a URL, or host, port and name apart, found by
    value) pointed at the published port (and at ``database`` when given), REDIS_URL at the
    published Redis."""
    from urllib.parse import urlsplit, urlunsplit

    from dashenv.plan.derive import connection_keys

    s = env.settings
    app = env.app
    values = {k: e.value for k, e in app.entries.items() if not k.startswith("DASHENV_")}
    db = app.database()
    if db is not None and s.postgres_port:
        name = database or db.database
        hosts = {s.postgres_service, "localhost", "127.0.0.1", db.host or ""}
        for c in connection_keys(values, db.database, hosts):
            value = values[c.key]
            if c.kind == "url":
                parts = urlsplit(value)
                auth = parts.netloc.rpartition("@")[0]
                netloc = f"{s.host}:{s.postgres_port}"
                values[c.key] = urlunsplit(
                    parts._replace(netloc=f"{auth}@{netloc}" if auth else netloc, path="/" + name)
                )
            elif c.kind == "host":
                values[c.key] = s.host
            elif c.kind == "port":
                values[c.key] = str(s.postgres_port)
            elif c.kind == "name":
                values[c.key] = name
    if s.redis_port:
        values["REDIS_URL"] = f"redis://{s.host}:{s.redis_port}/{env.redis_index}"
    return values


def run_on_host(t: Environment, command: list[str]) -> int:
    """Run ``command`` on the host, in the app's directory, with ``env``'s connection
    settings exported under the names the app reads; its exit code. A test side's final
    variables (the shell's included) are checked first: none may reach a protected
    environment's servers."""
    import subprocess

    from dashenv.errors import ExitCode
    from dashenv.steps.isolation import check_host

    final = {**os.environ, **host_environment(t)}
    check_host(t, final, f"'{shlex_join(command)}'")
    try:
        return subprocess.call(command, env=final, cwd=host_dir(t.env))
    except FileNotFoundError:
        raise OperationFailed(
            f"{command[0]}: command not found", hint="check the command after --"
        ) from None
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
