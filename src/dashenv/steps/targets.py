"""What several workflows share: an environment bound to its compose project (``Target``),
each environment's containers, the owners of names and ports, and progress reporting.

lifecycle, status, doctor, testing and ci all build on this module; none of them imports
another workflow's internals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from shlex import join as shlex_join
from typing import TYPE_CHECKING, Protocol

from dashenv.errors import ConfigError, DashenvError, OperationFailed
from dashenv.plan.compose import compose_invocation, environment_containers, find_conflicts

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.context import RunContext
    from dashenv.facts import ComposeModel, ComposeService, Container
    from dashenv.plan.compose import Conflict
    from dashenv.settings.model import EnvironmentSettings
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


@dataclass
class Target:
    """One environment, resolved, with a Docker adapter bound to its compose project."""

    env: ResolvedEnvironment
    docker: Docker

    @property
    def name(self) -> str:
        return self.env.name

    def compose_model(self) -> ComposeModel:
        """The resolved compose model: the files layer's (cached by the files' content), or
        asked of Compose now where that layer could not (Compose's error then surfaces)."""
        if self.env.files is not None:
            return self.env.files.model
        return self.docker.compose_model()

    @property
    def settings(self) -> EnvironmentSettings:
        return self.env.settings

    @property
    def project_name(self) -> str:
        return self.env.settings.project_name


def require_compose_files(env: ResolvedEnvironment) -> None:
    """A compose file that does not exist is a configuration error (exit 2), named with the
    layer that configured it, before Compose is asked anything."""
    for relative in env.settings.compose_files:
        if not env.path(relative).is_file():
            raise env.missing_path(
                "compose_files",
                relative,
                "create it, or point compose_files at the environment's compose files",
                what="compose file",
            )


def write_generated(env: ResolvedEnvironment) -> None:
    """Write the compose files dashenv generates for ``env`` (an instance's override), where
    they are missing or differ: the Compose line about to run (or be printed) names them."""
    for relative, text in env.generated.items():
        path = env.project.root / relative
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if env.generated:
        ignore_itself(env.project.root / ".dashenv")


def ignore_itself(directory: Path) -> None:
    """``.dashenv/`` keeps itself out of git (its own .gitignore), so what dashenv writes there
    never shows in the project's status."""
    marker = directory / ".gitignore"
    if not marker.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        marker.write_text("# written by dashenv: nothing here belongs in version control\n*\n")


def _bind(ctx: RunContext, env: ResolvedEnvironment, lenient: bool = False) -> Target:
    from dashenv.adapters.docker import Docker

    write_generated(env)
    require_compose_files(env)
    inv = compose_invocation(
        env.settings,
        env.project.root,
        env.name,
        ctx.context or env.settings.context,
        pass_project=env.files.pass_project if env.files else True,
    )
    if lenient and not inv.env_file.is_file():
        # compose insists on the env files existing; an empty one keeps 'down' and 'logs' working
        empty = Path("/dev/null")
        inv = replace(
            inv, env_file=empty, variables={**inv.variables, "DASHENV_ENV_FILE": str(empty)}
        )
    return Target(env, Docker(inv, verbose=ctx.verbose))


def target(ctx: RunContext, name: str, extra: dict[str, str] | None = None) -> Target:
    return _bind(ctx, ctx.env(name, extra))


def target_lenient(ctx: RunContext, name: str) -> Target:
    """Like ``target``, but a missing env file does not stop a teardown."""
    return _bind(ctx, ctx.env_lenient(name)[0], lenient=True)


def env_by_project(ctx: RunContext) -> dict[str, str]:
    """Compose project name -> environment name, for naming the owner of a conflict."""
    found: dict[str, str] = {}
    for name in ctx.environment_names():
        try:
            found.setdefault(ctx.env(name, read_env=False).settings.project_name, name)
        except DashenvError:
            continue
    return found


def containers_by_environment(
    ctx: RunContext, names: list[str], listings: dict[str | None, list[Container]]
) -> dict[str, list[Container]]:
    """Each environment's containers (ps, status, doctor), from the listing of the engine it
    runs on. Environments sharing a compose project are told apart by the compose files
    their containers were started from."""
    project = ctx.project()
    envs = {n: ctx.env(n, read_env=False) for n in ctx.environment_names()}
    every = {n: e.settings for n, e in envs.items()}
    result = {}
    for name in names:
        s = every[name]
        shared = any(o.project_name == s.project_name for n, o in every.items() if n != name)
        files = envs[name].files
        inv = compose_invocation(
            s, project.root, name, pass_project=files.pass_project if files else True
        )
        result[name] = environment_containers(inv, listings.get(ctx.engine_of(name), []), shared)
    return result


def list_engines(
    ctx: RunContext, names: list[str]
) -> tuple[dict[str | None, list[Container]], dict[str | None, DashenvError]]:
    """Every container of each engine the environments run on: one listing per engine, not
    per environment, the engines asked at the same time. Unreachable engines are returned
    with their error."""
    from concurrent.futures import ThreadPoolExecutor

    engines = list(dict.fromkeys(ctx.engine_of(n) for n in names)) or [ctx.context]
    listings: dict[str | None, list[Container]] = {}
    errors: dict[str | None, DashenvError] = {}
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        futures = {e: pool.submit(ctx.docker(e).all_containers) for e in engines}
        for engine, future in futures.items():
            try:
                listings[engine] = future.result()
            except DashenvError as exc:
                listings[engine], errors[engine] = [], exc
    return listings, errors


def environment_conflicts(
    ctx: RunContext,
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
    ctx: RunContext,
    name: str,
    service: str,
    command: list[str],
    tty: bool,
    *,
    user: str | None = None,
) -> int:
    t = target(ctx, name)
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


def host_dir(env: ResolvedEnvironment) -> Path:
    """Where commands run on the host: the app's directory (``host_dir``); a setting that
    names no directory is exit 2, with the layer that set it."""
    path = env.path(env.settings.host_dir)
    if not path.is_dir():
        raise env.missing_path("host_dir", env.settings.host_dir, "point host_dir at the app's "
                               "directory, relative to the project", what="directory")  # fmt: skip
    return path


def host_environment(ctx: RunContext, name: str, database: str | None = None) -> dict[str, str]:
    """What a command run on the host needs: the env file's values, with the connection
    settings as seen from the host (pointed at ``database`` when given), and (on a test side)
    every value still holding a protected environment's coordinates pointed at this one's own
    servers."""
    from dashenv.steps.isolation import for_host

    env = ctx.env(name)
    return for_host(ctx, env, host_variables(env, database), database)


def handed_on_host(ctx: RunContext, env: ResolvedEnvironment) -> list[tuple[str, str, str]]:
    """What ``dashenv env``/``run`` and the host runner hand a process on the host in place of
    the env file's values: (variable, the file's value, the value handed over), and for a value
    that still reaches a protected environment (``env`` has not leased its ports yet) what
    is refused instead."""
    from dashenv.plan import isolation
    from dashenv.steps.isolation import for_host, host_sides, protected

    given = {k: e.value for k, e in env.app.entries.items() if not k.startswith("DASHENV_")}
    handed = for_host(ctx, env, host_variables(env))
    rows = [(k, given[k], v) for k, v in handed.items() if k in given and given[k] != v]
    leased = "" if env.settings.postgres_port else f" until 'dashenv up {env.name}' leases ports"
    for dev in protected(ctx, env):
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


def run_on_host(ctx: RunContext, env: ResolvedEnvironment, command: list[str]) -> int:
    """Run ``command`` on the host, in the app's directory, with ``env``'s connection
    settings exported under the names the app reads; its exit code. A test side's final
    variables (the shell's included) are checked first: none may reach a protected
    environment's servers."""
    import subprocess

    from dashenv.errors import ExitCode
    from dashenv.steps.isolation import check_host

    final = {**os.environ, **host_environment(ctx, env.name)}
    check_host(ctx, env, final, f"'{shlex_join(command)}'")
    try:
        return subprocess.call(command, env=final, cwd=host_dir(env))
    except FileNotFoundError:
        raise OperationFailed(
            f"{command[0]}: command not found", hint="check the command after --"
        ) from None
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
