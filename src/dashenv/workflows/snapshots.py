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

import datetime
import json
import os
import re
import secrets as _secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.errors import ConfigError, GuardRefused, OperationFailed

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres
    from dashenv.context import RunContext
    from dashenv.settings.sources import ResolvedEnvironment

NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
AUTO_PREFIX = "auto_"


@dataclass(frozen=True)
class Snapshot:
    name: str
    database: str  # the snapshot database's own name
    environment: str
    source: str  # the database it is a copy of
    taken_at: str
    auto: bool
    revision: list[str] | None
    git_branch: str | None
    git_commit: str | None
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def snapshot_database(database: str, name: str) -> str:
    return f"{database}__snap_{name}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _check_name(database: str, name: str) -> None:
    if not NAME.match(name) or len(snapshot_database(database, name).encode()) > 63:
        raise ConfigError(
            f"invalid snapshot name {name!r}",
            hint="lower-case letters, digits and _, starting with a letter or digit, "
            "short enough for PostgreSQL's 63-byte names",
        )


@dataclass
class _Target:
    env: ResolvedEnvironment
    database: str
    pg: Postgres


def _target(ctx: RunContext, name: str) -> _Target:
    from dashenv.adapters.postgres import Postgres

    env = ctx.env(name)
    s = env.settings
    db = env.app.database()
    if db is None:
        raise ConfigError(f"{s.env_file} has no DATABASE_URL", hint="snapshots need a database")
    if s.postgres_port is None:
        raise ConfigError(
            f"{name} publishes no PostgreSQL port, so dashenv cannot reach its database",
            hint=f"set postgres_port for {name}",
        )
    return _Target(
        env, db.database, Postgres(s.host, s.postgres_port, db.user or "postgres", db.password)
    )


def _parse(name: str, comment: str | None, size: int, database: str) -> Snapshot:
    """A snapshot from its database's comment. One without its comment (a restore
    interrupted right after its swap) is still listed, as an automatic snapshot of unknown
    origin: the stamp check on restore still holds."""
    try:
        meta = json.loads(comment or "")
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("dashenv") != "snapshot":
        meta = {"name": name[len(snapshot_database(database, "")) :], "auto": True}
    return Snapshot(
        name=str(meta.get("name", "")),
        database=name,
        environment=str(meta.get("environment", "")),
        source=str(meta.get("source", database)),
        taken_at=str(meta.get("taken_at", "")),
        auto=bool(meta.get("auto")),
        revision=meta.get("revision"),
        git_branch=meta.get("git_branch"),
        git_commit=meta.get("git_commit"),
        size_bytes=size,
    )


def parse_listing(pg: Postgres, database: str) -> list[Snapshot]:
    """``database``'s snapshots on the server, oldest first."""
    prefix = snapshot_database(database, "")
    found = [_parse(n, c, s, database) for n, c, s in pg.databases_with_comments(prefix)]
    return sorted(found, key=lambda s: (s.taken_at, s.name))


def _tidy(ctx: RunContext, t: _Target) -> None:
    """Put right what an interrupted snapshot, restore or prune left.

    The environment's database is never closed to connections but for the moment of a copy;
    a snapshot killed in that moment (SIGKILL, PostgreSQL killed) left it closed. A drop of a
    snapshot or of a restore's scratch copy interrupted (Ctrl-C cancels the statement) left
    that database invalid: it can only be dropped, so the drop is finished (audited).
    """
    from dashenv.adapters import audit

    if t.database in t.pg.database_names():
        t.pg.allow_connections(t.database, True)
    ours = (snapshot_database(t.database, ""), f"{t.database}__new_")
    for broken in t.pg.invalid_databases():
        if broken.startswith(ours):
            t.pg.drop_database(broken)
            audit.record(
                ctx.audit_path(),
                environment=t.env.name,
                action="db snapshot cleanup",
                target=broken,
                guards=[],
                outcome="done",
                details={"why": "left invalid by an interrupted drop"},
            )


def _list(t: _Target) -> list[Snapshot]:
    return parse_listing(t.pg, t.database)


def list_snapshots(ctx: RunContext, name: str) -> list[Snapshot]:
    t = _target(ctx, name)
    with t.pg:
        return _list(t)


def _describe(t: _Target, name: str, auto: bool, revision: tuple[str, ...] | None) -> str:
    from dashenv.adapters.git import head

    branch, commit = head(t.env.project.root)
    return json.dumps(
        {
            "dashenv": "snapshot",
            "name": name,
            "environment": t.env.name,
            "source": t.database,
            "taken_at": _now().isoformat(timespec="seconds"),
            "auto": auto,
            "revision": list(revision) if revision is not None else None,
            "git_branch": branch,
            "git_commit": commit,
        }
    )


def _auto_name(existing: list[Snapshot]) -> str:
    base = AUTO_PREFIX + _now().strftime("%Y%m%d_%H%M%S")
    taken = {s.name for s in existing}
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _prune(ctx: RunContext, t: _Target, say: Callable[[str], None]) -> None:
    """Automatic snapshots beyond the configured number go, oldest first (audited)."""
    from dashenv.adapters import audit

    autos = [s for s in _list(t) if s.auto]
    keep = t.env.settings.snapshot_keep
    for old in autos[: max(0, len(autos) - keep)]:
        t.pg.drop_database(old.database)
        say(f"Pruned automatic snapshot {old.name} (snapshot_keep = {keep})")
        audit.record(
            ctx.audit_path(),
            environment=t.env.name,
            action="db snapshot prune",
            target=old.database,
            guards=[],
            outcome="done",
        )


def take(
    ctx: RunContext, name: str, snap: str | None, *, auto: bool, say: Callable[[str], None]
) -> Snapshot:
    """Copy ENV's database into a snapshot, holding new connections off it for the copy."""
    t = _target(ctx, name)
    with t.pg:
        _tidy(ctx, t)
        existing = _list(t)
        snap = snap or (_auto_name(existing) if auto else _now().strftime("%Y%m%d_%H%M%S"))
        _check_name(t.database, snap)
        if any(s.name == snap for s in existing):
            raise OperationFailed(
                f"{name} already has a snapshot {snap}",
                hint=f"pick another name, or delete it: dashenv db snapshot {name} --delete {snap}",
            )
        if t.database not in t.pg.database_names():
            raise OperationFailed(f"{t.database} does not exist", hint=f"dashenv up {name}")
        revision = t.pg.alembic_current(t.database)
        target = snapshot_database(t.database, snap)
        say(f"Holding new connections off {t.database} for the copy (the app's pool reconnects)")
        t.pg.create_database(target, template=t.database, hold_template=True)
        t.pg.set_comment(target, _describe(t, snap, auto, revision))
        t.pg.allow_connections(target, False)  # never the app's database
        if auto:
            _prune(ctx, t, say)
        return next(s for s in _list(t) if s.name == snap)


def _confirm(
    env: ResolvedEnvironment,
    yes: bool,
    confirm: Callable[[str], bool] | None,
    question: str,
    how: str,
) -> None:
    if not env.settings.protected or yes:
        return
    if confirm is None:
        raise GuardRefused(
            f"refusing to {how} of protected environment {env.name} without confirmation",
            hint="confirm in a terminal, or pass --yes",
        )
    if not confirm(question):
        raise GuardRefused(f"kept {env.name}'s database", hint="nothing was changed")


def delete(
    ctx: RunContext, name: str, snap: str, *, yes: bool, confirm: Callable[[str], bool] | None
) -> Snapshot:
    from dashenv.adapters import audit

    t = _target(ctx, name)
    with t.pg:
        _tidy(ctx, t)
        found = _find(t, snap)
        _confirm(t.env, yes, confirm, f"Delete snapshot {snap} of {name}?", "delete a snapshot")
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


def _find(t: _Target, snap: str) -> Snapshot:
    snaps = _list(t)
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


def restore(
    ctx: RunContext,
    name: str,
    snap: str | None,
    *,
    from_file: Path | None = None,
    yes: bool,
    confirm: Callable[[str], bool] | None,
    say: Callable[[str], None],
) -> RestoreResult:
    """Put a snapshot (or a dump file) in place of ENV's database; the current state is kept
    as an automatic snapshot first."""
    from dashenv.adapters import audit

    if from_file is not None and not from_file.is_file():
        raise ConfigError(
            f"no file {from_file}", hint="give the file 'dashenv db snapshot ENV --to FILE' wrote"
        )
    t = _target(ctx, name)
    with t.pg:
        _tidy(ctx, t)
        for leftover in t.pg.database_names():
            if leftover.startswith(f"{t.database}__new_"):  # an interrupted restore's scratch
                t.pg.drop_database(leftover)
        source = None if from_file is not None else _find(t, snap or "")
        what = str(from_file) if from_file is not None else f"snapshot {snap}"
        _confirm(
            t.env,
            yes,
            confirm,
            f"Replace {name}'s database with {what}? The current state is kept as an "
            "automatic snapshot.",
            "restore the database",
        )
        new = f"{t.database}__new_{os.getpid()}_{_secrets.token_hex(3)}"
        try:
            if source is not None:
                t.pg.create_database(new, template=source.database)
            else:
                assert from_file is not None
                t.pg.create_database(new)
                _pg_restore(ctx, t, new, from_file)
            stamp = (t.pg.read_stamp(new) or {}).get("environment")
            if stamp is not None and stamp != name:
                raise GuardRefused(
                    f"refusing to restore {what} into {name}: its database is stamped for "
                    f"environment {stamp}",
                    hint="a snapshot is restored into its own environment only (dev to dev)",
                )
            existing = _list(t)
            kept = _auto_name(existing)
            kept_db = snapshot_database(t.database, kept)
            revision = (
                t.pg.alembic_current(t.database) if t.database in t.pg.database_names() else None
            )
            t.pg.swap(t.database, new, kept_db)
        except BaseException:
            t.pg.drop_database(new)
            raise
        if kept_db in t.pg.database_names():
            t.pg.set_comment(kept_db, _describe(t, kept, True, revision))
            t.pg.allow_connections(kept_db, False)
        audit.record(
            ctx.audit_path(),
            environment=name,
            action="db restore",
            target=t.database,
            guards=[],
            outcome="done",
            details={"restored": what, "kept_as": kept},
        )
        _prune(ctx, t, say)
        return RestoreResult(name, t.database, what, kept)


def _pg_restore(ctx: RunContext, t: _Target, database: str, path: Path) -> None:
    from dashenv.steps.targets import target

    bound = target(ctx, t.env.name)
    user = t.pg.user
    argv = bound.docker.compose_argv(
        "exec", "-T", t.env.settings.postgres_service,
        "pg_restore", "--no-owner", "--exit-on-error", "-U", user, "-d", database,
    )  # fmt: skip
    bound.docker.run_with_files(argv, "pg_restore", stdin=path)


def dump(ctx: RunContext, name: str, path: Path) -> Path:
    """ENV's database into FILE (pg_dump's custom format, run in the postgres container)."""
    from dashenv.steps.targets import target

    t = _target(ctx, name)
    bound = target(ctx, name)
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
