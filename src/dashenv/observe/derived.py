"""The derived layer: an environment made from another's compose files (``derived_from``),
as ``dashenv.plan.derive`` plans it. Its override and env file are generated files (shown to
Compose from a scratch directory when asking, written under ``.dashenv/derived/`` when
running); its PostgreSQL and Redis publish the host ports leased for it (``up`` leases them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dashenv.settings.sources import ResolvedEnvironment

DERIVED_DIR = ".dashenv/derived"
STAMP_PATH = f"{DERIVED_DIR}/dashenv-stamp.sh"  # mounted into a derived PostgreSQL's initdb
# what a derived environment takes from its source, unless a layer sets it
INHERITED = (
    "app_service", "callback_service", "postgres_service", "redis_service", "host",
    "migration_command", "migrations_dir", "alembic_config", "alembic_command",
    "test_command", "test_runner", "health_path", "up_timeout", "context", "redis_indexes",
    "host_dir", "app_scheme",
)  # fmt: skip


def override_path(name: str) -> str:
    return f"{DERIVED_DIR}/{name}.yml"


def env_path(name: str) -> str:
    return f"{DERIVED_DIR}/{name}.env"


def derived_defaults(source: ResolvedEnvironment, name: str) -> dict[str, Any]:
    """The defaults of ``name``, derived from ``source``: its files plus the override, the
    generated env file, a project of its own, a test role."""
    s = source.settings
    found: dict[str, Any] = {k: getattr(s, k) for k in INHERITED}
    found.update(
        role="ci" if name == "ci" else "testing",
        protected=False,
        compose_files=[*s.compose_files, override_path(name)],
        env_file=env_path(name),
        project_name=f"{s.project_name}-{name}",
        app_http=False,
    )
    return found


def lease_slots(env: ResolvedEnvironment) -> list[str]:
    """The slots a derived environment publishes on leased ports: its PostgreSQL and Redis."""
    s = env.settings
    return [f"{s.postgres_service}:5432", f"{s.redis_service}:6379"]


def own_leases(env: ResolvedEnvironment) -> dict[str, int]:
    """The host ports leased to ``env`` itself in this checkout (slot -> port)."""
    from dashenv.adapters.registry import Registry
    from dashenv.observe.instance import checkout_of

    checkout = checkout_of(env)
    return {
        lease.slot: lease.port
        for lease in Registry().read().leases
        if (lease.checkout, lease.environment, lease.instance) == (checkout, env.name, "")
    }


def with_derivation(
    env: ResolvedEnvironment, source: ResolvedEnvironment, *, verbose: bool = False
) -> ResolvedEnvironment:
    """``env`` (resolved with ``derived_defaults``) with its override and env file generated
    from ``source``'s compose model and env file, then reconciled with the result."""
    from dashenv.observe.compose import with_compose_files
    from dashenv.plan.derive import STAMP_SCRIPT, DeriveSpec, account_of, derive, env_text
    from dashenv.settings.envfile import parse_env_text

    if source.files is None:
        return env  # Compose could not read the source's files: the commands say why
    s = env.settings
    model = source.files.model
    leases = own_leases(env)
    spec = DeriveSpec(
        environment=env.name,
        source=source.name,
        project=s.project_name,
        source_project=source.settings.project_name,
        postgres_service=s.postgres_service,
        redis_service=s.redis_service,
        app_service=s.app_service,
        ports={slot: port for slot, port in leases.items() if slot in lease_slots(env)},
        host=s.host,
        markers=s.derive_markers,
        wanted=tuple(s.profiles),
        stamp_script=str(env.path(STAMP_PATH)),
    )
    derivation = derive(model, spec)
    pg = model.services.get(s.postgres_service)
    entries = _source_entries(source)
    shown = source.settings.env_file if entries is not None else None
    text = env_text(
        {k: e.value for k, e in (entries or {}).items() if not k.startswith("DASHENV_")},
        derivation,
        account_of(pg) if pg is not None else None,
        s.postgres_service,
        shown,
    )
    generated = {
        **env.generated,
        override_path(env.name): derivation.override,
        env_path(env.name): text,
        STAMP_PATH: STAMP_SCRIPT,
    }
    derived = replace(
        env,
        generated=generated,
        env_entries=parse_env_text(text, s.env_file),
        derivation=derivation,
    )
    return with_compose_files(derived, verbose=verbose)


def _source_entries(source: ResolvedEnvironment) -> Any:
    """The source's env file entries, or None without one."""
    from dashenv.errors import ConfigError
    from dashenv.settings.envfile import read_env_file

    if source.env_entries is not None:
        return source.env_entries
    path = source.path(source.settings.env_file)
    if not path.is_file():
        return None
    try:
        return read_env_file(path, source.settings.env_file)
    except ConfigError:
        return None


def with_isolation(
    env: ResolvedEnvironment, others: list[ResolvedEnvironment], *, verbose: bool = False
) -> ResolvedEnvironment:
    """``env`` (a test role with files of its own, ``isolated``) made to run beside ``others``:
    the names its files share made its own, its PostgreSQL and Redis on leased ports, the host
    ports it shares not published, its data on tmpfs."""
    from dashenv.errors import ConfigError
    from dashenv.guards import RESET_ROLES
    from dashenv.observe.compose import with_compose_files
    from dashenv.plan.derive import STAMP_SCRIPT, DeriveSpec, clashing_ports, derive

    s = env.settings
    if env.files is None:
        return env
    if s.protected or s.role not in RESET_ROLES:
        raise ConfigError(
            f"{env.name}: isolated puts its data on tmpfs, and {env.name} is "
            f"{'protected' if s.protected else 'a ' + s.role + ' environment'}",
            hint=f"set isolated only on a test environment (role testing or ci), or remove it "
            f"from {env.name}",
        )
    model = env.files.model
    clashing: frozenset[int] = frozenset()
    for other in others:
        if other.files is not None:
            clashing |= clashing_ports(model, other.files.model)
    leases = own_leases(env)
    spec = DeriveSpec(
        environment=env.name,
        source=env.name,
        project=s.project_name,
        source_project=s.project_name,
        postgres_service=s.postgres_service,
        redis_service=s.redis_service,
        app_service=s.app_service,
        ports={slot: port for slot, port in leases.items() if slot in lease_slots(env)},
        host=s.host,
        stamp_script=str(env.path(STAMP_PATH)),
        isolate=True,
        clashing=clashing,
    )
    derivation = derive(model, spec)
    rel = override_path(env.name)
    generated = {**env.generated, rel: derivation.override, STAMP_PATH: STAMP_SCRIPT}
    from dashenv.settings.layers import Origin

    # what the files alone said is asked of them again, override included
    provenance = {
        k: Origin("default", k) if o.layer == "compose files" else o
        for k, o in env.provenance.items()
    }
    provenance["compose_files"] = Origin("derived", "compose_files", path=f"isolated: + {rel}")
    isolated = replace(
        env,
        settings=s.model_copy(update={"compose_files": [*s.compose_files, rel]}),
        provenance=provenance,
        files=None,
        generated=generated,
        derivation=derivation,
    )
    return with_compose_files(isolated, verbose=verbose)
