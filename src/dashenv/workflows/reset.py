"""The guarded test-database reset: observe facts, check every guard, then apply.

Strategies: ``template`` clones a template database of the migrated schema, keyed by a
hash of the migrations and rebuilt when they change; ``migrate`` re-runs the migrations
into an empty database. Either way the new database is built under a scratch name and
swapped in atomically, so an interruption leaves the old or the new one, never neither.
"""

from __future__ import annotations

import hashlib
import os
import secrets as _secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from dashenv.errors import ConfigError, DashenvError, GuardRefused, OperationFailed
from dashenv.guards import Endpoint, ProtectedTarget, ResetFacts, Stamp, Verdict, check_reset

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.adapters.postgres import Postgres
    from dashenv.cli.state import State
    from dashenv.facts import Container
    from dashenv.settings.app import AppView
    from dashenv.settings.sources import ResolvedEnvironment

Strategy = Literal["template", "migrate"]
SERVER_FLAGS = ["fsync", "full_page_writes", "synchronous_commit"]
DATABASE_OPTIONS = {"synchronous_commit": "off"}


@dataclass
class ResetPlan:
    environment: str
    database: str
    template: str
    template_ready: bool
    strategy: Strategy
    steps: list[str]
    names: dict[str, str]  # the scratch and template names, from the migrations' hash


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


# --- pure helpers --------------------------------------------------------------------


def migrations_hash(directory: Path, command: str) -> str:
    """A hash of every migration file (name and content) and the migration command."""
    digest = hashlib.sha256(command.encode())
    if directory.is_dir():
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(directory)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def scratch_names(database: str, digest: str) -> dict[str, str]:
    return {
        "template": f"{database}__tpl_{digest[:12]}",
        "build": f"{database}__build_{digest[:12]}",
        "new_prefix": f"{database}__new_",
        "old_prefix": f"{database}__old_",
    }


def leftovers(existing: list[str], database: str, template: str) -> list[str]:
    """Scratch databases an earlier, interrupted reset left behind, and stale templates."""
    scratch = (f"{database}__new_", f"{database}__old_", f"{database}__build_")
    return [
        n
        for n in existing
        if n.startswith(scratch) or (n.startswith(f"{database}__tpl_") and n != template)
    ]


def url_with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def target_without_password(user: str | None, host: str, port: int | None, database: str) -> str:
    return f"postgresql://{user or ''}@{host}:{port}/{database}"


# --- observing -------------------------------------------------------------------------


@dataclass
class Observed:
    env: ResolvedEnvironment
    app: AppView
    database: str
    user: str | None
    password: str | None
    postgres: Postgres
    facts: ResetFacts
    docker: Docker | None


def _endpoint(host: str, port: int | None, containers: list[Container] | None) -> Endpoint:
    if port is None or containers is None:
        return Endpoint(host, port)
    for c in containers:
        if c.state == "running" and any(b.host_port == port for b in c.ports):
            return Endpoint(host, port, c.id, c.project)
    return Endpoint(host, port)


def observe(st: State, name: str, *, adopt: bool) -> Observed:
    from dashenv.adapters.docker import Docker
    from dashenv.adapters.postgres import Postgres
    from dashenv.errors import Unreachable
    from dashenv.plan import compose_invocation
    from dashenv.settings.app import load_app_settings

    env = st.env(name)
    s = env.settings
    app = load_app_settings(env)
    db = app.database()
    if db is None:
        raise ConfigError(
            f"{s.env_file} has no DATABASE_URL", hint="the reset needs to know the database"
        )
    if s.postgres_port is None:
        raise ConfigError(
            f"{name} publishes no PostgreSQL port, so dashenv cannot reach its database",
            hint=f"set postgres_port for {name}; the ci environment starts clean on tmpfs anyway",
        )
    docker: Docker | None = Docker(
        compose_invocation(s, env.project.root, name), context=st.context, verbose=st.verbose
    )
    containers: list[Container] | None
    try:
        assert docker is not None
        containers = docker.all_containers()
    except Unreachable:
        containers, docker = None, None  # guard d then compares host and port only

    protected = []
    for other in st.project().environment_names():
        if other == name:
            continue
        try:
            o = st.env(other)
        except ConfigError:
            o = st.env(other, read_env=False)
        if not o.settings.protected:
            continue
        o_db = None
        o_index = o.settings.redis_index
        try:
            o_app = load_app_settings(o)
            o_url = o_app.database()
            o_db = o_url.database if o_url else None
            idx = o_app.redis_index()
            o_index = idx if idx is not None else o_index
        except ConfigError:
            pass  # no env file: compare what the settings say
        os_ = o.settings
        protected.append(
            ProtectedTarget(
                other,
                _endpoint(os_.host, os_.postgres_port, containers) if os_.postgres_port else None,
                o_db,
                _endpoint(os_.host, os_.redis_port, containers) if os_.redis_port else None,
                o_index,
            )
        )

    from dashenv.adapters.postgres import DatabaseState

    pg = Postgres(s.host, s.postgres_port, db.user or "postgres", db.password)
    inspect_error = None
    try:
        state = pg.state(db.database)
    except DashenvError as exc:  # judged by the guards, not fatal to looking
        state, inspect_error = DatabaseState(False, None, ()), exc.message
    stamp = Stamp(state.stamp.get("environment", "?")) if state.stamp is not None else None
    index = app.redis_index()
    facts = replace(
        _known_facts(env, app),
        postgres=_endpoint(s.host, s.postgres_port, containers),
        database_exists=state.exists,
        stamp=stamp,
        user_tables=state.user_tables,
        redis=_endpoint(s.host, s.redis_port, containers) if s.redis_port else None,
        redis_index=s.redis_index if index is None else index,
        protected_targets=tuple(protected),
        adopt=adopt,
        inspect_error=inspect_error,
    )
    return Observed(env, app, db.database, db.user, db.password, pg, facts, docker)


def _known_facts(env: ResolvedEnvironment, app: AppView) -> ResetFacts:
    """What the configuration alone says; the observed facts are filled in by ``observe``."""
    s = env.settings
    db = app.database()
    return ResetFacts(
        environment=env.name,
        role=s.role,
        protected=s.protected,
        app_environment=app.settings.ENVIRONMENT,
        testing=app.settings.TESTING,
        database=db.database if db else None,
        postgres=Endpoint(s.host, s.postgres_port),
        project_name=s.project_name,
        database_exists=False,
        stamp=None,
        user_tables=(),
        redis=None,
        redis_index=s.redis_index,
    )


def precheck(st: State, name: str) -> None:
    """The guards that need nothing running, before a test setup starts anything."""
    from dashenv.guards import check_static
    from dashenv.settings.app import load_app_settings

    env = st.env(name)
    s = env.settings
    app = load_app_settings(env)
    db = app.database()
    facts = _known_facts(env, app)
    verdicts = check_static(facts)
    if not all(v.passed for v in verdicts):
        target = target_without_password(
            db.user if db else None, s.host, s.postgres_port, facts.database or "?"
        )
        raise _refuse(st, name, verdicts, target)


# --- planning -------------------------------------------------------------------------


def plan_reset(o: Observed, strategy: Strategy, existing: list[str], lock_path: Path) -> ResetPlan:
    s = o.env.settings
    digest = migrations_hash(o.env.path(s.migrations_dir), s.migration_command)
    names = scratch_names(o.database, digest)
    ready = names["template"] in existing
    steps = [f"take the reset lock {lock_path}"]
    left = leftovers(existing, o.database, names["template"])
    if left:
        steps.append(f"drop leftovers of earlier resets and stale templates: {', '.join(left)}")
    if strategy == "template":
        if ready:
            steps.append(f"reuse template {names['template']} (migrations unchanged)")
        else:
            steps.append(
                f"build template {names['template']}: run '{s.migration_command}' "
                f"in {s.app_service} against a scratch database"
            )
        steps.append(f"clone the template into a scratch database ({names['new_prefix']}...)")
    else:
        steps.append(
            f"create an empty scratch database and run '{s.migration_command}' in {s.app_service}"
        )
    options = ", ".join(f"{k}={v}" for k, v in DATABASE_OPTIONS.items())
    steps += [
        f"stamp it for {o.env.name}; set {options}",
        f"end connections to {o.database} and swap the new database in (one transaction)",
        f"drop the old {o.database}",
    ]
    if o.facts.redis is not None:
        steps.append(
            f"FLUSHDB Redis {o.facts.redis.host}:{o.facts.redis.port} index {o.facts.redis_index}"
        )
    return ResetPlan(o.env.name, o.database, names["template"], ready, strategy, steps, names)


# --- applying -------------------------------------------------------------------------


def audit_path(st: State) -> Path:
    from dashenv.audit import DEFAULT_PATH

    project = st.project()
    return project.root / str(project.options.get("audit_log", DEFAULT_PATH))


def lock_path(st: State, name: str) -> Path:
    return st.project().root / ".dashenv" / "locks" / f"reset-{name}.lock"


def reset(
    st: State,
    name: str,
    *,
    strategy: Strategy = "template",
    dry_run: bool = False,
    adopt: bool = False,
    wait: bool = True,
    say: Callable[[str], None] = lambda _m: None,
) -> ResetResult:

    started = time.monotonic()
    o = observe(st, name, adopt=adopt)
    try:
        return _guarded(
            st,
            o,
            strategy=strategy,
            dry_run=dry_run,
            adopt=adopt,
            wait=wait,
            say=say,
            started=started,
        )
    finally:
        o.postgres.close()


def _guarded(
    st: State,
    o: Observed,
    *,
    strategy: Strategy,
    dry_run: bool,
    adopt: bool,
    wait: bool,
    say: Callable[[str], None],
    started: float,
) -> ResetResult:
    name = o.env.name
    verdicts = check_reset(o.facts)
    target = target_without_password(
        o.user, o.facts.postgres.host, o.facts.postgres.port, o.database
    )
    failed = [v for v in verdicts if not v.passed]
    lock = lock_path(st, name)
    if dry_run:
        try:
            existing = o.postgres.database_names()
        except DashenvError:
            existing = []
        plan = plan_reset(o, strategy, existing, lock)
        return ResetResult(
            name,
            o.database,
            strategy,
            plan.template,
            False,
            None,
            {},
            time.monotonic() - started,
            verdicts,
            True,
            plan,
        )
    if failed:
        raise _refuse(st, name, verdicts, target)

    from filelock import FileLock, Timeout

    lock.parent.mkdir(parents=True, exist_ok=True)
    file_lock = FileLock(str(lock))
    waited = False
    try:
        file_lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise OperationFailed(
                f"another reset of {name} is running (lock {lock.relative_to(st.project().root)})",
                hint="wait for it, or run without --no-wait to queue behind it",
            ) from None
        say(f"Waiting for another reset of {name} to finish...")
        file_lock.acquire()
        waited = True
    try:
        if not waited:
            return _apply(st, o, strategy, verdicts, target, started, lock, say)
        # the other reset changed the database while we waited: look again, under the lock
        fresh = observe(st, name, adopt=adopt)
        try:
            verdicts = check_reset(fresh.facts)
            if not all(v.passed for v in verdicts):
                raise _refuse(st, name, verdicts, target)
            return _apply(st, fresh, strategy, verdicts, target, started, lock, say)
        finally:
            fresh.postgres.close()
    finally:
        file_lock.release()


def _refuse(st: State, name: str, verdicts: list[Verdict], target: str) -> GuardRefused:
    from dashenv import audit

    failed = [v for v in verdicts if not v.passed]
    audit.record(
        audit_path(st),
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
    st: State,
    o: Observed,
    strategy: Strategy,
    verdicts: list[Verdict],
    target: str,
    started: float,
    lock: Path,
    say: Callable[[str], None],
) -> ResetResult:
    from dashenv import audit

    guards = [asdict(v) for v in verdicts]
    pg = o.postgres
    existing = pg.database_names()
    plan = plan_reset(o, strategy, existing, lock)
    names = plan.names  # the migrations are hashed once per reset
    outcome = "interrupted"
    built = False
    flushed: int | None = None
    try:
        for leftover in leftovers(existing, o.database, names["template"]):
            pg.drop_database(leftover)
        token = f"{os.getpid()}_{_secrets.token_hex(3)}"
        new, old = names["new_prefix"] + token, names["old_prefix"] + token
        if strategy == "template":
            if names["template"] not in existing:
                say(f"Building template {names['template']} (migrations changed or first run)")
                pg.create_database(names["build"])
                _migrate(o, names["build"])
                pg.rename(names["build"], names["template"])
                built = True
            pg.create_database(new, template=names["template"])
        else:
            pg.create_database(new)
            _migrate(o, new)
        pg.stamp(
            new,
            {
                "environment": o.env.name,
                "project": o.env.settings.project_name,
                "strategy": strategy,
                "migrations": names["template"].rsplit("_", 1)[-1],
                "stamped_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        for key, value in DATABASE_OPTIONS.items():
            pg.set_database_option(new, key, value)
        if pg.swap(o.database, new, old):
            pg.drop_database(old)
        if o.facts.redis is not None:
            from dashenv.adapters.redis import Redis

            flushed = Redis(
                o.facts.redis.host, o.facts.redis.port or 0, o.facts.redis_index
            ).flushdb()
        effective = pg.server_settings(o.database, SERVER_FLAGS)
        outcome = "done"
    except Exception as exc:
        outcome = f"failed: {getattr(exc, 'message', exc)}"
        raise
    finally:
        audit.record(
            audit_path(st),
            environment=o.env.name,
            action="db reset",
            target=target,
            guards=guards,
            outcome=outcome,
            details={"strategy": strategy, "template": names["template"], "template_built": built},
        )
    return ResetResult(
        o.env.name,
        o.database,
        strategy,
        names["template"],
        built,
        flushed,
        effective,
        time.monotonic() - started,
        verdicts,
        False,
        plan,
    )


def _migrate(o: Observed, database: str) -> None:
    """Run the environment's migration command in its app container against ``database``."""
    if o.docker is None:
        raise OperationFailed(
            "cannot run migrations: the Docker engine is not reachable",
            hint="the migration command runs in the app container",
        )
    s = o.env.settings
    url = url_with_database(o.app.settings.DATABASE_URL or "", database)
    code, output = o.docker.exec_capture(
        s.app_service, ["env", f"DATABASE_URL={url}", "sh", "-c", s.migration_command]
    )
    if code != 0:
        from dashenv.settings.secrets import scrub

        tail = scrub(output, o.app.secrets()).strip().splitlines()[-10:]
        raise OperationFailed(
            f"the migration command failed in {s.app_service} (exit {code})",
            hint=f"is {o.env.name} up? ('dashenv up {o.env.name}'); "
            f"the command is '{s.migration_command}'",
            details="\n".join(tail) or None,
        )
