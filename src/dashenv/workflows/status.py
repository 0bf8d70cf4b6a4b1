"""Status of environments: containers, PostgreSQL, Redis and the app, collected concurrently.

The JSON document (``dashenv status --json``) is versioned by ``schema_version``; its shape
is documented in the README and in ``status.schema.json`` beside this module, and only
grows: fields are never renamed or removed within a schema version.
"""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from dashenv.errors import DashenvError, Unreachable
from dashenv.plan.reset import SERVER_FLAGS
from dashenv.steps.background import started
from dashenv.steps.migrations import graph_reading, migrations_part

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres
    from dashenv.context import Environment, RunContext
    from dashenv.documents import (
        AppPart,
        ContainerRow,
        ContainersPart,
        EnvironmentStatus,
        PortRow,
        PostgresPart,
        RedisPart,
        StatusDocument,
    )
    from dashenv.facts import Container, PortBinding
    from dashenv.settings.sources import ResolvedEnvironment


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _uptime(started_at: str | None, running: bool) -> float | None:
    if not started_at or not running:
        return None
    try:
        started = datetime.datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (_now() - started).total_seconds())


def _port(b: PortBinding) -> PortRow:
    return {"host_ip": b.host_ip, "host_port": b.host_port, "container_port": b.container_port}


def containers_part(containers: list[Container], expected: list[str]) -> ContainersPart:
    rows: list[ContainerRow] = []
    for c in sorted(containers, key=lambda c: c.service or c.name):
        rows.append(
            {
                "service": c.service,
                "name": c.name,
                "state": c.state,
                "health": c.health,
                "ports": [_port(b) for b in c.ports],
                "started_at": c.started_at,
                "uptime_seconds": _uptime(c.started_at, c.state == "running"),
                "ready": c.ready,
            }
        )
    ready = {c.service for c in containers if c.ready}
    missing = [s for s in expected if s not in ready]
    return {"list": rows, "expected": expected, "not_ready": missing}


def snapshots_part(pg: Any, database: str) -> list[dict[str, Any]]:
    from dashenv.steps.snapshots import parse_listing

    return [s.as_dict() for s in parse_listing(pg, database)]


def copy_part(
    env: ResolvedEnvironment, pg: Any, database: str, databases: list[dict[str, Any]]
) -> dict[str, Any]:
    """How copies of ``database`` go on its server, from what is remembered (no probe)."""
    from dashenv.steps.copying import describe

    size = next((d["size_bytes"] for d in databases if d["name"] == database), None)
    return describe(env, pg, database, size_bytes=size)


def worker_databases_part(databases: list[dict[str, Any]], database: str) -> list[str]:
    """The pytest-xdist worker databases and dashenv_fresh_database clones of ``database``
    that exist now: a run's while it runs, a killed run's orphans after it (the next run and
    'dashenv test clean' drop them)."""
    from dashenv.plan.names import is_run_database

    return [d["name"] for d in databases if is_run_database(d["name"], database)]


def postgres_part(e: Environment) -> PostgresPart | None:
    env = e.resolved
    s = env.settings
    if s.postgres_port is None:
        return None
    endpoint = f"{s.host}:{s.postgres_port}"
    part: PostgresPart = {"endpoint": endpoint, "reachable": False, "error": None}
    try:
        db = env.app.database()
        if db is None:
            part["error"] = "no DATABASE_URL in the env file"
            return part
        part["database"] = db.database
        # the code's migrations (files) read while the connection is made
        graph = started(lambda: graph_reading(env))
        with _observer(e, db.database) as pg:
            part["version"] = pg.version()
            part["reachable"] = True
            part["databases"] = [asdict(d) for d in pg.databases()]
            names = {d["name"] for d in part["databases"]}
            part["database_exists"] = db.database in names
            if db.database in names:
                part["tables"] = [asdict(t) for t in pg.tables(db.database)]
                part["settings"] = pg.server_settings(db.database, SERVER_FLAGS)
                part["stamp"] = pg.read_stamp(db.database)
                current = pg.alembic_current(db.database)
                part["migrations"] = migrations_part(current, graph())
                part["copy_method"] = copy_part(env, pg, db.database, part["databases"])
            part["snapshots"] = snapshots_part(pg, db.database)
            part["worker_databases"] = worker_databases_part(part["databases"], db.database)
    except DashenvError as exc:
        part["error"] = exc.message
    return part


def _observer(e: Environment, database: str) -> Postgres:
    """A client that reads everything on one connection: to ``database``, which status reads
    anyway, and what is the server's (its databases, settings, snapshots) from there too;
    where that database cannot be connected to (it does not exist yet, say), to the
    maintenance database instead."""
    pg = e.postgres(timeout=3, observer=True, home=database)
    try:
        with pg.connect():
            pass
    except Unreachable:
        return e.postgres(timeout=3, observer=True)  # unreachable there too: it says so
    return pg


def redis_part(e: Environment) -> RedisPart | None:
    env = e.resolved
    s = env.settings
    if s.redis_port is None:
        return None
    part: RedisPart = {"endpoint": f"{s.host}:{s.redis_port}", "reachable": False}
    try:
        part["indexes"] = list(env.redis_indexes)
        part["index"] = part["indexes"][0]
        info = e.redis(part["index"], timeout=3).info()
        part["reachable"] = True
        part["version"] = info.version
        part["keys"] = info.keys
        part["used_memory"] = info.used_memory_human
        part["error"] = None
    except DashenvError as exc:
        part["error"] = exc.message
    return part


def app_part(env: ResolvedEnvironment) -> AppPart | None:
    from dashenv.adapters.http import get_health
    from dashenv.plan.compose import endpoints

    s = env.settings
    url = endpoints(s, proxy_url=env.proxy_url).app
    if url is None:
        return None
    if s.app_port is None and env.proxy_url:  # reached through the reverse proxy's route
        import socket
        from urllib.parse import urlsplit

        host = urlsplit(url).hostname or ""
        try:
            socket.getaddrinfo(host, None)
        except OSError:
            return {
                "url": url + s.health_path,
                "reachable": False,
                "status": None,
                "body": None,
                "error": f"{host} does not resolve here ('dashenv doctor {env.name}' says how)",
                "healthy": False,
                "checked": False,
            }
    answer = get_health(url + s.health_path)
    return {
        "url": answer.url,
        "reachable": answer.reachable,
        "status": answer.status,
        "body": answer.body,
        "error": answer.error,
        "healthy": answer.reachable and answer.status == 200,
        "checked": True,
    }


def environment_status(
    e: Environment,
    containers: list[Container],
    expected: list[str],
    pool: ThreadPoolExecutor,
) -> EnvironmentStatus:
    from dashenv.steps.ownership import foreign_dir

    env = e.resolved
    s = env.settings
    running = any(c.state == "running" for c in containers)
    doc: EnvironmentStatus = {
        "name": env.name,
        "role": s.role,
        "project": s.project_name,
        "state": "down" if not running else "up",
        # the checkout Compose says started its containers, where that is another one
        "other_checkout": foreign_dir(containers, env.project.root.resolve()),
        "app_runs": s.test_runner,
        "containers": containers_part(containers, expected),
        "postgres": None,
        "redis": None,
        "app": None,
        "problems": [],
        "healthy": False,
    }
    if running:
        postgres = pool.submit(postgres_part, e)
        redis = pool.submit(redis_part, e)
        app = pool.submit(app_part, env)
        doc["postgres"], doc["redis"], doc["app"] = postgres.result(), redis.result(), app.result()
    doc["problems"] = problems(doc)
    doc["healthy"] = running and not doc["problems"]
    return doc


def problems(doc: EnvironmentStatus) -> list[str]:
    found = []
    if doc["state"] == "down":
        return ["not running"]
    if doc.get("other_checkout"):
        found.append(
            f"compose project {doc['project']} runs from another checkout, "
            f"{doc['other_checkout']}: what is shown is that checkout's"
        )
    not_ready = doc["containers"]["not_ready"]
    if not_ready:
        found.append(f"not ready: {', '.join(not_ready)}")
    pg = doc.get("postgres")
    if pg is not None:
        if not pg["reachable"]:
            found.append(f"PostgreSQL unreachable: {pg['error']}")
        elif not pg.get("database_exists"):
            found.append(f"database {pg.get('database')} does not exist")
        else:
            found += migration_problems(pg.get("migrations") or {})
    rd = doc.get("redis")
    if rd is not None and not rd["reachable"]:
        found.append(f"Redis unreachable: {rd['error']}")
    app = doc.get("app")
    if app is not None and app.get("checked", True) and not app["healthy"]:
        what = app["error"] or f"HTTP {app['status']}"
        found.append(f"app health: {what}")
    return found


def migration_problems(mig: dict[str, Any]) -> list[str]:
    state = mig.get("state")
    if state == "behind":
        return [f"migrations pending: {', '.join(mig['pending'])}"]
    if state == "ahead":
        return [
            f"database at revision {', '.join(mig['unknown_revisions'])}, which this checkout "
            "does not have (a branch switch?)"
        ]
    if state == "multiple_heads":
        return [f"the code has several Alembic heads: {', '.join(mig['heads'])}"]
    return []


def expected_services(env: ResolvedEnvironment) -> list[str]:
    """The role services that should be running: those the compose files declare (a test
    compose without a callback service expects none)."""
    s = env.settings
    roles = [s.app_service, s.callback_service, s.postgres_service, s.redis_service]
    return [r for r in roles if env.files is None or r in env.files.services]


def status(
    ctx: RunContext, names: list[str], *, explicit: bool
) -> tuple[StatusDocument, DashenvError | None]:
    """The status document for ``names``, and the engine's error when it could not be
    reached. With ``explicit`` false (``--all``), environments that are simply not running
    are reported but do not make the result unhealthy."""
    from dashenv.steps.targets import compose_projects, containers_by_environment, list_engines

    project = ctx.project()
    engines = {n: ctx.environment(n).context for n in names}  # resolved before the threads
    projects = compose_projects(ctx, names)  # only their containers are inspected
    # parts (PostgreSQL, Redis, app) get their own pool: environments wait on them
    with ThreadPoolExecutor(max_workers=4) as pool, ThreadPoolExecutor(max_workers=12) as parts:
        listing = pool.submit(list_engines, ctx, names, projects)
        envs = {n: ctx.environment(n, lenient=True) for n in names}
        for e in envs.values():
            _ = e.resolved  # resolved here, once, before the threads
        listings, errors = listing.result()
        engine: DashenvError | None = next(iter(errors.values()), None)
        by_env = containers_by_environment(ctx, names, listings)
        futures = []
        for name, e in envs.items():
            expected = expected_services(e.resolved)
            futures.append(pool.submit(environment_status, e, by_env[name], expected, parts))
        docs = [f.result() for f in futures]
    for d in docs:
        d["context"] = engines[d["name"]]  # the Docker context it runs on (None: the default)
    counted = [d for d in docs if explicit or d["state"] != "down"]
    doc: StatusDocument = {
        "generated_at": _now().isoformat(timespec="seconds"),
        "project_dir": str(project.root),
        "engine": {"reachable": engine is None, "error": engine.message if engine else None},
        "healthy": engine is None and all(d["healthy"] for d in counted),
        "environments": docs,
    }
    return doc, engine
