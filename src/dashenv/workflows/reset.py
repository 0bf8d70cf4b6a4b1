"""The guarded test-database reset: observe the facts once, check every guard, then apply.

Strategies: ``template`` clones a template database of the migrated schema, keyed by a
hash of the migrations and rebuilt when they change; ``migrate`` re-runs the migrations
into an empty database. Either way the new database is built under a scratch name and
swapped in atomically, so an interruption leaves the old or the new one, never neither.
The names, the leftovers and the steps are planned in ``dashenv.plan.reset``; why a reset
is refused is decided in ``dashenv.guards``.
"""

from __future__ import annotations

import os
import secrets as _secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from dashenv.errors import DashenvError, OperationFailed
from dashenv.guards import (
    Verdict,
    check_reset,
)
from dashenv.plan.names import named_after
from dashenv.plan.reset import (
    DATABASE_OPTIONS,
    SERVER_FLAGS,
    ResetPlan,
    Strategy,
    lock_path,
    plan_reset,
    url_with_database,
)
from dashenv.steps.database_lock import database_lock
from dashenv.steps.resetting import Observed, observe, refuse, reset_names

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres
    from dashenv.context import Environment, RunContext
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
    copied_by: str | None = None  # the copy method of the template's clone (template strategy)


# --- observing -------------------------------------------------------------------------


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
    e: Environment,
    *,
    strategy: Strategy = "template",
    dry_run: bool = False,
    adopt: bool = False,
    wait: bool = True,
    say: Callable[[str], None] = lambda _m: None,
) -> ResetResult:
    """The guarded reset; a dry run looks only. The environment's lock comes first (a test
    run holds it for its whole run), then its database's."""
    name = e.name
    from dashenv.steps.environment_lock import environment_lock

    if dry_run:
        return _reset(e, strategy, True, adopt, wait, say)
    with environment_lock(e, f"db reset {name}", wait=wait, say=say):
        return _reset(e, strategy, False, adopt, wait, say)


def _reset(
    e: Environment,
    strategy: Strategy,
    dry_run: bool,
    adopt: bool,
    wait: bool,
    say: Callable[[str], None],
) -> ResetResult:
    ctx, name = e.ctx, e.name
    started = time.monotonic()
    o = observe(e, adopt=adopt)
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
        passed = all(v.passed for v in verdicts)
        with database_lock(e, operation="reset", wait=wait, say=say) as waited:
            if passed and not waited:
                return _apply(ctx, o, strategy, verdicts, started, say)
            # another operation changed the database while we waited, or was changing it
            # while we looked (a restore swaps it, and its stamp is unreadable for a moment):
            # look again, under the lock, and decide only from that
            fresh = observe(e, adopt=adopt)
            try:
                verdicts = check_reset(fresh.facts)
                if not all(v.passed for v in verdicts):
                    raise refuse(e, verdicts, fresh.target)
                return _apply(ctx, fresh, strategy, verdicts, started, say)
            finally:
                fresh.postgres.close()
    finally:
        o.postgres.close()


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
    from dashenv.steps.copying import copy

    outcome = "interrupted"
    built = False
    copied_by: str | None = None
    flushed: int | None = None
    try:
        for leftover in plan.leftovers:
            pg.drop_database(leftover)
        new, old = names.scratch(f"{os.getpid()}_{_secrets.token_hex(3)}")
        if strategy == "template":
            if not plan.template_ready:
                stale = [n for n in plan.leftovers if names.is_template(n)]
                why = (
                    "the migrations changed since the last template (a new revision, or a "
                    "branch switch)"
                    if stale
                    else "first run"
                )
                say(f"Building template {names.template}: {why}")
                if o.env.settings.migration_command is None:
                    say(
                        f"{o.env.name} has no migration command: the template is the empty "
                        "database" + (" and its seed" if o.env.settings.seed_command else "")
                        + " (set migration_command to migrate it)"
                    )  # fmt: skip
                pg.create_database(names.build)
                _migrate(ctx, o, names.build)
                _seed(ctx, o, names.build, say)
                _record_baseline(pg, names.build)
                pg.analyze(names.build)  # row estimates travel with every clone
                pg.rename(names.build, names.template)
                built = True
            copied_by = copy(o.of, pg, new, names.template, say=say).name
        else:
            pg.create_database(new)
            _migrate(ctx, o, new)
            _seed(ctx, o, new, say)
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
        time.monotonic() - started, verdicts, False, plan, o.facts.redis_indexes, copied_by,
    )  # fmt: skip


def _record_baseline(pg: Postgres, database: str) -> None:
    """The rows the migrations wrote (alembic_version, a data migration's), in the stamp:
    every clone carries them, and doctor counts only rows beyond them as left behind."""
    import json

    pg.stamp(database, {"baseline_rows": json.dumps(pg.row_counts(database), sort_keys=True)})


def _migrate_on_host(ctx: RunContext, o: Observed, database: str, command: str, what: str) -> None:
    import os

    from dashenv.adapters.host import run_shell
    from dashenv.steps import isolation
    from dashenv.steps.targets import host_dir, host_environment

    s = o.env.settings
    env = {**os.environ, **host_environment(o.of, database)}
    isolation.check_host(o.of, env, f"the {what}", database)
    code, output = run_shell(command, env, str(host_dir(o.env)))
    if code != 0:
        raise _migration_failed(
            o, "on the host", code, output, f"the command is '{command}', run in "
            f"{s.host_dir} with {o.env.name}'s connection settings ('dashenv env {o.env.name}' "
            "prints them)", what,
        )  # fmt: skip


def _migration_failed(
    o: Observed, where: str, code: int, output: str, hint: str, what: str = "migration command"
) -> Exception:
    from dashenv.settings.secrets import scrub

    tail = scrub(output, o.env.app.secrets()).strip().splitlines()[-10:]
    return OperationFailed(
        f"the {what} failed {where} (exit {code})",
        hint=hint,
        details="\n".join(tail) or None,
    )


def app_database_variables(env: ResolvedEnvironment, database: str) -> dict[str, str]:
    """Each variable a derived environment's app reads its database from (a URL's database
    part, or the name itself), pointed at ``database``."""
    if env.derivation is None:
        return {}
    found = {}
    for c in env.derivation.connections:
        if c.kind == "url":
            found[c.key] = url_with_database(c.value, database)
        elif c.kind == "name":
            found[c.key] = database
    return found


def _seed(ctx: RunContext, o: Observed, database: str, say: Callable[[str], None]) -> None:
    """The seed command, where there is one, after the migrations (the template's data)."""
    command = o.env.settings.seed_command
    if command:
        say(f"Seeding {database}: {command}")
        _migrate(ctx, o, database, command, "seed command")


def _migrate(
    ctx: RunContext,
    o: Observed,
    database: str,
    command: str | None = None,
    what: str = "migration command",
) -> None:
    """Run the environment's migration command (or ``command``) against ``database``: in its
    app container, or on the host where the app runs there (``test_runner = host``)."""
    s = o.env.settings
    command = command or s.migration_command
    if command is None:  # a project without migrations: the database stays as created
        return
    if s.test_runner == "host":
        _migrate_on_host(ctx, o, database, command, what)
        return
    url = url_with_database(o.env.app.settings.DATABASE_URL or "", database)
    if o.env.derivation is not None:  # a container name the override changed: its service
        from dashenv.plan.derive import with_host

        url = with_host(url, o.env.derivation.renamed_hosts)
    from dashenv.steps import isolation

    handed = {"DATABASE_URL": url, **app_database_variables(o.env, database)}
    isolation.check_container(o.of, s.app_service, handed, f"the {what}")
    assignments = [f"{k}={v}" for k, v in handed.items()]
    code, output = o.docker.exec_capture(s.app_service, ["env", *assignments, "sh", "-c", command])
    if code != 0:
        raise _migration_failed(
            o, f"in {s.app_service}", code, output, f"is {o.env.name} up? ('dashenv up "
            f"{o.env.name}'); the command is '{command}'", what,
        )  # fmt: skip
