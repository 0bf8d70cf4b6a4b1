"""Alembic, first-class: the revision graph from the files, and the migration commands run in
the environment's app container (output streamed, exit code passed through).

A downgrade on a protected environment is confirmed by typing the environment's name, and a
snapshot is taken first, so the user can go back (``dashenv db restore ENV NAME``).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError
from dashenv.guards import Consent, require_consent
from dashenv.steps.migrations import alembic_ini

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.guards import Asker
    from dashenv.settings.sources import ResolvedEnvironment


def _require_alembic(env: ResolvedEnvironment) -> Path:
    path = alembic_ini(env)
    if path is None:
        raise ConfigError(
            f"{env.name} does not migrate with Alembic (alembic_config is none)",
            hint="set alembic_config to the project's alembic.ini",
        )
    return path


def alembic_argv(env: ResolvedEnvironment, *args: str) -> list[str]:
    return ["sh", "-c", shlex.join([*shlex.split(env.settings.alembic_command), *args])]


def run_alembic(e: Environment, args: list[str], *, tty: bool, user: str | None = None) -> int:
    """``alembic ARGS`` where ENV's app runs (its container, or the host), on the user's
    terminal; its exit code."""
    from dashenv.steps.targets import where_app_runs

    env = e.env
    _require_alembic(env)
    return where_app_runs(e, alembic_argv(env, *args), tty, user=user)


def run_migrations(e: Environment, *, tty: bool) -> int:
    """The environment's migration command where its app runs; its exit code."""
    from dashenv.steps.targets import where_app_runs

    command = e.settings.migration_command
    if command is None:
        raise ConfigError(
            f'{e.name} has no migration command (migration_command = "none")',
            hint="set migration_command in dashenv.toml to the command that migrates it",
        )
    return where_app_runs(e, ["sh", "-c", command], tty)


def checkout_owner(root: Path) -> str:
    """uid:gid of the checkout, so files made in a container belong to its owner, not root."""
    st = os.stat(root)
    return f"{st.st_uid}:{st.st_gid}"


@dataclass
class RevisionResult:
    code: int
    created: list[str]


def revision(e: Environment, message: str, *, autogenerate: bool, tty: bool) -> RevisionResult:
    env = e.env
    _require_alembic(env)
    graph_dirs = _version_dirs(env)
    before = {p for d in graph_dirs for p in d.glob("*.py")}
    args = ["revision", "-m", message, *(["--autogenerate"] if autogenerate else [])]
    code = run_alembic(e, args, tty=tty, user=checkout_owner(env.project.root))
    after = {p for d in graph_dirs for p in d.glob("*.py")}
    root = env.project.root
    created = sorted(
        str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in after - before
    )
    return RevisionResult(code, created)


def _version_dirs(env: ResolvedEnvironment) -> tuple[Path, ...]:
    from dashenv.plan.migrations import read_config

    path = _require_alembic(env)
    return read_config(path, str(env.settings.alembic_config)).version_locations


@dataclass
class DowngradeResult:
    code: int
    snapshot: str | None


def downgrade(
    e: Environment,
    target: str,
    *,
    yes: bool,
    ask: Asker | None,
    tty: bool,
    say: Callable[[str], None],
) -> DowngradeResult:
    """A downgrade removes data: on a protected environment it is confirmed by typing the
    environment's name (or --yes), refused without a terminal, and a snapshot comes first."""
    ctx, name = e.ctx, e.name
    from dashenv.adapters import audit
    from dashenv.steps.ownership import require_own
    from dashenv.steps.snapshots import take

    env = e.env
    _require_alembic(env)
    require_own(e, f"downgrade {name}'s database")
    if not target.strip():
        raise ConfigError(
            "give the revision to go down to, or -N", hint="dashenv db downgrade dev -1"
        )
    if env.settings.protected:
        consent = Consent.standard(
            f"downgrade protected environment {name}",
            f"Downgrade {name}'s database to {target}? Data in the dropped tables and columns "
            f"goes (a snapshot is taken first). Type '{name}' to confirm",
            f"dashenv db downgrade {name} {target} --yes",
            f"kept {name}'s database",
            type_to_confirm=name,
        )
        require_consent(consent, yes=yes, ask=ask)
    taken = take(e, None, auto=True, say=say)
    say(f"Snapshot {taken.name} taken first: 'dashenv db restore {name} {taken.name}' goes back")
    code = run_alembic(e, ["downgrade", target], tty=tty)
    audit.record(
        ctx.audit_path(),
        environment=name,
        action="db downgrade",
        target=taken.source,
        guards=[],
        outcome="done" if code == 0 else f"failed: exit {code}",
        details={"to": target, "snapshot": taken.name},
    )
    return DowngradeResult(code, taken.name)


@dataclass(frozen=True)
class SeedResult:
    code: int
    snapshot: str | None  # taken first on a protected environment


def seed(
    e: Environment,
    *,
    yes: bool,
    ask: Asker | None,
    tty: bool,
    say: Callable[[str], None],
) -> SeedResult:
    """Run ENV's seed command against its database, where its migrations run (the app
    container, or the host). Seeding changes data: on a protected environment it is confirmed
    (refused without a terminal unless ``yes``) and a snapshot comes first; it is audited."""
    ctx, name = e.ctx, e.name
    from dashenv.adapters import audit
    from dashenv.steps.snapshots import take
    from dashenv.steps.targets import where_app_runs

    env = e.env
    s = env.settings
    if not s.seed_command:
        raise ConfigError(
            f"{name} has no seed_command",
            hint="set seed_command (the command that loads seed data, run where the "
            f"migrations run) under [environments.{name}] in dashenv.toml",
        )
    snapshot = None
    if s.protected:
        from dashenv.steps.ownership import require_own

        require_own(e, f"seed {name}'s database")
        consent = Consent.standard(
            f"seed protected environment {name}",
            f"Load seed data into {name}'s database? It changes data (a snapshot is taken first).",
            f"dashenv db seed {name} --yes",
            f"kept {name}'s database",
        )
        require_consent(consent, yes=yes, ask=ask)
        snapshot = take(e, None, auto=True, say=say).name
        say(f"Snapshot {snapshot} taken first: 'dashenv db restore {name} {snapshot}' goes back")
    if s.test_runner != "host":  # on the host, run_on_host checks the final environment
        from dashenv.steps.isolation import check_container

        check_container(e, s.app_service, {}, f"the seed command of {name}")
    code = where_app_runs(e, ["sh", "-c", s.seed_command], tty)
    db = env.app.database()
    audit.record(
        ctx.audit_path(),
        environment=name,
        action="db seed",
        target=f"{s.host}:{s.postgres_port}/{db.database if db else '?'}",
        guards=[],
        outcome="done" if code == 0 else f"failed: exit {code}",
        details={"command": s.seed_command, "snapshot": snapshot},
    )
    return SeedResult(code, snapshot)
