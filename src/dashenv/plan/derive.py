"""A test environment derived from a project's one stack, without editing its files: the
compose override and the env file that make dev's services into an isolated test stack.
Pure: dev's resolved compose model and env entries come in as facts, text goes out.

What the override does to dev's stack (``docker compose -f <dev's files> -f <override>``,
under a compose project of its own):

- only what tests need runs: the database, the cache, the app and the services that use them,
  with what they depend on; reverse proxies, admin UIs, mail catchers and the rest get a
  profile nobody enables;
- every name the files fix globally is renamed (``container_name``, volumes and networks with
  a ``name:``, the tags of images it builds), external networks are left;
- no host port of dev's: PostgreSQL and Redis publish the ports leased for the environment (or
  nothing before it has them), everything else publishes nothing;
- every mount of a stateful service's data path (a named volume or a bind mount) is replaced by
  tmpfs, and PostgreSQL runs with fsync, full_page_writes and synchronous_commit off;
- the database gets a name that says test, applied wherever the app-side services read it (a
  URL's database part, or a variable holding the name), found by value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote as _quote_url
from urllib.parse import unquote, urlsplit, urlunsplit

from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan import isolation
from dashenv.plan.override import (
    Override,
    Reset,
    dump,
    own_networks,
    renamed,
    service_networks,
    tagged_image,
)
from dashenv.settings.envfile import quote_value

OFF_PROFILE = "dashenv-off"  # the profile that keeps a service dev needs and tests do not off
# images of services tests never need, even where they depend on the database
UI_IMAGES = (
    "adminer", "pgadmin", "pgadmin4", "traefik", "nginx", "caddy", "haproxy", "mailhog",
    "mailpit", "mailcatcher", "mailcatcher-docker", "redis-commander", "redisinsight",
    "flower", "grafana", "prometheus", "portainer", "playwright", "dozzle", "whoami",
)  # fmt: skip
WORKER_WORDS = ("celery", "arq", "dramatiq", "taskiq", "rq", "huey", "faststream")
APP_WORDS = ("uvicorn", "fastapi", "gunicorn", "hypercorn", "granian")
SPEED_FLAGS = ("fsync=off", "full_page_writes=off", "synchronous_commit=off")
INITDB_DIR = "/docker-entrypoint-initdb.d"
INITDB_STAMP = f"{INITDB_DIR}/00-dashenv-stamp.sh"
# where a project's own init directory goes when dashenv's directory takes its place (a
# mount inside the project's would be made in the project's files, or fail on a read-only one)
PROJECT_INITDB = "/dashenv-project-initdb"
# run second by the image from dashenv's init directory: the project's own scripts, from
# where they were moved, in order, as the official image runs them (sourced by its entrypoint)
PROJECT_INITDB_SCRIPT = f"""#!/bin/sh
# Written by dashenv: the project's own init scripts (it mounts them at {INITDB_DIR},
# where dashenv's stamp script sits now), run from {PROJECT_INITDB} as the image runs them.
_dashenv_user="${{POSTGRES_USER:-postgres}}"
_dashenv_db="${{POSTGRES_DB:-$_dashenv_user}}"
_dashenv_psql() {{
  psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc -h /var/run/postgresql \\
    --username "$_dashenv_user" --dbname "$_dashenv_db" "$@"
}}
for _dashenv_f in {PROJECT_INITDB}/*; do
  case "$_dashenv_f" in
    *.sh) echo "running $_dashenv_f"
          if [ -x "$_dashenv_f" ]; then "$_dashenv_f"; else . "$_dashenv_f"; fi ;;
    *.sql) echo "running $_dashenv_f"; _dashenv_psql -f "$_dashenv_f" ;;
    *.sql.gz) echo "running $_dashenv_f"; gunzip -c "$_dashenv_f" | _dashenv_psql ;;
    *.sql.xz) echo "running $_dashenv_f"; xz -dc "$_dashenv_f" | _dashenv_psql ;;
    *.sql.zst) echo "running $_dashenv_f"; zstd -dc "$_dashenv_f" | _dashenv_psql ;;
    *) echo "ignoring $_dashenv_f" ;;
  esac
done
"""
# the seed's compose/postgres/dashenv-stamp.sh: run once by the image on an empty data
# directory, it stamps the database the container creates with its dashenv environment
STAMP_SCRIPT = """#!/bin/bash
# Written by dashenv: stamps the database this container creates with its environment.
set -euo pipefail
if [ -n "${DASHENV_ENVIRONMENT:-}" ]; then
  user="${POSTGRES_USER:-postgres}"
  psql -v ON_ERROR_STOP=1 --username "$user" --dbname "${POSTGRES_DB:-$user}" <<SQL
CREATE SCHEMA IF NOT EXISTS dashenv;
CREATE TABLE IF NOT EXISTS dashenv.metadata (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO dashenv.metadata (key, value)
VALUES ('environment', '${DASHENV_ENVIRONMENT}'), ('stamped_at', now()::text)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
SQL
fi
"""
DATABASE_KEYS = ("POSTGRES_DB", "POSTGRESQL_DATABASE", "POSTGRES_DATABASE")
USER_KEYS = ("POSTGRES_USER", "POSTGRESQL_USERNAME", "POSTGRES_USERNAME")
PASSWORD_KEYS = ("POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD")


def quote_url(value: str) -> str:
    return _quote_url(value, safe="")


def postgres_major(image: str | None) -> int | None:
    """``postgres:18-alpine`` -> 18, ``pgvector/pgvector:pg17`` -> 17,
    ``timescale/timescaledb:2.17.2-pg16`` -> 16; None where the tag names no major of
    PostgreSQL (latest, none, a project's own version such as ``1.2`` or ``2024.05``)."""
    from dashenv.plan.compose_files import split_image

    tag = split_image(image or "")[1]
    m = re.search(r"(?:^|[^a-z0-9])pg(\d+)", tag) or re.match(r"pg(\d+)", tag)
    if m:
        return int(m.group(1))
    m = re.match(r"(\d+)", tag)
    return int(m.group(1)) if m and 9 <= int(m.group(1)) <= 99 else None


def image_major(env: dict[str, str]) -> int | None:
    """The PostgreSQL major a local image runs, from the environment it sets: ``PG_MAJOR``
    (the official image's), else the server's directory on its ``PATH``
    (``/usr/lib/postgresql/17/bin``), else 18's ``PGDATA`` (``/var/lib/postgresql/18/docker``)."""
    major = env.get("PG_MAJOR", "").split(".")[0]
    if major.isdigit():
        return int(major)
    m = re.search(r"/usr/lib/postgresql/(\d+)/bin", env.get("PATH", "")) or re.match(
        r"/var/lib/postgresql/(\d+)/", env.get("PGDATA", "")
    )
    return int(m.group(1)) if m else None


OLD_DATA_PATH = "/var/lib/postgresql/data"


@dataclass(frozen=True)
class OldDataMount:
    """A mount at the pre-18 data path on an image of PostgreSQL 18 or later, which the
    official image refuses (it exits at start; a restart policy loops it)."""

    service: str
    image: str
    major: int
    source: str  # the volume or host path mounted there


def old_data_mount(service: ComposeService, major: int | None) -> OldDataMount | None:
    """The official 18+ image keeps its data under ``/var/lib/postgresql/MAJOR/docker`` and
    refuses to start with a mount at ``/var/lib/postgresql/data`` unless PGDATA is set
    elsewhere by hand. ``major``: the image's, from its tag or the local image's PG_MAJOR
    (None: unknown, nothing said)."""
    if major is None or major < 18:
        return None
    pgdata = service.environment.get("PGDATA")
    if pgdata and pgdata.rstrip("/") != f"/var/lib/postgresql/{major}/docker":
        return None  # the project keeps its own PGDATA: the image does not refuse it
    for _kind, source, target, _read_only in service.mounts:
        if target.rstrip("/") == OLD_DATA_PATH:
            return OldDataMount(service.name, service.image or "", major, source)
    return None


def line_of(texts: dict[str, str], service: str, needle: str) -> tuple[str, int] | None:
    """Where ``needle`` is written in the files (the first line naming it after the
    service's own key, else anywhere): (file, line number)."""
    found = None
    for name, text in texts.items():
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip() == f"{service}:"), None)
        for i, line in enumerate(lines):
            if needle in line and not line.lstrip().startswith("#"):
                if start is not None and i > start:
                    return name, i + 1
                found = found or (name, i + 1)
    return found


def postgres_data_path(service: ComposeService) -> str:
    """Where the image keeps its data: PGDATA where set; the official image's volume
    otherwise (``/var/lib/postgresql`` from 18 on, ``/var/lib/postgresql/data`` before)."""
    if "bitnami" in (service.image or ""):
        return "/bitnami/postgresql"
    from dashenv.plan.compose_files import postgres_image

    pgdata = service.environment.get("PGDATA")
    major = postgres_major(postgres_image(service) or service.image) or service.pg_major
    if major is None or major >= 18:
        return "/var/lib/postgresql"
    return pgdata or "/var/lib/postgresql/data"


def redis_data_path(service: ComposeService) -> str:
    return "/bitnami/redis/data" if "bitnami" in (service.image or "") else "/data"


def _inside(a: str, b: str) -> bool:
    """``a`` is strictly inside ``b``."""
    a, b = a.rstrip("/") or "/", b.rstrip("/") or "/"
    return a.startswith(b + "/")


def overlaps(a: str, b: str) -> bool:
    """One path is the other or inside it."""
    a, b = a.rstrip("/") or "/", b.rstrip("/") or "/"
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


@dataclass(frozen=True)
class Account:
    """The database the PostgreSQL service creates, as its environment says."""

    user: str
    password: str | None
    database: str


def account_of(service: ComposeService) -> Account:
    env = service.environment
    user = next((env[k] for k in USER_KEYS if env.get(k)), "postgres")
    database = next((env[k] for k in DATABASE_KEYS if env.get(k)), user)
    password = next((env[k] for k in PASSWORD_KEYS if k in env), None)
    return Account(user, password, database)


def derived_database_name(database: str, environment: str = "test") -> str:
    """``app`` -> ``app_test`` (a name that says test already is kept)."""
    if "test" in database.lower() and environment in ("test", "testing"):
        return database
    suffix = "test" if environment in ("test", "testing") else f"{environment}_test"
    return f"{database}_{suffix}"


@dataclass(frozen=True)
class Connection:
    """One variable an app-side service reads its database from, and what it holds."""

    key: str
    kind: str  # url, name, host, port
    value: str = ""  # what it holds in the derived environment


# a variable holding the database's name: POSTGRES_DB, DB_NAME, PGDATABASE, DATABASE_NAME;
# not every *_NAME (PROJECT_NAME may hold the same word)
_NAME_KEY = r"(^|_)(DB|DATABASE|DBNAME|PGDATABASE)($|_)|(^|_)(DB|DATABASE|POSTGRES|PG)_?NAME$"


def connection_keys(
    environment: dict[str, str], database: str, hosts: set[str]
) -> list[Connection]:
    """The variables of a service's environment that say where its database is, found by
    value: a PostgreSQL URL naming ``database``, a variable holding the database's name, and
    its host and port variables beside them (``hosts``: the names the server answers to)."""
    found: list[Connection] = []
    for key, value in environment.items():
        if _names_database(value, database):
            found.append(Connection(key, "url"))
        elif value == database and re.search(_NAME_KEY, key):
            found.append(Connection(key, "name"))
    if any(c.kind == "name" for c in found):
        for key, value in environment.items():
            if value in hosts and re.search(r"(HOST|SERVER|HOSTNAME)$", key):
                found.append(Connection(key, "host"))
            elif value.isdigit() and re.search(r"(^|_)(POSTGRES|PG|DB|DATABASE)_?PORT$", key):
                found.append(Connection(key, "port"))
    return found


def worker_settings(
    environment: dict[str, str],
    database: str,
    hosts: set[str],
    workers: list[tuple[str, str, int | None]],
) -> dict[str, object]:
    """What each pytest-xdist worker changes in the app's environment (dashenv.xdist_worker
    applies it): the variables naming ``database`` as a URL or by its name, the Redis URLs, and
    each worker's (id, database, Redis index)."""
    found = connection_keys(environment, database, hosts)
    return {
        "name": sorted(c.key for c in found if c.kind == "name"),
        "url": sorted(c.key for c in found if c.kind == "url"),
        "redis_url": sorted(k for k, v in environment.items() if re.match(r"^rediss?://", v)),
        "workers": {w: {"database": db, "redis_index": index} for w, db, index in workers},
    }


def _names_database(value: str, database: str) -> bool:
    if not re.match(r"^postgres(ql)?(\+\w+)?://", value):
        return False
    try:
        path = unquote(urlsplit(value).path.lstrip("/"))
    except ValueError:
        return False
    return path == database


def with_database(url: str, database: str) -> str:
    """The URL with only its database part changed (user, password and host kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_host(url: str, old: dict[str, str]) -> str:
    """The URL with its host renamed where ``old`` maps it (a renamed container_name)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in old:
        return url
    auth, _, hostport = parts.netloc.rpartition("@")
    hostport = hostport.replace(host, old[host], 1)
    return urlunsplit(parts._replace(netloc=f"{auth}@{hostport}" if auth else hostport))


@dataclass(frozen=True)
class DeriveSpec:
    environment: str  # the derived environment ("test")
    source: str  # the one it comes from ("dev")
    project: str  # its compose project
    source_project: str
    postgres_service: str
    redis_service: str
    app_service: str
    ports: dict[str, int] = field(default_factory=dict)  # slot -> leased host port
    host: str = "127.0.0.1"
    markers: tuple[str, ...] = ()  # the test markers the app reads (ENVIRONMENT, TESTING)
    wanted: tuple[str, ...] = ()  # services asked for beyond those tests need
    # the tests run on the host: only the servers they use start (not the app, nor what
    # serves it alone)
    host_runner: bool = False
    stamp_script: str | None = None  # the absolute path of STAMP_SCRIPT, mounted for initdb
    # the absolute path of a directory holding STAMP_SCRIPT and PROJECT_INITDB_SCRIPT,
    # mounted in place of a project's own init directory
    stamp_dir: str | None = None
    postgres_images: tuple[str, ...] = ()  # dashenv.toml's postgres_images
    # isolate an environment with files of its own from those it clashes with, instead of
    # deriving it from another's: every service kept, its database's name kept, the names it
    # shares made its own, the clashing host ports (``clashing``) not published
    isolate: bool = False
    clashing: frozenset[int] = frozenset()


@dataclass
class Derivation:
    override: str
    database: str | None  # the test database's name
    source_database: str | None
    rewrites: list[tuple[str, str, str]]  # (service, key, what changed)
    running: list[str]  # the services that run
    off: list[str]  # the services left off
    replaced_mounts: list[tuple[str, str]]  # (service, target) now on tmpfs
    connections: list[Connection]  # the app's own database variables
    # container names the files fix -> the service that now answers for them in the network
    renamed_hosts: dict[str, str] = field(default_factory=dict)
    # the source's servers and the derived stack's own, as its containers reach them
    sides: tuple[isolation.Servers, isolation.Destination] | None = None


def runs_app(service: ComposeService) -> bool:
    """Its command runs an ASGI server or a task worker."""
    words = " ".join(service.command or []).lower()
    return any(w in words for w in (*APP_WORDS, *WORKER_WORDS))


def in_form_of(url: str, model: str) -> str:
    """``url`` written as ``model`` is: its scheme (``postgres://``,
    ``postgresql+asyncpg://``) and its query (``?sslmode=disable``)."""
    from urllib.parse import urlsplit, urlunsplit

    theirs = urlsplit(model)
    if not theirs.scheme.startswith("postgres"):
        return url
    return urlunsplit(urlsplit(url)._replace(scheme=theirs.scheme, query=theirs.query))


def account_url(account: Account, host: str, database: str | None = None, port: int = 5432) -> str:
    """The PostgreSQL URL of ``account`` at ``host:port`` (its own database unless another)."""
    auth = quote_url(account.user) + (f":{quote_url(account.password)}" if account.password else "")
    return f"postgresql://{auth}@{host}:{port}/{quote_url(database or account.database)}"


def is_app_side(service: ComposeService, roles: set[str], database: str | None = None) -> bool:
    """A service of the app's: running the app or a task worker, or using the database or the
    cache (depending on them, or naming the database in its environment); never a proxy, an
    admin UI or a browser test runner, even where it is built here."""
    from dashenv.plan.compose_files import image_name

    if image_name(service.image) in UI_IMAGES or "playwright" in service.name.lower():
        return False
    if runs_app(service):
        return True
    if set(service.depends_on) & roles:
        return True
    return database is not None and any(
        _names_database(v, database) for v in service.environment.values()
    )


def needed_services(model: ComposeModel, spec: DeriveSpec) -> list[str]:
    """What tests need: the roles, the app-side services, asked-for ones, and everything
    they depend on; profiled services only when asked for. Tests on the host need only the
    servers (and what is asked for)."""
    roles = {spec.postgres_service, spec.redis_service, spec.app_service}
    if spec.host_runner:
        roles.discard(spec.app_service)
    pg = model.services.get(spec.postgres_service)
    database = account_of(pg).database if pg is not None else None
    start = [n for n in model.services if n in roles or n in spec.wanted]
    start += [
        n
        for n, s in model.services.items()
        if n not in start
        and not s.profiles
        and not spec.host_runner
        and is_app_side(s, roles & set(model.services), database)
    ]
    wanted: set[str] = set()
    stack = list(start)
    while stack:
        name = stack.pop()
        if name in wanted or name not in model.services:
            continue
        wanted.add(name)
        stack += model.services[name].depends_on
    return [n for n in model.services if n in wanted]


def derive(model: ComposeModel, spec: DeriveSpec) -> Derivation:
    """The override that makes dev's stack (``model``) the derived environment's."""
    services = model.services
    pg = services.get(spec.postgres_service)
    account = account_of(pg) if pg is not None else None
    database = derived_database_name(account.database, spec.environment) if account else None
    if spec.isolate:
        database = account.database if account else None
    running = list(services) if spec.isolate else needed_services(model, spec)
    off = [n for n in services if n not in running]
    # names the files fix, and the hosts they answer to inside the network
    hosts_renamed = {s.container_name: name for name, s in services.items() if s.container_name}
    # an address the files pin is dev's container's: the derived stack's answers by its name
    hosts_renamed |= {ip: name for name, s in services.items() for ip in s.fixed_ips}
    pg_hosts = {spec.postgres_service, *(k for k, v in hosts_renamed.items() if v == pg_name(pg))}
    pg_hosts |= {"localhost", "127.0.0.1"}
    dev_side, test_side = container_sides(model, spec, account, database)
    rewrites: list[tuple[str, str, str]] = []
    replaced: list[tuple[str, str]] = []
    connections: list[Connection] = []
    header = [
        f"Written by dashenv: {spec.environment}, derived from {spec.source}'s compose files "
        f"(project {spec.project}).",
        "Rewritten on every run; the project's own files are never changed.",
    ]
    document: dict[str, Any] = {"services": {}}
    for name, service in services.items():
        body: dict[str, Any] = {}
        if name in off:
            document["services"][name] = {"profiles": [OFF_PROFILE]}
            continue
        if service.container_name:
            body["container_name"] = own_name(service.container_name, spec)
        if service.has_build and service.image:
            body["image"] = tagged_image(service.image, spec.project)
        # ports: the leased ones for the database and the cache, none for the rest
        slots = [
            (f"{name}:{target}", target)
            for _, _, target in service.ports
            if f"{name}:{target}" in spec.ports
        ]
        if name in (spec.postgres_service, spec.redis_service):
            target = 5432 if name == spec.postgres_service else 6379
            slot = f"{name}:{target}"
            if slot in spec.ports:
                slots = [(slot, target)]
        kept = (
            [p for p in service.ports if p[1] not in spec.clashing and f"{name}:{p[2]}" not in
             {s for s, _ in slots}] if spec.isolate else []
        )  # fmt: skip
        if slots or (kept and len(kept) < len(service.ports)):
            body["ports"] = Override(
                [f"{spec.host}:{spec.ports[s]}:{t}" for s, t in slots]
                + [f"{ip}:{port}:{t}" for ip, port, t in kept]
            )
        elif service.ports and not (spec.isolate and len(kept) == len(service.ports)):
            body["ports"] = Reset([])
        # external networks stay dev's: a test service never joins them
        externals = [n for n in service.networks if n in model.external_network_keys]
        networks = service_networks(service, externals)
        if networks is not None:
            body["networks"] = networks
        # the data path on tmpfs, whatever mounted it
        data = (
            postgres_data_path(service)
            if name == spec.postgres_service
            else redis_data_path(service)
            if name == spec.redis_service
            else None
        )
        if data is not None:
            keep = [m for m in service.mounts if m[0] != "tmpfs" and not overlaps(m[2], data)]
            gone = [m for m in service.mounts if m[0] != "tmpfs" and overlaps(m[2], data)]
            replaced += [(name, m[2]) for m in gone]
            stamped = name == spec.postgres_service and spec.stamp_script is not None
            if stamped and _official_postgres(service, spec.postgres_images):
                keep = [m for m in keep if m[2] != INITDB_STAMP]
                theirs = [m for m in keep if m[2].rstrip("/") == INITDB_DIR]
                if theirs and spec.stamp_dir:
                    # the project's init directory moves aside; dashenv's takes its place
                    keep = [(m[0], m[1], PROJECT_INITDB, m[3]) if m in theirs else m
                            for m in keep]  # fmt: skip
                    keep.append(("bind", spec.stamp_dir, INITDB_DIR, True))
                else:
                    keep.append(("bind", spec.stamp_script or "", INITDB_STAMP, True))
            if gone or keep:
                mounts = [_mount(m) for m in keep]
                body["volumes"] = Override(mounts) if keep else Reset([])
            # a mount inside the data path is covered by the tmpfs there (a tmpfs of its own
            # at /var/lib/postgresql/data would be the very mount 18+ refuses)
            covering = [m[2] for m in gone if not _inside(m[2], data)]
            tmpfs = sorted({data, *covering} - {m[2] for m in service.mounts
                                                if m[0] == "tmpfs"})  # fmt: skip
            if tmpfs:
                body["tmpfs"] = tmpfs
        if name == spec.postgres_service and _official_postgres(service, spec.postgres_images):
            command = list(service.command or ["postgres"])
            for flag in SPEED_FLAGS:
                if flag not in command:
                    command += ["-c", flag]
            body["command"] = command
        if name == spec.redis_service and service.command is None:
            body["command"] = ["redis-server", "--save", "", "--appendonly", "no"]
        # the environment: the database's name wherever it is read
        environment: dict[str, str] = {}
        if spec.isolate:
            if name == spec.postgres_service:
                environment["DASHENV_ENVIRONMENT"] = spec.environment
            for key, value in service.environment.items():
                # a URL naming a container by the name it no longer has: by its service
                if re.match(r"^(postgres(ql)?(\+\w+)?|rediss?)://", value):
                    new = with_host(value, hosts_renamed)
                    if new != value:
                        environment[key] = new
                        rewrites.append((name, key, "host: the service, not the container"))
        elif account is not None and database is not None:
            if name == spec.postgres_service:
                keys = [k for k in DATABASE_KEYS if k in service.environment] or ["POSTGRES_DB"]
                for key in keys:
                    environment[key] = database
                    rewrites.append((name, key, f"{account.database} -> {database}"))
                environment["DASHENV_ENVIRONMENT"] = spec.environment
            else:
                found = connection_keys(service.environment, account.database, pg_hosts)
                for c in found:
                    value = service.environment[c.key]
                    if c.kind == "url":
                        new = with_host(with_database(value, database), hosts_renamed)
                    elif c.kind == "name":
                        new = database
                    elif c.kind == "host" and value in hosts_renamed:
                        new = hosts_renamed[value]
                    else:
                        new = value
                    if name == spec.app_service:
                        connections.append(Connection(c.key, c.kind, new))
                    if new != value:
                        environment[c.key] = new
                        rewrites.append((name, c.key, f"database {account.database} -> {database}"))
                # then every value still holding one of dev's coordinates, by value
                done = {c.key for c in found}
                seen = {k: v for k, v in service.environment.items() if k not in done}
                for r in isolation.rewrite(seen, dev_side, test_side, "container")[1]:
                    environment[r.key] = r.new
                    rewrites.append((name, r.key, f"{r.old} -> {r.new}"))
        if name not in (spec.postgres_service, spec.redis_service) and not spec.isolate:
            environment.update(markers(service.environment, spec.markers))
        if environment:
            body["environment"] = environment
        body["labels"] = {
            "dev.dashenv.environment": spec.environment,
            "dev.dashenv.derived-from": spec.source,
        }
        document["services"][name] = body
    top = own_networks(model, {k: own_name(v, spec) for k, v in model.fixed_networks.items()})
    if top:
        document["networks"] = top
    if model.fixed_volumes:
        document["volumes"] = {
            k: {"name": own_name(v, spec)} for k, v in model.fixed_volumes.items()
        }
    return Derivation(
        dump(document, header),
        database,
        account.database if account else None,
        rewrites,
        running,
        off,
        replaced,
        connections,
        hosts_renamed,
        (dev_side, test_side),
    )


def container_sides(
    model: ComposeModel, spec: DeriveSpec, account: Account | None, database: str | None
) -> tuple[isolation.Servers, isolation.Destination]:
    """The source's servers as a container of the derived stack could still reach them (the
    container names the files fix, the machine's gateway at the published ports), and the
    derived stack's own (its services at their container ports)."""

    def side(service: str, container_port: int) -> tuple[frozenset[isolation.Endpoint], ...]:
        svc = model.services.get(service)
        if svc is None:
            return frozenset(), frozenset()
        published = next((p[1] for p in svc.ports if p[2] == container_port), None)
        # a fixed container name is the source's, unless isolated: then it stays the
        # environment's own
        fixed = {svc.container_name} if svc.container_name and not spec.isolate else set()
        dev = isolation.reach_from_container(fixed, container_port, published)
        ours = frozenset({isolation.Endpoint(service.lower(), container_port)})
        return dev, ours

    pg_dev, pg_ours = side(spec.postgres_service, 5432)
    redis_dev, redis_ours = side(spec.redis_service, 6379)
    dev = isolation.Servers(
        postgres=pg_dev,
        database=account.database if account else None,
        redis=redis_dev,
        redis_indexes=(),
    )
    test = isolation.Destination(
        postgres=next(iter(pg_ours), None),
        database=database,
        redis=next(iter(redis_ours), None),
        aliases_postgres=pg_ours,
        aliases_redis=redis_ours,
    )
    return dev, test


def own_name(name: str, spec: DeriveSpec) -> str:
    """A name the files fix, made the environment's own: after its project (isolated: its
    project added where the name does not start with it)."""
    if spec.isolate:
        return name if name.startswith(f"{spec.project}-") else f"{spec.project}-{name}"
    return renamed(name, spec.source_project, spec.project)


def clashes(mine: ComposeModel, other: ComposeModel) -> list[str]:
    """What two environments' files both claim: container names, host ports, bind-mounted
    directories (each would stop one of them, or share its data)."""
    found: list[str] = []
    names = {s.container_name for s in other.services.values() if s.container_name}
    ports = {p[1] for s in other.services.values() for p in s.ports}
    binds = {m[1] for s in other.services.values() for m in data_mounts(s) if m[0] == "bind"}
    for s in mine.services.values():
        if s.container_name and s.container_name in names:
            found.append(f"container_name {s.container_name}")
        found += [f"host port {p[1]} ({s.name})" for p in s.ports if p[1] in ports]
        found += [f"data directory {m[1]} ({s.name})" for m in data_mounts(s)
                  if m[0] == "bind" and m[1] in binds]  # fmt: skip
    return found


def data_mounts(service: ComposeService) -> list[tuple[str, str, str, bool]]:
    """The mounts of a database's or cache's data path (by its image)."""
    from dashenv.plan.compose_files import plays

    if plays("postgres_service", service):
        path = postgres_data_path(service)
    elif plays("redis_service", service):
        path = redis_data_path(service)
    else:
        return []
    return [m for m in service.mounts if m[0] != "tmpfs" and overlaps(m[2], path)]


def clashing_ports(mine: ComposeModel, other: ComposeModel) -> frozenset[int]:
    ports = {p[1] for s in other.services.values() for p in s.ports}
    return frozenset(p[1] for s in mine.services.values() for p in s.ports if p[1] in ports)


def pg_name(service: ComposeService | None) -> str | None:
    return service.name if service is not None else None


def _official_postgres(service: ComposeService, known: tuple[str, ...] = ()) -> bool:
    """PostgreSQL with the official image's entrypoint contract, running its server: a known
    image, one of ``known``, or a build FROM one (not Bitnami's, which has its own)."""
    from dashenv.plan.compose_files import official_contract, postgres_image

    return official_contract(postgres_image(service, known), known) and (
        service.command is None or service.command[:1] == ["postgres"]
    )


def _mount(m: tuple[str, str, str, bool]) -> str:
    _kind, source, target, read_only = m
    return f"{source}:{target}{':ro' if read_only else ''}" if source else target


def markers(environment: dict[str, str], given: tuple[str, ...]) -> dict[str, str]:
    """The seed's test markers for an app-side service: those ``given`` (the app reads them
    as test markers) set, the others as they are otherwise (the derived env file says
    testing to dashenv either way)."""
    from dashenv.settings.model import MARKERS

    return {
        k: value if k in given else environment[k]
        for k, value in MARKERS.items()
        if k in given or k in environment
    }


def env_text(
    entries: dict[str, str],
    derivation: Derivation,
    account: Account | None,
    postgres_service: str,
    source_file: str | None,
) -> str:
    """The derived environment's env file: the source's entries with the database renamed,
    DATABASE_URL where the source has none, and the markers dashenv's guards read."""
    out: dict[str, str] = {}
    database, old = derivation.database, derivation.source_database
    for key, value in entries.items():
        if database and old and _names_database(value, old):
            value = with_database(value, database)
        elif database and old and value == old and key in (*DATABASE_KEYS, "PGDATABASE"):
            value = database
        out[key] = value
    if derivation.sides is not None:  # then every value still holding dev's coordinates
        out = isolation.rewrite(out, *derivation.sides, "container")[0]
    if "DATABASE_URL" not in out and account is not None and database:
        url = account_url(account, postgres_service, database)
        # in the form the app writes its own (postgres://, a driver suffix, a query)
        own = next((c.value for c in derivation.connections if c.kind == "url"), None)
        out["DATABASE_URL"] = in_form_of(url, own) if own else url
    out["ENVIRONMENT"] = "testing"
    out["TESTING"] = "true"
    head = [
        f"# Written by dashenv from {source_file or 'the compose files'}: the derived test "
        "environment's settings.",
        "# Rewritten on every run; edit the source instead.",
    ]
    body = [f"{k}={quote_value(v)}" for k, v in out.items()]
    return "\n".join(head + body) + "\n"
