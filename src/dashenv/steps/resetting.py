"""The guarded reset's observation, shared by the reset and the worker databases: what the
configuration says (``intent``), what the engine and the server show (``observe``), the
names keyed by the migrations (``reset_names``), and the audited refusal (``refuse``). Why a
reset is refused is decided in ``dashenv.guards``."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError, DashenvError, GuardRefused, HealthTimeout, Unreachable
from dashenv.guards import (
    Endpoint,
    Intent,
    ProtectedTarget,
    ResetFacts,
    Stamp,
    Verdict,
    check_static,
)
from dashenv.plan.names import ResetNames
from dashenv.plan.reset import target_without_password

if TYPE_CHECKING:
    from collections.abc import Callable

    from dashenv.adapters.docker import Docker
    from dashenv.adapters.postgres import DatabaseState, Postgres
    from dashenv.context import Environment
    from dashenv.facts import Container
    from dashenv.settings.sources import ResolvedEnvironment


# never the migrations' inputs, wherever migrations_dir points: dashenv's own state (its
# audit log changes on every run), version control, environments, caches
NOT_INPUTS = {".dashenv", ".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache",
              ".mypy_cache", ".ruff_cache", ".tox"}  # fmt: skip


def migrations_hash(directory: Path | None, command: str, extra: tuple[Path, ...] = ()) -> str:
    """A hash of the whole migration environment: every file under ``directory`` (name and
    content; compiled files, dashenv's state, caches and environments left out), the
    ``extra`` files (alembic.ini) and the command; the command alone without a directory."""
    digest = hashlib.sha256(command.encode())
    if directory is not None and directory.is_file():  # a migration script of the project's
        digest.update(directory.name.encode() + b"\0" + directory.read_bytes() + b"\0")
    elif directory is not None:
        files = sorted(
            p
            for p in directory.rglob("*")
            if p.is_file()
            and not NOT_INPUTS & set(p.relative_to(directory).parts)
            and p.suffix != ".pyc"
        )
        for path in files:
            digest.update(str(path.relative_to(directory)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    for path in extra:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def reset_names(env: ResolvedEnvironment, database: str) -> ResetNames:
    """The names, from the migrations' hash; a missing migrations directory would key the
    template by nothing (a changed migration would never rebuild it): exit 2."""
    s = env.settings
    directory = None
    if s.migrations_dir is not None:
        directory = env.path(s.migrations_dir)
        if not directory.exists():
            raise env.missing_path(
                "migrations_dir",
                s.migrations_dir,
                "point migrations_dir at the migration files: the template is keyed by them",
            )
    config = env.path(s.alembic_config) if s.alembic_config else None
    if (
        config is not None
        and not config.is_file()
        and env.provenance["alembic_config"].layer != "default"
    ):
        from dashenv.steps.migrations import alembic_ini

        alembic_ini(env)  # set in a layer and missing: exit 2 naming the layer
    extra: tuple[Path, ...] = (config,) if config is not None and config.is_file() else ()
    command = (s.migration_command or "") + (f"\0{s.seed_command}" if s.seed_command else "")
    return ResetNames(database, migrations_hash(directory, command, extra))


def intent(env: ResolvedEnvironment) -> Intent:
    """What the configuration alone says."""
    s = env.settings
    db = env.app.database()
    return Intent(
        environment=env.name,
        role=s.role,
        protected=s.protected,
        app_environment=env.app.settings.ENVIRONMENT,
        testing=env.app.settings.TESTING,
        database=db.database if db else None,
        project_name=s.project_name,
    )


def precheck(t: Environment) -> None:
    """The guards that need nothing running, before a test setup starts anything."""
    env = t.env
    facts = intent(env)
    verdicts = check_static(facts)
    if not all(v.passed for v in verdicts):
        db = env.app.database()
        target = target_without_password(
            db.user if db else None,
            env.settings.host,
            env.settings.postgres_port,
            facts.database or "?",
        )
        raise refuse(t, verdicts, target)


@dataclass
class Observed:
    env: ResolvedEnvironment
    database: str
    user: str | None
    postgres: Postgres
    facts: ResetFacts
    docker: Docker
    of: Environment

    @property
    def target(self) -> str:
        pg = self.facts.postgres
        return target_without_password(self.user, pg.host, pg.port, self.database)


def _endpoint(host: str, port: int | None, containers: list[Container]) -> Endpoint:
    """The server reached at ``host:port``, with the running container publishing it."""
    for c in containers:
        if c.state == "running" and any(b.host_port == port for b in c.ports):
            return Endpoint(host, port, c.id, c.project)
    return Endpoint(host, port)


def protected_targets(t: Environment, containers: list[Container]) -> tuple[ProtectedTarget, ...]:
    """Every protected environment as configured and observed."""
    from dashenv.steps.isolation import protected_environments

    me = t.env.settings
    name = t.name
    found = []
    for oe in protected_environments(t):
        o, other = oe.env, oe.name
        s = o.settings
        try:
            url = o.app.database()
            database = url.database if url else None
        except ConfigError:
            database = None  # no env file: compare what the settings say
        try:
            indexes = o.redis_indexes
        except ConfigError:  # a contradiction in dev's own configuration: protect both
            indexes = tuple(dict.fromkeys([o.app.redis_index() or 0, s.redis_index or 0]))
        found.append(
            ProtectedTarget(
                environment=other,
                project=s.project_name,
                # declared on both sides: the protected environment consents to sharing
                sharing_declared=other in me.exclusive_with and name in s.exclusive_with,
                postgres=_endpoint(s.host, s.postgres_port, containers)
                if s.postgres_port
                else None,
                database=database,
                redis=_endpoint(s.host, s.redis_port, containers) if s.redis_port else None,
                redis_indexes=indexes,
            )
        )
    return tuple(found)


def observe(t: Environment, *, adopt: bool) -> Observed:
    from dashenv.adapters.postgres import DatabaseState

    env, name = t.env, t.name
    s = env.settings
    db = env.app.database()
    if db is None:
        raise ConfigError(
            f"{s.env_file} has no DATABASE_URL", hint="the reset needs to know the database"
        )
    if s.postgres_port is None:
        raise ConfigError(
            f"{name} publishes no PostgreSQL port, so dashenv cannot reach its database",
            hint=f"set postgres_port for {name}; the ci environment starts clean on tmpfs anyway",
        )
    indexes = env.redis_indexes  # a contradiction in the configuration stops here (exit 2)
    docker = t.docker
    pg = t.postgres()
    inspect_error = None
    # the engine and the database are asked at the same time
    with ThreadPoolExecutor(max_workers=1) as pool:
        listing = pool.submit(docker.every_container)  # who publishes what: listed only
        try:
            state = pg.state(db.database)
        except Unreachable as exc:  # judged by the guards, unless its server is starting
            state, inspect_error = DatabaseState(False, None, ()), exc.message

            def publishes(containers: list[Container]) -> bool:
                return _endpoint(s.host, s.postgres_port, containers).container is not None

            def still_running() -> bool:
                try:
                    return publishes(docker.every_container())
                except DashenvError:
                    return False

            if publishes(listing.result()) and not_answering_yet(exc.message):
                try:
                    state = _answering(pg, db.database, s.up_timeout, name, still_running)
                    inspect_error = None
                except Unreachable as refused:  # it answered, and said no
                    inspect_error = refused.message
        except DashenvError as exc:  # judged by the guards, not fatal to looking
            state, inspect_error = DatabaseState(False, None, ()), exc.message
        containers = listing.result()  # the engine unreachable: exit 4
    facts = ResetFacts(
        intent=intent(env),
        postgres=_endpoint(s.host, s.postgres_port, containers),
        database_exists=state.exists,
        stamp=Stamp(state.stamp.get("environment", "?")) if state.stamp is not None else None,
        user_tables=state.user_tables,
        redis=_endpoint(s.host, s.redis_port, containers) if s.redis_port else None,
        redis_indexes=indexes,
        protected_targets=protected_targets(t, containers),
        adopt=adopt,
        inspect_error=inspect_error,
    )
    return Observed(env, db.database, db.user, pg, facts, docker, t)


# what a server that does not answer yet says (refused, starting, going away, silent);
# anything else (a password refused, no such database) is an answer, for the guards
NOT_YET = (
    "connection refused", "starting up", "not yet accepting connections", "shutting down",
    "closed the connection unexpectedly", "timeout expired", "could not receive data",
    "connection reset", "no such file or directory", "server closed the connection",
)  # fmt: skip


def not_answering_yet(message: str) -> bool:
    lowered = message.lower()
    return any(words in lowered for words in NOT_YET)


def _answering(
    pg: Postgres, database: str, timeout: float, name: str, running: Callable[[], bool]
) -> DatabaseState:
    """The database's state once its server answers: a server that does not answer yet
    (starting, or not accepting connections) is asked again until the wait timeout, then it
    is a timeout (exit 5) with PostgreSQL's own first line, never a guard's refusal. Its
    container is looked at again each second: one that stopped meanwhile (killed, exited)
    ends the wait, and the guards judge what is left."""
    import time

    deadline = time.monotonic() + timeout
    looked = time.monotonic()
    while True:
        try:
            return pg.state(database)
        except Unreachable as exc:
            if not not_answering_yet(exc.message):
                raise
            if time.monotonic() - looked >= 1.0:
                looked = time.monotonic()
                if not running():
                    raise
            if time.monotonic() >= deadline:
                first = exc.message.splitlines()[0]
                raise HealthTimeout(
                    f"{name}'s PostgreSQL did not answer within {timeout:g}s: {first}",
                    hint=f"'dashenv logs {name}' shows why; 'dashenv up {name}' waits for it",
                ) from None
            time.sleep(0.1)


def refuse(t: Environment, verdicts: list[Verdict], target: str) -> GuardRefused:
    from dashenv.adapters import audit

    name = t.name
    failed = [v for v in verdicts if not v.passed]
    audit.record(
        t.ctx.audit_path(),
        environment=name,
        action="db reset",
        target=target,
        guards=[asdict(v) for v in verdicts],
        outcome="refused",
    )
    return GuardRefused(
        f"refusing to reset {name}: guard '{failed[0].guard}' failed "
        f"(saw {failed[0].saw}): {failed[0].reason}",
        hint=f"'dashenv db reset {name} --dry-run' shows every guard; nothing was touched",
        details="\n".join(v.line() for v in failed[1:]) or None,
    )
