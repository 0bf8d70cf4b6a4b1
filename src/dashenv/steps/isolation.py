"""Isolation on the app's own terms: the protected environments' servers as a test-side
process would reach them, the variables it is handed rewritten by value
(``dashenv.plan.isolation``), and the guard that refuses to start it (exit 3, audited)
where its final variables, inherited ones included, still reach one of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashenv.errors import ConfigError, GuardRefused
from dashenv.plan import isolation

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.settings.app import DatabaseURL
    from dashenv.settings.sources import ResolvedEnvironment


def is_test_side(env: ResolvedEnvironment) -> bool:
    """A process of this environment must never reach a protected one's data."""
    return not env.settings.protected


def protected(t: Environment) -> list[ResolvedEnvironment]:
    """Every other protected environment of the project, resolved (an env file it lacks is
    not fatal: its compose files still say where its servers are); none for a protected
    environment itself."""
    if not is_test_side(t.env):
        return []
    return [o.env for o in protected_environments(t, skip_broken=True)]


def protected_environments(t: Environment, *, skip_broken: bool = False) -> list[Environment]:
    """Every other environment of the project that is protected, leniently resolved (an env
    file it lacks is not fatal); ``skip_broken``: one whose configuration cannot be resolved
    at all is left out rather than stopping the command (exit 2)."""
    found = []
    for o in t.ctx.environments(lenient=True):
        if o.name == t.name:
            continue
        try:
            if o.env.settings.protected:
                found.append(o)
        except ConfigError:
            if not skip_broken:
                raise
    return found


def database_url_of(env: ResolvedEnvironment) -> DatabaseURL | None:
    """The database the environment's app uses: its DATABASE_URL (the one its PostgreSQL
    service implies where the env file names none), also where its env file is missing or
    unusable (a lenient look at a protected environment)."""
    from dashenv.settings.app import DatabaseURL

    try:
        return env.app.database()
    except ConfigError:
        implied = env.files.database_url if env.files is not None else None
        return DatabaseURL.parse(implied[0]) if implied is not None else None


def database_of(env: ResolvedEnvironment) -> tuple[str | None, str | None]:
    """(database name, the host its URL names) as the environment's app sees it."""
    db = database_url_of(env)
    return (db.database, db.host) if db is not None else (None, None)


def _indexes(env: ResolvedEnvironment) -> tuple[int, ...]:
    try:
        return env.redis_indexes
    except ConfigError:
        return (env.settings.redis_index or 0,)


def _shares(env: ResolvedEnvironment, dev: ResolvedEnvironment, port: str) -> bool:
    """Both publish the same server: one compose project and one port (the overlay)."""
    mine, theirs = getattr(env.settings, port), getattr(dev.settings, port)
    return (
        mine is not None
        and mine == theirs
        and env.settings.host == dev.settings.host
        and env.settings.project_name == dev.settings.project_name
    )


def _fixed_names(env: ResolvedEnvironment, service: str) -> set[str]:
    model = env.files.model if env.files is not None else None
    svc = model.services.get(service) if model else None
    return {svc.container_name} if svc is not None and svc.container_name else set()


def host_sides(
    env: ResolvedEnvironment, dev: ResolvedEnvironment, database: str | None = None
) -> tuple[isolation.Servers, isolation.Destination]:
    """``dev``'s servers and ``env``'s own as a process on the host reaches them."""
    d, s = dev.settings, env.settings
    dev_database, _ = database_of(dev)
    own_database, own_host = database_of(env)
    servers = isolation.Servers(
        postgres=isolation.reach_from_host({d.host}, d.postgres_port),
        database=dev_database,
        redis=isolation.reach_from_host({d.host}, d.redis_port),
        redis_indexes=_indexes(dev),
    )
    pg_names = {s.postgres_service, *_fixed_names(env, s.postgres_service), own_host or ""}
    redis_names = {s.redis_service, *_fixed_names(env, s.redis_service)}
    dest = isolation.Destination(
        postgres=isolation.Endpoint(s.host, s.postgres_port) if s.postgres_port else None,
        database=database or own_database,
        redis=isolation.Endpoint(s.host, s.redis_port) if s.redis_port else None,
        redis_index=env.redis_index if s.redis_port else None,
        aliases_postgres=frozenset(isolation.Endpoint(n.lower(), 5432) for n in pg_names if n),
        aliases_redis=frozenset(isolation.Endpoint(n.lower(), 6379) for n in redis_names if n),
        shared_postgres=_shares(env, dev, "postgres_port"),
        shared_redis=_shares(env, dev, "redis_port"),
    )
    return servers, dest


def container_sides(
    env: ResolvedEnvironment, dev: ResolvedEnvironment
) -> tuple[isolation.Servers, isolation.Destination]:
    """``dev``'s servers and ``env``'s own as a container of ``env``'s stack reaches them:
    dev's fixed container names (where ``env`` does not answer to them itself) and the
    machine's gateway at dev's published ports."""
    d, s = dev.settings, env.settings
    dev_database, _ = database_of(dev)
    own_database, _ = database_of(env)
    mine = _fixed_names(env, s.postgres_service) | _fixed_names(env, s.redis_service)
    servers = isolation.Servers(
        postgres=isolation.reach_from_container(
            _fixed_names(dev, d.postgres_service) - mine, 5432, d.postgres_port
        ),
        database=dev_database,
        redis=isolation.reach_from_container(
            _fixed_names(dev, d.redis_service) - mine, 6379, d.redis_port
        ),
        redis_indexes=_indexes(dev),
    )
    pg_own = isolation.Endpoint(s.postgres_service.lower(), 5432)
    redis_own = isolation.Endpoint(s.redis_service.lower(), 6379)
    shared = d.project_name == s.project_name
    dest = isolation.Destination(
        postgres=pg_own,
        database=own_database,
        redis=redis_own,
        redis_index=env.redis_index,
        aliases_postgres=frozenset({pg_own}),
        aliases_redis=frozenset({redis_own}),
        shared_postgres=shared,
        shared_redis=shared,
    )
    return servers, dest


def for_host(t: Environment, values: dict[str, str], database: str | None = None) -> dict[str, str]:
    """``values`` (what a process on the host is handed) with every variable that still
    holds a protected environment's coordinates pointed at ``t``'s own servers."""
    for dev in protected(t):
        values = isolation.rewrite(values, *host_sides(t.env, dev, database), "host")[0]
    return values


def check_host(
    t: Environment, final: dict[str, str], what: str, database: str | None = None
) -> None:
    """Refuse (exit 3, audited, nothing run) to start ``what`` on the host where a variable
    of its final environment (``final``: the shell's included) reaches a protected
    environment's PostgreSQL or Redis."""
    for dev in protected(t):
        found = isolation.leaks(final, *host_sides(t.env, dev, database), "host")
        if found:
            _refuse(t, dev, found, what, "on the host")


def check_container(t: Environment, service: str, extra: dict[str, str], what: str) -> None:
    """Refuse (exit 3, audited) to start ``what`` in ``service`` where what the service gets
    (its resolved compose environment, then ``extra``) reaches a protected environment."""
    env = t.env
    model = env.files.model if env.files is not None else None
    svc = model.services.get(service) if model else None
    final = {**(svc.environment if svc is not None else {}), **extra}
    for dev in protected(t):
        found = isolation.leaks(final, *container_sides(env, dev), "container")
        if found:
            _refuse(t, dev, found, what, f"in {service}")


def _refuse(
    t: Environment,
    dev: ResolvedEnvironment,
    found: list[isolation.Leak],
    what: str,
    where: str,
) -> None:
    from dashenv.adapters import audit
    from dashenv.settings.secrets import mask_value

    env = t.env
    first = found[0]
    shown = mask_value(first.key, first.value)
    entry = (env.env_entries or {}).get(first.key)
    if entry is not None:
        fix = f"its line in {env.settings.env_file}" + (f":{entry.line}" if entry.line else "")
        if env.derivation is not None:
            fix += f", made from {dev.name}'s env file: fix it there"
    elif where == "on the host":
        fix = f"unset {first.key} in your shell"
    else:
        fix = f"the {first.key} the compose files give {where[3:]}"
    audit.record(
        t.ctx.audit_path(),
        environment=env.name,
        action="isolation guard",
        target=what,
        guards=[
            {"guard": "effective environment", "passed": False, "saw": f.key, "reason": f.reaches}
            for f in found
        ],
        outcome="refused",
        details={"protected": dev.name, "where": where},
    )
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    leased = "" if env.settings.postgres_port else f"; 'dashenv up {env.name}' leases its ports"
    raise GuardRefused(
        f"refusing to run {what} {where}: {first.key} ({shown}) reaches {dev.name}'s data, "
        f"{first.reaches}{more}",
        hint=f"point it at {env.name}'s own server: {fix}, or give {env.name} an env file of "
        f"its own (env_file under [environments.{env.name}] in dashenv.toml); 'dashenv env "
        f"{env.name}' shows what {env.name} hands over{leased}",
        details="\n".join(f"  {f.key}: {f.reaches}" for f in found) if more else None,
    )
