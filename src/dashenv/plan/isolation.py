"""Isolation by value: where a protected environment's servers are, what in a test-side
process's variables still reaches them, and how each such value is rewritten to the test
environment's own server. Pure: coordinates and variables in, variables and findings out.

A variable is recognised by what it holds, read together with the shape of its name:

- a URL by its value alone (``postgres://``, ``postgresql+asyncpg://``, ``redis://``,
  ``rediss://``), its form kept when rewritten (scheme, driver suffix, quoting, query);
- a part of a connection by its name's last word (``*_HOST``, ``*_HOSTNAME``, ``*_SERVER``,
  ``*_PORT``, ``*_DB``, ``*_NAME``, ``*_DATABASE``, libpq's ``PGHOST``/``PGPORT``/
  ``PGDATABASE``, any prefix, ``A__B`` nesting), the parts sharing a prefix read as one
  connection (``DATABASE__HOSTNAME`` + ``DATABASE__PORT`` + ``DATABASE__DB``), and rewritten
  only where the value is one of the protected environment's coordinates.

Anything else (a JSON list of origins, a page size of 5432) passes through untouched.

"Side" is where the process runs: on the ``host`` a server is reached at a published port
(a port with no host beside it means localhost); in a ``container`` of the derived stack the
service name and the container port already reach the test's own server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "ip6-localhost"})
# names a container reaches the machine's published ports by
GATEWAYS = frozenset({"host.docker.internal", "gateway.docker.internal", "172.17.0.1"})
POSTGRES_URL = re.compile(r"^postgres(ql)?(\+[\w-]+)?://", re.IGNORECASE)
REDIS_URL = re.compile(r"^rediss?://", re.IGNORECASE)
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379}
HOST_WORDS = ("HOST", "HOSTNAME", "SERVER", "ADDR", "ADDRESS", "HOSTADDR")
PORT_WORDS = ("PORT",)
NAME_WORDS = ("DB", "DATABASE", "DBNAME", "NAME")
# a prefix that says its parts are a database's (only then is *_NAME a database's name)
DATABASE_HINT = re.compile(r"(^|_)(DB|DATABASE|POSTGRES|POSTGRESQL|PG|PSQL|SQL)(_|$)")
REDIS_HINT = re.compile(r"(^|_)(REDIS|CACHE|BROKER|VALKEY)(_|$)")
LIBPQ = {"PGHOST": "host", "PGHOSTADDR": "host", "PGPORT": "port", "PGDATABASE": "name"}


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class Servers:
    """Where one environment's PostgreSQL and Redis are, as seen from one side: every
    (host, port) that reaches each, its database's name and its Redis indexes."""

    postgres: frozenset[Endpoint] = frozenset()
    database: str | None = None
    redis: frozenset[Endpoint] = frozenset()
    redis_indexes: tuple[int, ...] = ()

    def reaches(self, kind: str, at: Endpoint) -> bool:
        """``at`` is this environment's PostgreSQL (``kind`` postgres) or Redis."""
        return at in (self.postgres if kind == "postgres" else self.redis)


@dataclass(frozen=True)
class Destination:
    """The test environment's own servers from one side: where a value reaching the
    protected one is pointed instead (None: not reachable from that side yet, such as a port
    not leased), and the endpoints that already mean them (``aliases``: the in-network form
    of a value on the host)."""

    postgres: Endpoint | None = None
    database: str | None = None
    redis: Endpoint | None = None
    redis_index: int | None = None
    aliases_postgres: frozenset[Endpoint] = frozenset()
    aliases_redis: frozenset[Endpoint] = frozenset()
    # the two environments share a server (the overlay): only the database's name, or the
    # Redis index, tells them apart there
    shared_postgres: bool = False
    shared_redis: bool = False

    def aim(self, kind: str) -> tuple[frozenset[Endpoint], Endpoint | None, bool]:
        """(aliases, target, shared) of its PostgreSQL (``kind`` postgres) or Redis."""
        if kind == "postgres":
            return self.aliases_postgres, self.postgres, self.shared_postgres
        return self.aliases_redis, self.redis, self.shared_redis


@dataclass(frozen=True)
class Rewrite:
    key: str
    old: str
    new: str


@dataclass(frozen=True)
class Leak:
    """A variable that reaches the protected environment: its name, its value, what it
    reaches."""

    key: str
    value: str
    reaches: str


@dataclass
class _Group:
    """The parts of one connection named apart (``<prefix>_HOST``, ``_PORT``, ``_DB``)."""

    prefix: str
    host: str | None = None
    port: str | None = None
    name: str | None = None  # the key of each part
    keys: dict[str, str] = field(default_factory=dict)  # role -> key


def part_of(key: str) -> tuple[str, str] | None:
    """(prefix, role) of a variable named like a connection's part, role host, port or
    name; None otherwise. ``DATABASE__PORT`` -> (DATABASE, port)."""
    upper = key.upper()
    if upper in LIBPQ:
        return "PG", LIBPQ[upper]
    words = [w for w in upper.split("_") if w]
    if len(words) < 2:
        return None
    last, prefix = words[-1], "_".join(words[:-1])
    if last in HOST_WORDS:
        return prefix, "host"
    if last in PORT_WORDS:
        return prefix, "port"
    if last in NAME_WORDS:
        return prefix, "name"
    return None


def _groups(values: dict[str, str]) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for key, value in values.items():
        if POSTGRES_URL.match(value) or REDIS_URL.match(value):
            continue
        found = part_of(key)
        if found is None:
            continue
        prefix, role = found
        group = groups.setdefault(prefix, _Group(prefix))
        if role not in group.keys:  # the first of a role wins (HOST before HOSTNAME)
            group.keys[role] = key
    return list(groups.values())


def _port(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else None


def _is_redis(group: _Group, values: dict[str, str], dev: Servers) -> bool:
    if REDIS_HINT.search(group.prefix):
        return True
    port = _port(values.get(group.keys.get("port", "")))
    return (
        port is not None
        and any(e.port == port for e in dev.redis)
        and not any(e.port == port for e in dev.postgres)
    )


def _reach(host: str | None, port: int | None, default_port: int, side: str) -> Endpoint | None:
    """The endpoint a connection's parts name; a port with no host is localhost on the host
    (inside a container it is the container itself)."""
    if host is None:
        if side != "host":
            return None
        host = "localhost"
    return Endpoint(host.lower(), port or default_port)


def _same_family(old: str, new: str) -> str:
    """Keep a loopback name the value used where the destination is loopback too."""
    return old if old.lower() in LOOPBACK and new in LOOPBACK else new


# --- URLs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Url:
    kind: str  # postgres, redis
    host: str | None
    port: int | None
    database: str | None  # postgres: the database; redis: the index as text
    query: dict[str, str]


def _parse_url(value: str) -> _Url | None:
    kind = "postgres" if POSTGRES_URL.match(value) else "redis" if REDIS_URL.match(value) else ""
    if not kind:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
        host = parts.hostname
    except ValueError:  # several hosts, a port that is no number: not one coordinate
        return None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    path = unquote(parts.path.lstrip("/"))
    if kind == "postgres":
        host = query.get("host") or query.get("hostaddr") or host
        if _port(query.get("port")) is not None:
            port = _port(query.get("port"))
        database = query.get("dbname") or query.get("database") or path or None
    else:
        database = query.get("db") or path or "0"
    return _Url(kind, host, port, database, query)


def _rewrite_url(value: str, dev: Servers, dest: Destination, side: str) -> str:
    """The URL pointed at the test environment's server, or unchanged (also where that
    server cannot be reached from ``side`` yet: a port not leased; the guard refuses it)."""
    url = _parse_url(value)
    if url is None:
        return value
    at = _reach(url.host, url.port, DEFAULT_PORTS[url.kind], side)
    aliases, target, shared = dest.aim(url.kind)
    new_host: str | None = None
    new_port: int | None = None
    dev_server = at is not None and dev.reaches(url.kind, at)
    ours = at is not None and at in aliases
    if (dev_server and not shared) or ours:
        if target is None:
            return value
        new_host, new_port = _same_family(url.host or "localhost", target.host), target.port
    on_dev_or_ours = dev_server or ours or (at is not None and target is not None and at == target)
    new_database: str | None = None
    if url.kind == "postgres":
        if on_dev_or_ours and url.database == dev.database and dest.database:
            new_database = dest.database
    elif on_dev_or_ours and shared and _index(url.database) in dev.redis_indexes:
        new_database = None if dest.redis_index is None else str(dest.redis_index)
    if new_host is None and new_database is None:
        return value
    return _with_parts(value, url, new_host, new_port, new_database)


def _with_parts(
    value: str, url: _Url, host: str | None, port: int | None, database: str | None
) -> str:
    """``value`` with its host, port and database (or index) replaced in place, everything
    else (scheme, credentials, quoting, query order) as written."""
    parts = urlsplit(value)
    netloc, query, path = parts.netloc, parts.query, parts.path
    if host is not None and port is not None:
        in_query = {k for k in url.query if k in ("host", "hostaddr", "port")}
        if in_query:
            query = _replace_query(query, {k: str(port) if k == "port" else host for k in in_query})
        auth, at, _hostport = netloc.rpartition("@")
        shown = f"[{host}]" if ":" in host else host
        netloc = f"{auth}{at}{shown}:{port}"
    if database is not None:
        keys = [k for k in ("dbname", "database", "db") if k in url.query]
        if keys:
            query = _replace_query(query, dict.fromkeys(keys, database))
        if parts.path.strip("/") or not keys:
            path = "/" + quote(database, safe="")
    rebuilt = f"{parts.scheme}://{netloc}{path}"
    if query:
        rebuilt += f"?{query}"
    if parts.fragment:
        rebuilt += f"#{parts.fragment}"
    return rebuilt


def _replace_query(query: str, new: dict[str, str]) -> str:
    out = []
    for item in query.split("&"):
        key, eq, _ = item.partition("=")
        out.append(f"{key}={quote(new[key], safe='')}" if eq and key in new else item)
    return "&".join(out)


# --- the rewrite and the guard --------------------------------------------------------


def rewrite(
    values: dict[str, str], dev: Servers, dest: Destination, side: str
) -> tuple[dict[str, str], list[Rewrite]]:
    """``values`` with every variable that holds one of ``dev``'s coordinates (or a URL
    naming them) pointed at the test environment's equivalent on ``side``; and what changed."""
    out = dict(values)
    for key, value in values.items():
        out[key] = _rewrite_url(value, dev, dest, side)
    for group in _groups(values):
        _rewrite_group(group, values, out, dev, dest, side)
    changed = [Rewrite(k, values[k], out[k]) for k in values if out[k] != values[k]]
    return out, changed


def _rewrite_group(
    group: _Group,
    values: dict[str, str],
    out: dict[str, str],
    dev: Servers,
    dest: Destination,
    side: str,
) -> None:
    host_key, port_key, name_key = (group.keys.get(r) for r in ("host", "port", "name"))
    host = values[host_key] if host_key else None
    port_text = values[port_key] if port_key else None
    port = _port(port_text)
    if port_text is not None and port is None:
        return  # not a port: not a connection's part
    redis = _is_redis(group, values, dev)
    if not redis and name_key is not None and not _database_name_key(group, name_key):
        name_key = None
    if host_key is None and port_key is None and name_key is None:
        return
    kind = "redis" if redis else "postgres"
    at = _reach(host, port, DEFAULT_PORTS[kind], side) if (host or port) else None
    aliases, target, shared = dest.aim(kind)
    dev_server = at is not None and dev.reaches(kind, at)
    ours = at is not None and at in aliases
    if ((dev_server and not shared) or ours) and target is not None:
        if host_key is not None and host is not None:
            out[host_key] = _same_family(host, target.host)
        if port_key is not None:
            out[port_key] = str(target.port)
    # the database's name (or the Redis index) where the connection is dev's, ours, or
    # names no server at all (a name alone)
    if name_key is None:
        return
    somewhere_else = at is not None and not (dev_server or ours or at == target)
    if somewhere_else:
        return
    value = values[name_key]
    if not redis and value == dev.database and dest.database:
        out[name_key] = dest.database
    elif redis and shared and _index(value) in dev.redis_indexes and dest.redis_index is not None:
        out[name_key] = str(dest.redis_index)


def _database_name_key(group: _Group, key: str) -> bool:
    """``*_DB``, ``*_DATABASE``, ``*_DBNAME`` name a database; ``*_NAME`` only with a prefix
    that says database, or beside a host or port part (``PROJECT_NAME`` is not one)."""
    last = key.upper().rsplit("_", 1)[-1]
    if last != "NAME":
        return True
    return bool(DATABASE_HINT.search(group.prefix)) or "host" in group.keys or "port" in group.keys


def leaks(values: dict[str, str], dev: Servers, dest: Destination, side: str) -> list[Leak]:
    """The variables of a test-side process that still reach ``dev``'s PostgreSQL server or
    Redis (by host and port, from ``side``), or, on a server the two share, dev's database
    or one of dev's Redis indexes."""
    found: list[Leak] = []
    for key, value in values.items():
        url = _parse_url(value)
        at = _reach(url.host, url.port, DEFAULT_PORTS[url.kind], side) if url else None
        reached = _reaches(url.kind, at, url.database, dev, dest) if url and at else None
        if reached is not None:
            found.append(Leak(key, value, reached))
    for group in _groups(values):
        found += _group_leaks(group, values, dev, dest, side)
    return found


def _reaches(
    kind: str, at: Endpoint, database: str | None, dev: Servers, dest: Destination
) -> str | None:
    """What of ``dev``'s a connection to ``at`` naming ``database`` (for Redis, its index)
    reaches, or None: on a server the two share, only dev's database or indexes count."""
    if not dev.reaches(kind, at):
        return None
    _aliases, _target, shared = dest.aim(kind)
    if kind == "postgres":
        if not shared:
            return f"the protected PostgreSQL at {_show(at)}"
        return f"the protected database {dev.database}" if database == dev.database else None
    if not shared:
        return f"the protected Redis at {_show(at)}"
    index = _index(database)
    return f"the protected Redis index {index}" if index in dev.redis_indexes else None


def _group_leaks(
    group: _Group, values: dict[str, str], dev: Servers, dest: Destination, side: str
) -> list[Leak]:
    host_key, port_key, name_key = (group.keys.get(r) for r in ("host", "port", "name"))
    host = values[host_key] if host_key else None
    port = _port(values[port_key]) if port_key else None
    if port_key is not None and port is None:
        return []
    if host_key is None and port_key is None:
        return []
    kind = "redis" if _is_redis(group, values, dev) else "postgres"
    at = _reach(host, port, DEFAULT_PORTS[kind], side)
    if at is None:
        return []
    # the database (or index) the parts name; "" where none is named (never dev's name,
    # Redis's index 0)
    named = kind == "redis" or (name_key is not None and _database_name_key(group, name_key))
    database = values[name_key] if name_key and named else ""
    reached = _reaches(kind, at, database, dev, dest)
    if reached is None:
        return []
    shown = ", ".join(f"{k}={values[k]}" for k in (host_key, port_key, name_key) if k)
    blamed = name_key if reached.startswith("the protected database") else port_key or host_key
    return [Leak(blamed or "", shown, reached)]


def _index(value: str | None) -> int | None:
    """A Redis index as written (None: not one); no index is 0."""
    if not value:
        return 0
    return int(value) if value.strip().isdigit() else None


def _show(at: Endpoint) -> str:
    return f"{at.host}:{at.port}"


def reach_from_host(hosts: set[str], port: int | None) -> frozenset[Endpoint]:
    """Every (host, port) a process on the host reaches a server published at ``port`` by."""
    if port is None:
        return frozenset()
    return frozenset(Endpoint(h.lower(), port) for h in {*LOOPBACK, *hosts} if h)


def reach_from_container(
    names: set[str], container_port: int, published: int | None
) -> frozenset[Endpoint]:
    """Every (host, port) a container reaches a server by: its service and container names
    at the container port (where it shares the network), the machine's gateway at the
    published port."""
    found = {Endpoint(n.lower(), container_port) for n in names if n}
    if published is not None:
        found |= {Endpoint(g, published) for g in GATEWAYS}
    return frozenset(found)
