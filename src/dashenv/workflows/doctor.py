"""dashenv doctor: the seed's troubleshooting, automated. Each check passes, warns or fails,
and says how to fix it."""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dashenv.errors import DashenvError
from dashenv.guards import RESET_ROLES

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.context import Environment, RunContext
    from dashenv.facts import ComposeModel, Container

Level = Literal["pass", "warn", "fail"]
EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""
    environment: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "level": self.level,
            "detail": self.detail,
            "fix": self.fix,
            "environment": self.environment,
        }


def env_file_check(name: str, path: Any, shown: str, example: Any, example_shown: str) -> Check:
    """Present, a file, every key of its example, no placeholder secret; keys its example
    lacks are named (a warning here, the drift 'dashenv env check' fails on: one
    comparison, ``compare_with_example``, for both)."""
    from dashenv.settings.envfile import compare_with_example, read_env_file
    from dashenv.settings.secrets import PLACEHOLDER, is_secret_key

    label = "env file"
    if path.is_dir():
        return Check(
            label, "fail", f"{shown} is a directory", f"rm -r {shown} && dashenv init {name}", name
        )
    if not path.exists():
        return Check(label, "fail", f"{shown} is missing", f"dashenv init {name}", name)
    try:
        entries = read_env_file(path, shown)
    except DashenvError as exc:
        return Check(label, "fail", exc.message, exc.hint or "", name)
    try:
        found = compare_with_example(path, shown, example, example_shown, env_name=name)
    except DashenvError as exc:
        return Check(label, "fail", exc.message, exc.hint or "", name)
    missing, unknown = found if found is not None else ([], [])
    if missing:
        return Check(
            label,
            "fail",
            f"{shown} lacks {', '.join(missing)} (in {example_shown})",
            f"dashenv init {name} adds them",
            name,
        )
    placeholders = [
        k for k, e in entries.items() if is_secret_key(k) and PLACEHOLDER.search(e.value)
    ]
    if placeholders:
        return Check(
            label,
            "fail",
            f"{shown} has placeholder secrets: {', '.join(placeholders)}",
            f"set real values in {shown}",
            name,
        )
    if unknown:
        return Check(
            label,
            "warn",
            f"{shown} has keys its example lacks: {', '.join(unknown)}",
            f"add them to {example_shown} ('dashenv env check {name}' fails on them)",
            name,
        )
    return Check(label, "pass", f"{shown} is complete", environment=name)


def check_certificate(directory: Any, shown: str, now: datetime.datetime) -> Check:
    from dashenv.steps.certs import CERT_FILE, KEY_FILE, read_expiry

    cert, key = directory / CERT_FILE, directory / KEY_FILE
    if not cert.is_file() or not key.is_file():
        return Check(
            "certificates",
            "warn",
            f"no certificate in {shown}/",
            "dashenv certs (dashenv up makes one too)",
        )
    try:
        not_after, _names = read_expiry(cert)
    except ValueError as exc:
        return Check(
            "certificates",
            "fail",
            f"{shown}/{CERT_FILE} is unreadable: {exc}",
            "dashenv certs --force",
        )
    left = not_after - now
    if left.total_seconds() <= 0:
        return Check(
            "certificates",
            "fail",
            f"{shown}/{CERT_FILE} expired on {not_after:%Y-%m-%d}",
            "dashenv certs --force",
        )
    if left.days < EXPIRY_WARNING_DAYS:
        return Check(
            "certificates",
            "warn",
            f"{shown}/{CERT_FILE} expires in {left.days} days",
            "dashenv certs --force",
        )
    return Check("certificates", "pass", f"valid until {not_after:%Y-%m-%d}")


def doctor(ctx: RunContext, names: list[str]) -> list[Check]:
    from dashenv.steps.targets import containers_by_environment, env_by_project, list_engines

    checks: list[Check] = []
    engine = _engine_checks(ctx.docker(), checks)
    shown = ctx.project().options.certs_dir
    checks.append(check_certificate(ctx.certs_dir(), shown, datetime.datetime.now(datetime.UTC)))
    checks += unscoped_sharing_checks({e.name: _process_origins(e) for e in ctx.environments()})
    listings, errors = list_engines(ctx, names) if engine else ({}, {})
    # looked up once for every environment's checks
    owners = env_by_project(ctx) if engine else {}
    by_env = containers_by_environment(ctx, names, listings)
    for name in names:
        e = ctx.environment(name)
        context = e.context
        reachable = engine and context not in errors
        if engine:
            checks.append(_environment_engine_check(name, context, errors.get(context)))
        checks += _environment_checks(e, reachable, listings.get(context, []), by_env[name], owners)
    return checks


SHARED_BY_ONE_VARIABLE = ("project_name", "env_file")


def _process_origins(e: Environment) -> dict[str, tuple[str, str]]:
    """Setting -> (the process variable that set it, its value), for the settings that must
    differ between environments."""
    try:
        env = e.bare
    except DashenvError:
        return {}
    found = {}
    for key in SHARED_BY_ONE_VARIABLE:
        origin = env.provenance.get(key)
        if origin is not None and origin.layer == "process env":
            found[key] = (origin.key, str(getattr(env.settings, key)))
    return found


def unscoped_sharing_checks(origins: dict[str, dict[str, tuple[str, str]]]) -> list[Check]:
    """One exported DASHENV_PROJECT_NAME (or DASHENV_ENV_FILE) applies to every environment
    at once: warn where it gives two of them the same project or env file."""

    checks = []
    for key in SHARED_BY_ONE_VARIABLE:
        by_variable: dict[tuple[str, str], list[str]] = {}
        for env_name, found in origins.items():
            if key in found and "__" not in found[key][0]:
                by_variable.setdefault(found[key], []).append(env_name)
        for (variable, value), names in sorted(by_variable.items()):
            if len(names) > 1:
                scoped = ", ".join(
                    f"DASHENV_{n.upper().replace('-', '_')}__{key.upper()}" for n in names
                )
                checks.append(
                    Check(
                        "process environment",
                        "warn",
                        f"{variable}={value} applies to every environment: "
                        f"{' and '.join(names)} share one {key.replace('_', ' ')}",
                        f"unset it, or scope it to one environment: {scoped}",
                    )
                )
    return checks


def _environment_engine_check(name: str, context: str | None, error: DashenvError | None) -> Check:
    where = f"context {context}" if context else "the default engine"
    if error is not None:
        return Check("engine", "fail", f"{where}: {error.message}", error.hint or "", name)
    return Check("engine", "pass", f"runs on {where}", environment=name)


def _networks_check(t: Environment, compose: ComposeModel, name: str) -> Check:
    """A network of the project's that exists twice makes every Compose run fail
    ('network ... is ambiguous'): 'dashenv up' removes the copies no container uses."""
    from dashenv.plan.networks import stuck_hint

    try:
        found = t.network_repair(compose)
    except DashenvError as exc:
        return Check("networks", "warn", f"not listed: {exc.message}", environment=name)
    if not found.needed:
        return Check("networks", "pass", "each of the project's networks once", environment=name)
    twice = sorted({n.name for n in found.remove} | set(found.stuck))
    if found.stuck:
        fix = stuck_hint(name, t.project_name, found.stuck)
    else:
        fix = f"'dashenv up {name}' removes the unused copies"
    return Check("networks", "fail", f"more than one network named {', '.join(twice)}", fix, name)


def _binds_check(name: str, context: str, services: Any) -> Check:
    """A bind mount names a path on this machine: on a truly remote engine it cannot work
    (the sandbox's second engine runs here, where it happens to)."""
    binds = sorted({b for svc in services.values() for b in svc.binds})
    if not binds:
        return Check("bind mounts", "pass", "none", environment=name)
    shown = ", ".join(binds[:3]) + (f" (and {len(binds) - 3} more)" if len(binds) > 3 else "")
    return Check(
        "bind mounts",
        "warn",
        f"{name} runs on context {context} and bind-mounts host paths: {shown}",
        "on a remote engine use named volumes or bake the files into the image",
        name,
    )


def _engine_checks(docker: Docker, checks: list[Check]) -> bool:
    if shutil.which("docker") is None:
        checks.append(
            Check(
                "docker client",
                "fail",
                "the docker command is not installed",
                "install Docker Desktop, or docker.io and the compose plugin",
            )
        )
        return False
    checks.append(Check("docker client", "pass", shutil.which("docker") or "docker"))
    try:
        version = docker.ping()
    except DashenvError as exc:
        checks.append(Check("docker engine", "fail", exc.message, exc.hint or ""))
        return False
    checks.append(Check("docker engine", "pass", f"engine {version}"))
    compose = docker.compose_version()
    if compose is None:
        checks.append(
            Check(
                "compose v2",
                "fail",
                "'docker compose' is not available",
                "install the Docker Compose v2 plugin",
            )
        )
        return False
    checks.append(compose_version_check(compose.strip()))
    return True


MIN_COMPOSE = (2, 24)  # the instance override replaces lists with !override (Compose 2.24)


def compose_version_check(version: str) -> Check:
    """Compose v2 new enough for what dashenv writes, or the upgrade named."""
    import re

    found = re.match(r"v?(\d+)\.(\d+)", version)
    if found is None:
        return Check("compose v2", "warn", f"version {version!r} not understood")
    if (int(found[1]), int(found[2])) < MIN_COMPOSE:
        need = ".".join(map(str, MIN_COMPOSE))
        return Check(
            "compose v2",
            "fail",
            f"{version}: dashenv needs Compose {need} or later (instances use !override)",
            f"upgrade the Docker Compose plugin to {need} or later "
            "(docker-compose-plugin, or Docker Desktop)",
        )
    return Check("compose v2", "pass", version)


def _environment_checks(
    e: Environment,
    engine: bool,
    containers: list[Container],
    mine: list[Container],
    owners: dict[str, str],
) -> list[Check]:
    name = e.name
    from dashenv.steps.targets import environment_conflicts

    checks: list[Check] = []
    bare = e.bare
    s = bare.settings
    if e.layout.generates_env_file:  # made from its source's on every run
        why = f"generated from {e.layout.source}'s on every run ({s.env_file})"
        checks.append(Check("env file", "pass", why, environment=name))
    else:
        checks.append(
            env_file_check(
                name, bare.path(s.env_file), s.env_file, bare.path(s.example_file), s.example_file
            )
        )
    if not engine:
        return checks
    try:
        t = e.leniently()
        compose = t.compose_model()
        services = compose.services
        checks.append(Check("compose files", "pass", ", ".join(s.compose_files), environment=name))
    except DashenvError as exc:
        checks.append(
            Check(
                "compose files",
                "fail",
                exc.message,
                f"docker compose config: {', '.join(s.compose_files)}",
                name,
            )
        )
        return checks
    checks.append(_externals_check(t, compose, name))
    checks.append(_images_check(t, compose, name))
    checks.append(_data_path_check(t, compose, name))
    checks += _proxy_checks(t.env, compose, containers, name)
    if t.docker.context:
        checks.append(_binds_check(name, t.docker.context, services))
    if s.protected:
        checks.append(_interfaces_check(services, name))
    from dashenv.steps.ownership import foreign_dir

    other = foreign_dir(mine, bare.project.root.resolve())
    if other is not None:
        checks.append(
            Check(
                "owner",
                "fail",
                f"compose project {s.project_name} runs from another checkout, {other}",
                f"that checkout's {name} is not this one's: 'dashenv up {name}' here runs "
                "this one beside it as an instance",
                name,
            )
        )
        return checks
    checks.append(_networks_check(t, compose, name))
    running = any(c.state == "running" for c in mine)
    # ports: free, or held by this environment (a sibling sharing the project counts as ours)
    conflicts = environment_conflicts(
        s.project_name, services, containers, owners, t.docker.context
    )
    name_conflicts = [c for c in conflicts if c.message.startswith("container name")]
    port_conflicts = [c for c in conflicts if not c.message.startswith("container name")]
    checks.append(
        _from_conflicts("host ports", port_conflicts, name, "free, or held by this environment")
    )
    checks.append(
        _from_conflicts("container names", name_conflicts, name, "no other project holds them")
    )
    if not running:
        checks.append(
            Check("databases", "warn", f"{name} is not running", f"dashenv up {name}", name)
        )
        return checks
    checks += _database_checks(e)
    return checks


def _images_check(t: Any, compose: Any, name: str) -> Check:
    """The images the environment pulls (not builds) must be on the engine, or pullable: a
    missing one is named with the command that fetches it."""
    wanted = sorted({s.image for s in compose.services.values() if s.image and not s.has_build})
    missing = t.docker.missing_images(wanted)
    if missing:
        shown = ", ".join(missing)
        return Check("images", "warn", f"not on this engine yet: {shown} (up pulls them)",
                     f"docker compose pull, or docker pull {missing[0]}", name)  # fmt: skip
    return Check(
        "images", "pass", f"present: {', '.join(wanted) or 'none to pull'}", environment=name
    )


def _data_path_check(t: Environment, compose: ComposeModel, name: str) -> Check:
    """PostgreSQL 18's layout: a mount at the pre-18 path on an 18+ image fails (the image
    refuses it); a protected environment on the floating official image (latest, no tag) is
    warned to pin its major version."""
    from dashenv.steps.pg_layout import data_path_problem, is_floating, major_of

    svc = compose.services.get(t.settings.postgres_service)
    if svc is None or not svc.image:
        return Check("postgres data path", "pass", "no PostgreSQL image to check", environment=name)
    problem = data_path_problem(t, compose)
    if problem is not None:
        return Check("postgres data path", "fail", problem.message, problem.hint, name)
    if t.settings.protected and is_floating(svc.image):
        major = major_of(t, svc.image)
        return Check(
            "postgres data path",
            "warn",
            f"{svc.name} runs {svc.image}, PostgreSQL {major} today: a new major arrives with "
            "the next pull, and a data volume of the old one does not start on it",
            f"pin the major version: image: postgres:{major}",
            name,
        )
    return Check("postgres data path", "pass", f"{svc.name}: {svc.image}", environment=name)


def _externals_check(t: Any, compose: Any, name: str) -> Check:
    from dashenv.plan.compose import missing_prerequisites

    wanted = compose.external_networks + compose.external_volumes
    if not wanted:
        return Check("external networks", "pass", "none needed", environment=name)
    missing = missing_prerequisites(*t.docker.missing_externals(compose))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        fix = "; ".join(m.hint for m in missing)
        return Check("external networks", "fail", missing[0].message + more, fix, name)
    return Check("external networks", "pass", f"present: {', '.join(wanted)}", environment=name)


def _proxy_checks(env: Any, compose: Any, containers: Any, name: str) -> list[Check]:
    """A reverse proxy the files route through (Traefik labels) must be running, and the
    app's route name must resolve for its URL to answer."""
    from urllib.parse import urlsplit

    from dashenv.plan.compose_files import routes_through_proxy, running_proxies

    routed = routes_through_proxy(compose)
    if not routed:
        return []
    proxies = running_proxies(containers)
    checks = [
        Check("reverse proxy", "pass", f"Traefik runs: {', '.join(proxies)}", environment=name)
        if proxies
        else Check(
            "reverse proxy",
            "warn",
            f"{', '.join(routed)} route through Traefik (its labels), and no Traefik "
            "container is running",
            "start the reverse proxy's own stack (its docker compose up)",
            name,
        )
    ]
    url = env.proxy_url
    if url:
        import socket

        host = urlsplit(url).hostname or ""
        try:
            socket.getaddrinfo(host, None)
            checks.append(Check("app route", "pass", f"{url} ({host} resolves)", environment=name))
        except OSError:
            checks.append(
                Check(
                    "app route",
                    "warn",
                    f"{host} does not resolve, so {url} cannot answer here",
                    f"add '127.0.0.1 {host}' to /etc/hosts (or your DNS)",
                    name,
                )
            )
    return checks


def _interfaces_check(services: Any, name: str) -> Check:
    from dashenv.plan.compose import open_to_all_interfaces

    opened = open_to_all_interfaces(services)
    if opened:
        return Check(
            "published ports",
            "warn",
            f"{name} is protected and publishes on all interfaces: {', '.join(opened)}",
            'bind them to 127.0.0.1 in the compose file ("127.0.0.1:HOST:CONTAINER")',
            name,
        )
    return Check("published ports", "pass", "bound to one interface", environment=name)


def speed_flags_check(name: str, settings: dict[str, str]) -> Check:
    """The seed's test-database speed flags: a testing PostgreSQL without them is slower."""
    on = [k for k, v in settings.items() if v == "on"]
    if not on:
        return Check("speed flags", "pass", "fsync, full_page_writes, synchronous_commit off",
                     environment=name)  # fmt: skip
    return Check(
        "speed flags",
        "warn",
        f"the test PostgreSQL runs with {', '.join(on)} on (3-5x slower for database-heavy tests)",
        'set in its compose service: command: ["postgres", "-c", "fsync=off", "-c", '
        '"full_page_writes=off", "-c", "synchronous_commit=off"]',
        name,
    )


def _from_conflicts(label: str, conflicts: list[Any], name: str, ok: str) -> Check:
    if not conflicts:
        return Check(label, "pass", ok, environment=name)
    detail = conflicts[0].message + (
        f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
    )
    return Check(label, "fail", detail, conflicts[0].hint, name)


def _database_checks(e: Environment) -> list[Check]:
    name = e.name
    try:
        env = e.env
        db = env.app.database()
    except DashenvError as exc:
        return [Check("databases", "fail", exc.message, exc.hint or "", name)]
    s = env.settings
    if db is None or s.postgres_port is None:
        return [Check("databases", "warn", "no published PostgreSQL to check", environment=name)]
    checks: list[Check] = []
    try:
        with e.postgres(timeout=3) as pg:
            names = pg.database_names()
            if db.database not in names:
                fix = (
                    "dashenv test setup"
                    if s.role != "development"
                    else f"dashenv down {name} && dashenv up {name}"
                )
                return [
                    Check("databases", "fail", f"database {db.database} does not exist", fix, name)
                ]
            checks.append(Check("databases", "pass", f"{db.database} exists", environment=name))
            checks.append(_migrations_check(env, pg.alembic_current(db.database)))
            if s.role in RESET_ROLES:
                checks.append(_test_database_check(pg, name, db.database))
                flags = pg.server_settings(db.database, ["fsync", "full_page_writes"])
                checks.append(speed_flags_check(name, flags))
    except DashenvError as exc:
        checks.append(Check("databases", "fail", exc.message, f"dashenv up {name}", name))
    return checks


def migrations_check(name: str, mig: dict[str, Any]) -> Check:
    """Where the database stands against the checkout's Alembic heads."""
    state = mig["state"]
    if state == "latest":
        return Check("migrations", "pass", f"at head {', '.join(mig['heads'])}", environment=name)
    if state == "behind":
        return Check(
            "migrations",
            "warn",
            f"behind: {', '.join(mig['pending'])} pending",
            f"dashenv db migrate {name}",
            name,
        )
    if state == "ahead":
        at = ", ".join(mig["unknown_revisions"])
        return Check(
            "migrations",
            "fail",
            f"the database is at revision {at}, which this checkout does not have "
            "(a branch switch?)",
            f"check out the branch that has {at} and run 'dashenv db downgrade {name} "
            f"REVISION' there, or restore a snapshot: 'dashenv db snapshots {name}'",
            name,
        )
    if state == "multiple_heads":
        return Check(
            "migrations",
            "fail",
            f"the code has several Alembic heads: {', '.join(mig['heads'])}",
            f"merge them: dashenv exec {name} app -- alembic merge heads -m merge",
            name,
        )
    return Check("migrations", "warn", f"unknown: {mig.get('reason')}", environment=name)


def _migrations_check(env: Any, current: tuple[str, ...] | None) -> Check:
    from dashenv.steps.migrations import graph_reading, migrations_part

    return migrations_check(env.name, migrations_part(current, graph_reading(env)))


def _baseline(stamp: dict[str, str] | None) -> dict[str, int]:
    import json

    try:
        found = json.loads((stamp or {}).get("baseline_rows", "{}"))
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _test_database_check(pg: Any, name: str, database: str) -> Check:
    """Seed troubleshooting 3: test data not clean. Stamped for this environment and empty."""
    state = pg.state(database)
    stamp = (state.stamp or {}).get("environment")
    if stamp != name:
        saw = f"stamped for {stamp}" if stamp else "unstamped"
        return Check(
            "test database",
            "fail",
            f"{database} is {saw}",
            f"dashenv db reset {name} --yes (--adopt if unstamped)",
            name,
        )
    counts = pg.row_counts(database)
    # the rows the migrations themselves write (alembic_version, a data migration's) are
    # recorded in the stamp when the template is built: only rows beyond those are dirt
    baseline = _baseline(state.stamp)
    dirty = [
        f"{table} ({rows - baseline.get(table, 0)})"
        for table, rows in counts.items()
        if rows > baseline.get(table, 0)
    ]
    if dirty:
        return Check(
            "test database",
            "warn",
            f"{database} holds rows: {', '.join(dirty[:5])}",
            "dashenv test setup",
            name,
        )
    return Check(
        "test database", "pass", f"{database} is stamped for {name} and clean", environment=name
    )
