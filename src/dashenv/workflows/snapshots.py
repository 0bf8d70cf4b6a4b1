"""Snapshots of an environment's database, in seconds: PostgreSQL copies the database's files
(``CREATE DATABASE ... TEMPLATE``), no dump.

A snapshot is a database on the environment's own server, named ``<database>__snap_<name>``,
closed to connections (never the app's database), described by a JSON comment (environment,
time, Alembic revision, git branch and commit). ``down --volumes`` removes snapshots with the
volume; ``--to FILE`` / ``--from FILE`` keep one outside it (pg_dump's custom format, run in
the postgres container).

A restore swaps like the reset (both renames in one transaction: the old or the new
database, never neither) and keeps the state it replaces as an automatic snapshot: the old
database is renamed aside, which costs nothing. Restore, downgrade and deleting a snapshot
are the only operations that remove data of a protected environment: each is asked for by
name, confirmed, and audited.
"""

from __future__ import annotations

import os
import secrets as _secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError, GuardRefused
from dashenv.guards import Consent, require_consent
from dashenv.plan.names import restore_prefix, restore_scratch, snapshot_database
from dashenv.steps.database_lock import database_lock
from dashenv.steps.snapshots import (
    Snapshot,
    SnapshotTarget,
    auto_name,
    describe,
    listing,
    snapshot_target,
    tidy,
)
from dashenv.steps.snapshots import take as take  # the db snapshot command's

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.guards import Asker
    from dashenv.settings.sources import ResolvedEnvironment


def list_snapshots(e: Environment) -> tuple[list[Snapshot], dict[str, object]]:
    """ENV's snapshots, oldest first, and how copies go on its server (and why)."""
    from dashenv.steps.copying import describe

    t = snapshot_target(e)
    with t.pg:
        found = listing(t)
        return found, describe(t.env, t.pg, t.database, probe_in=e)


def _consent(env: ResolvedEnvironment, question: str, how: str) -> Consent:
    return Consent.standard(
        f"{how} of protected environment {env.name}", question, "", f"kept {env.name}'s database"
    )


def delete(e: Environment, snap: str, *, yes: bool, ask: Asker | None) -> Snapshot:
    ctx, name = e.ctx, e.name
    from dashenv.adapters import audit

    t = snapshot_target(e)
    with database_lock(e, operation="snapshot deletion"), t.pg:
        tidy(t)
        found = _find(t, snap)
        if t.env.settings.protected:
            consent = _consent(t.env, f"Delete snapshot {snap} of {name}?", "delete a snapshot")
            require_consent(consent, yes=yes, ask=ask)
        t.pg.drop_database(found.database)
        audit.record(
            ctx.audit_path(),
            environment=name,
            action="db snapshot delete",
            target=found.database,
            guards=[],
            outcome="done",
        )
        return found


def _find(t: SnapshotTarget, snap: str, snaps: list[Snapshot] | None = None) -> Snapshot:
    snaps = listing(t, sizes=False) if snaps is None else snaps
    for s in snaps:
        if s.name == snap:
            if s.environment not in (t.env.name, ""):  # never another environment's
                raise GuardRefused(
                    f"snapshot {snap} is of environment {s.environment}, not {t.env.name}",
                    hint="a snapshot is restored into its own environment only",
                )
            return s
    names = ", ".join(s.name for s in snaps) or "none"
    raise ConfigError(
        f"{t.env.name} has no snapshot {snap!r}",
        hint=f"snapshots of {t.env.name}: {names} ('dashenv db snapshots {t.env.name}')",
    )


@dataclass
class RestoreResult:
    environment: str
    database: str
    restored: str  # the snapshot name, or the file
    kept_as: str  # the automatic snapshot holding the state it replaced
    copied_by: str | None = None  # the copy method (None: from a file, by pg_restore)


def restore(
    e: Environment,
    snap: str | None,
    *,
    from_file: Path | None = None,
    yes: bool,
    ask: Asker | None,
    say: Callable[[str], None],
    wait: bool = True,
) -> RestoreResult:
    """Put a snapshot (or a dump file) in place of ENV's database; the current state is kept
    as an automatic snapshot first. Under the database's lock: a reset, another restore or a
    snapshot of it waits (or waits for it)."""
    name = e.name
    if from_file is not None and not from_file.is_file():
        raise ConfigError(
            f"no file {from_file}", hint="give the file 'dashenv db snapshot ENV --to FILE' wrote"
        )
    from dashenv.steps.ownership import require_own

    require_own(e, f"restore {name}'s database")
    with database_lock(e, operation="restore", wait=wait, say=say):
        return _restore(e, snap, from_file, yes=yes, ask=ask, say=say)


def _restore(
    e: Environment,
    snap: str | None,
    from_file: Path | None,
    *,
    yes: bool,
    ask: Asker | None,
    say: Callable[[str], None],
) -> RestoreResult:
    ctx, name = e.ctx, e.name
    from dashenv.adapters import audit
    from dashenv.steps.copying import copy, start_probe

    t = snapshot_target(e)
    with t.pg, start_probe(e, t.pg) as pending:
        tidy(t)
        for leftover in t.pg.database_names():
            if leftover.startswith(restore_prefix(t.database)):  # an interrupted restore's
                t.pg.drop_database(leftover)
        existing = listing(t, sizes=False)
        source = None if from_file is not None else _find(t, snap or "", existing)
        what = str(from_file) if from_file is not None else f"snapshot {snap}"
        if t.env.settings.protected:
            question = (
                f"Replace {name}'s database with {what}? The current state is kept as an "
                "automatic snapshot."
            )
            consent = _consent(t.env, question, "restore the database")
            require_consent(consent, yes=yes, ask=ask)
        new = restore_scratch(t.database, f"{os.getpid()}_{_secrets.token_hex(3)}")
        try:
            copied_by = None
            if source is not None:
                copied_by = copy(e, t.pg, new, source.database, check_space=True,
                                 say=say, pending=pending).name  # fmt: skip
            else:
                assert from_file is not None
                t.pg.create_database(new)
                _pg_restore(t, new, from_file)
            stamp = (t.pg.read_stamp(new) or {}).get("environment")
            if stamp is not None and stamp != name:
                raise GuardRefused(
                    f"refusing to restore {what} into {name}: its database is stamped for "
                    f"environment {stamp}",
                    hint="a snapshot is restored into its own environment only (dev to dev)",
                )
            kept = auto_name(existing)
            kept_db = snapshot_database(t.database, kept)
            revision = (
                t.pg.alembic_current(t.database) if t.database in t.pg.database_names() else None
            )
            t.pg.swap(t.database, new, kept_db)
        except BaseException:
            t.pg.drop_database(new)
            raise
        if kept_db in t.pg.database_names():
            t.pg.set_comment(kept_db, describe(t, kept, True, revision))
            t.pg.allow_connections(kept_db, False)
        audit.record(
            ctx.audit_path(),
            environment=name,
            action="db restore",
            target=t.database,
            guards=[],
            outcome="done",
            details={"restored": what, "kept_as": kept, "copied_by": copied_by},
        )
        return RestoreResult(name, t.database, what, kept, copied_by)


def _pg_restore(t: SnapshotTarget, database: str, path: Path) -> None:
    bound = t.of
    user = t.pg.user
    argv = bound.docker.compose_argv(
        "exec", "-T", t.env.settings.postgres_service,
        "pg_restore", "--no-owner", "--exit-on-error", "-U", user, "-d", database,
    )  # fmt: skip
    bound.docker.run_with_files(argv, "pg_restore", stdin=path)


def dump(e: Environment, path: Path) -> Path:
    """ENV's database into FILE (pg_dump's custom format, run in the postgres container)."""

    t = snapshot_target(e)
    bound = e
    argv = bound.docker.compose_argv(
        "exec", "-T", t.env.settings.postgres_service,
        "pg_dump", "-Fc", "-U", t.pg.user, "-d", t.database,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        bound.docker.run_with_files(argv, "pg_dump", stdout=tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
