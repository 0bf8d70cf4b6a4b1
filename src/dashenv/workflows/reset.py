"""The guarded test-database reset: observe the facts once, check every guard, then apply.

Strategies: ``template`` clones a template database of the migrated schema, keyed by a
hash of the migrations and rebuilt when they change; ``migrate`` re-runs the migrations
into an empty database. Either way the new database is built under a scratch name and
swapped in atomically, so an interruption leaves the old or the new one, never neither.
The names, the leftovers and the steps are planned in ``dashenv.plan.reset``; why a reset
is refused is decided in ``dashenv.guards``.
"""

from __future__ import annotations

import hashlib
import os
import secrets as _secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError, DashenvError, GuardRefused, OperationFailed
from dashenv.guards import (
    Endpoint,
    Intent,
    ProtectedTarget,
    ResetFacts,
    Stamp,
    Verdict,
    check_reset,
    check_static,
)
from dashenv.plan.reset import (
    DATABASE_OPTIONS,
    SERVER_FLAGS,
    ResetNames,
    ResetPlan,
    Strategy,
    lock_path,
    named_after,
    plan_reset,
    target_without_password,
    url_with_database,
)

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.adapters.postgres import Postgres
    from dashenv.context import RunContext
    from dashenv.facts import Container
    from dashenv.settings.sources import ResolvedEnvironment


@dataclass
class ResetResult:
    environment: str
    database: str
    strategy: Strategy
    template: str
    template_built: bool
    flushed_keys: int | None
    settings: dict[str, str]
    seconds: float
    verdicts: list[Verdict] = field(default_factory=list)
    dry_run: bool = False
    plan: ResetPlan | None = None
    redis_indexes: tuple[int, ...] = ()


def migrations_hash(directory: Path, command: str, extra: tuple[Path, ...] = ()) -> str:
    """A hash of the whole migration environment: every file under ``directory`` (name and
    content; compiled files left out), the ``extra`` files (alembic.ini) and the command."""
    digest = hashlib.sha256(command.encode())
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
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
    directory = env.path(s.migrations_dir)
    if not directory.is_dir():
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
        from dashenv.workflows.migrate import alembic_ini

        alembic_ini(env)  # set in a layer and missing: exit 2 naming the layer
    extra: tuple[Path, ...] = (config,) if config is not None and config.is_file() else ()
    return ResetNames(database, migrations_hash(directory, s.migration_command, extra))


# --- observing -------------------------------------------------------------------------


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


def precheck(ctx: RunContext, name: str) -> None:
    """The guards that need nothing running, before a test setup starts anything."""
    env = ctx.env(name)
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
        raise _refuse(ctx, name, verdicts, target)


@dataclass
class Observed:
    env: ResolvedEnvironment
    database: str
    user: str | None
    postgres: Postgres
    facts: ResetFacts
    docker: Docker

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


def protected_targets(
    ctx: RunContext, name: str, containers: list[Container]
) -> tuple[ProtectedTarget, ...]:
    """Every protected environment as configured and observed."""
    me = ctx.env(name).settings
    found = []
    for other in ctx.environment_names():
        if other == name:
            continue
        o, _present = ctx.env_lenient(other)
        s = o.settings
        if not s.protected:
            continue
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


def observe(ctx: RunContext, name: str, *, adopt: bool) -> Observed:
    from dashenv.adapters.postgres import DatabaseState, Postgres
    from dashenv.steps.targets import target

    env = ctx.env(name)
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
    docker = target(ctx, name).docker
    pg = Postgres(s.host, s.postgres_port, db.user or "postgres", db.password)
    inspect_error = None
    # the engine and the database are asked at the same time
    with ThreadPoolExecutor(max_workers=1) as pool:
        listing = pool.submit(docker.all_containers)
        try:
            state = pg.state(db.database)
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
        protected_targets=protected_targets(ctx, name, containers),
        adopt=adopt,
        inspect_error=inspect_error,
    )
    return Observed(env, db.database, db.user, pg, facts, docker)


def _plan(ctx: RunContext, o: Observed, strategy: Strategy, existing: list[str]) -> ResetPlan:
    s = o.env.settings
    return plan_reset(
        o.facts,
        reset_names(o.env, o.database),
        strategy,
        existing,
        lock=lock_path(ctx.project().root, o.env.name),
        migration_command=s.migration_command,
        app_service=s.app_service,
    )


# --- applying -------------------------------------------------------------------------


def reset(
    ctx: RunContext,
    name: str,
    *,
    strategy: Strategy = "template",
    dry_run: bool = False,
    adopt: bool = False,
    wait: bool = True,
    say: Callable[[str], None] = lambda _m: None,
) -> ResetResult:
    started = time.monotonic()
    o = observe(ctx, name, adopt=adopt)
    try:
        verdicts = check_reset(o.facts)
        if dry_run:
            try:
                existing = o.postgres.database_names()
            except DashenvError:
                existing = []
            plan = _plan(ctx, o, strategy, existing)
            return ResetResult(
                name, o.database, strategy, plan.template, False, None, {},
                time.monotonic() - started, verdicts, True, plan,
            )  # fmt: skip
        if not all(v.passed for v in verdicts):
            raise _refuse(ctx, name, verdicts, o.target)
        with _reset_lock(ctx, name, wait, say) as waited:
            if not waited:
                return _apply(ctx, o, strategy, verdicts, started, say)
            # the other reset changed the database while we waited: look again, under the lock
            fresh = observe(ctx, name, adopt=adopt)
            try:
                verdicts = check_reset(fresh.facts)
                if not all(v.passed for v in verdicts):
                    raise _refuse(ctx, name, verdicts, fresh.target)
                return _apply(ctx, fresh, strategy, verdicts, started, say)
            finally:
                fresh.postgres.close()
    finally:
        o.postgres.close()


@contextmanager
def _reset_lock(
    ctx: RunContext, name: str, wait: bool, say: Callable[[str], None]
) -> Iterator[bool]:
    """Hold the environment's reset lock; yields whether another reset had to be waited for."""
    from dashenv.adapters.locks import acquire

    root = ctx.project().root
    file_lock, waited = acquire(
        lock_path(root, name),
        root,
        wait=wait,
        busy=f"another reset of {name} is running",
        hint="wait for it, or run without --no-wait to queue behind it",
        waiting=f"Waiting for another reset of {name} to finish...",
        say=say,
    )
    try:
        yield waited
    finally:
        file_lock.release()


def _refuse(ctx: RunContext, name: str, verdicts: list[Verdict], target: str) -> GuardRefused:
    from dashenv.adapters import audit

    failed = [v for v in verdicts if not v.passed]
    audit.record(
        ctx.audit_path(),
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


def _apply(
    ctx: RunContext,
    o: Observed,
    strategy: Strategy,
    verdicts: list[Verdict],
    started: float,
    say: Callable[[str], None],
) -> ResetResult:
    from dashenv.adapters import audit

    pg = o.postgres
    for broken in pg.invalid_databases():  # an interrupted drop's; they can only be dropped
        if named_after(o.database, broken):
            pg.drop_database(broken)
    plan = _plan(ctx, o, strategy, pg.database_names())
    names = plan.names
    outcome = "interrupted"
    built = False
    flushed: int | None = None
    try:
        for leftover in plan.leftovers:
            pg.drop_database(leftover)
        new, old = names.scratch(f"{os.getpid()}_{_secrets.token_hex(3)}")
        if strategy == "template":
            if not plan.template_ready:
                stale = [n for n in plan.leftovers if n.startswith(f"{names.database}__tpl_")]
                why = (
                    "the migrations changed since the last template (a new revision, or a "
                    "branch switch)"
                    if stale
                    else "first run"
                )
                say(f"Building template {names.template}: {why}")
                pg.create_database(names.build)
                _migrate(o, names.build)
                _record_baseline(pg, names.build)
                pg.analyze(names.build)  # row estimates travel with every clone
                pg.rename(names.build, names.template)
                built = True
            pg.create_database(new, template=names.template)
        else:
            pg.create_database(new)
            _migrate(o, new)
            _record_baseline(pg, new)
        pg.stamp(
            new,
            {
                "environment": o.env.name,
                "project": o.env.settings.project_name,
                "strategy": strategy,
                "migrations": names.digest[:12],
                "stamped_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        for key, value in DATABASE_OPTIONS.items():
            pg.set_database_option(new, key, value)
        if pg.swap(o.database, new, old):
            pg.drop_database(old)
        if o.facts.redis is not None:
            from dashenv.adapters.redis import Redis

            flushed = sum(
                Redis(o.facts.redis.host, o.facts.redis.port or 0, index).flushdb()
                for index in o.facts.redis_indexes
            )
        effective = pg.server_settings(o.database, SERVER_FLAGS)
        outcome = "done"
    except Exception as exc:
        outcome = f"failed: {getattr(exc, 'message', exc)}"
        raise
    finally:
        audit.record(
            ctx.audit_path(),
            environment=o.env.name,
            action="db reset",
            target=o.target,
            guards=[asdict(v) for v in verdicts],
            outcome=outcome,
            details={
                "strategy": strategy,
                "template": names.template,
                "template_built": built,
                "redis_indexes": list(o.facts.redis_indexes) if o.facts.redis else [],
            },
        )
    return ResetResult(
        o.env.name, o.database, strategy, names.template, built, flushed, effective,
        time.monotonic() - started, verdicts, False, plan, o.facts.redis_indexes,
    )  # fmt: skip


def _record_baseline(pg: Postgres, database: str) -> None:
    """The rows the migrations wrote (alembic_version, a data migration's), in the stamp:
    every clone carries them, and doctor counts only rows beyond them as left behind."""
    import json

    pg.stamp(database, {"baseline_rows": json.dumps(pg.row_counts(database), sort_keys=True)})


def _migrate(o: Observed, database: str) -> None:
    """Run the environment's migration command in its app container against ``database``."""
    s = o.env.settings
    url = url_with_database(o.env.app.settings.DATABASE_URL or "", database)
    code, output = o.docker.exec_capture(
        s.app_service, ["env", f"DATABASE_URL={url}", "sh", "-c", s.migration_command]
    )
    if code != 0:
        from dashenv.settings.secrets import scrub

        tail = scrub(output, o.env.app.secrets()).strip().splitlines()[-10:]
        raise OperationFailed(
            f"the migration command failed in {s.app_service} (exit {code})",
            hint=f"is {o.env.name} up? ('dashenv up {o.env.name}'); "
            f"the command is '{s.migration_command}'",
            details="\n".join(tail) or None,
        )
