"""Snapshots of an environment's database: their names, their listing, and taking one (the
``db snapshot`` command, and the automatic snapshot before a restore or a downgrade)."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from dashenv.errors import ConfigError, OperationFailed
from dashenv.plan.names import restore_prefix, snapshot_database

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres
    from dashenv.context import Environment
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
    copied_by: str | None = None  # the copy method that took it, where this process knows

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def check_name(database: str, name: str) -> None:
    if not NAME.match(name) or len(snapshot_database(database, name).encode()) > 63:
        raise ConfigError(
            f"invalid snapshot name {name!r}",
            hint="lower-case letters, digits and _, starting with a letter or digit, "
            "short enough for PostgreSQL's 63-byte names",
        )


@dataclass
class SnapshotTarget:
    of: Environment
    database: str
    pg: Postgres

    @property
    def env(self) -> ResolvedEnvironment:
        return self.of.env


def snapshot_target(e: Environment) -> SnapshotTarget:
    name = e.name
    env = e.env
    s = env.settings
    db = env.app.database()
    if db is None:
        raise ConfigError(f"{s.env_file} has no DATABASE_URL", hint="snapshots need a database")
    if s.postgres_port is None:
        raise ConfigError(
            f"{name} publishes no PostgreSQL port, so dashenv cannot reach its database",
            hint=f"set postgres_port for {name}",
        )
    return SnapshotTarget(e, db.database, e.postgres())


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


def parse_listing(pg: Postgres, database: str, *, sizes: bool = True) -> list[Snapshot]:
    """``database``'s snapshots on the server, oldest first (without ``sizes``: 0 each)."""
    prefix = snapshot_database(database, "")
    rows = pg.databases_with_comments(prefix, sizes=sizes)
    found = [_parse(n, c, s, database) for n, c, s in rows]
    return sorted(found, key=lambda s: (s.taken_at, s.name))


def tidy(t: SnapshotTarget) -> None:
    """Put right what an interrupted snapshot, restore or prune left.

    The environment's database is never closed to connections but for the moment of a copy;
    a snapshot killed in that moment (SIGKILL, PostgreSQL killed) left it closed. A drop of a
    snapshot or of a restore's scratch copy interrupted (Ctrl-C cancels the statement) left
    that database invalid: it can only be dropped, so the drop is finished (audited).
    """
    from dashenv.adapters import audit

    if t.database in t.pg.database_names():
        t.pg.allow_connections(t.database, True)
    ours = (snapshot_database(t.database, ""), restore_prefix(t.database))
    for broken in t.pg.invalid_databases():
        if broken.startswith(ours):
            t.pg.drop_database(broken)
            audit.record(
                t.of.ctx.audit_path(),
                environment=t.env.name,
                action="db snapshot cleanup",
                target=broken,
                guards=[],
                outcome="done",
                details={"why": "left invalid by an interrupted drop"},
            )


def listing(t: SnapshotTarget, *, sizes: bool = True) -> list[Snapshot]:
    return parse_listing(t.pg, t.database, sizes=sizes)


def describe(t: SnapshotTarget, name: str, auto: bool, revision: tuple[str, ...] | None) -> str:
    from dashenv.adapters.git import head

    branch, commit = head(t.env.project.root)
    return json.dumps(
        {
            "dashenv": "snapshot",
            "name": name,
            "environment": t.env.name,
            "source": t.database,
            "taken_at": now().isoformat(timespec="seconds"),
            "auto": auto,
            "revision": list(revision) if revision is not None else None,
            "git_branch": branch,
            "git_commit": commit,
        }
    )


def auto_name(existing: list[Snapshot]) -> str:
    base = AUTO_PREFIX + now().strftime("%Y%m%d_%H%M%S")
    taken = {s.name for s in existing}
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def prune(t: SnapshotTarget, say: Callable[[str], None]) -> None:
    """Automatic snapshots beyond the configured number go, oldest first (audited). Run
    under the database's lock at the start of the next ``db snapshot`` (and by gc), never
    by the restore, downgrade or seed that took one more: those answer without a DROP
    DATABASE of the whole size on their path."""
    from dashenv.adapters import audit

    autos = [s for s in listing(t, sizes=False) if s.auto]
    keep = t.env.settings.snapshot_keep
    for old in autos[: max(0, len(autos) - keep)]:
        t.pg.drop_database(old.database)
        say(f"Pruned automatic snapshot {old.name} (snapshot_keep = {keep})")
        audit.record(
            t.of.ctx.audit_path(),
            environment=t.env.name,
            action="db snapshot prune",
            target=old.database,
            guards=[],
            outcome="done",
        )


def drop_under_lock(e: Environment, pg: Postgres, database: str) -> None:
    """Drop one of ``name``'s snapshots under its database's lock (gc's pruning)."""
    from dashenv.steps.database_lock import database_lock

    with database_lock(e, operation="snapshot pruning"):
        pg.drop_database(database)


def take(e: Environment, snap: str | None, *, auto: bool, say: Callable[[str], None]) -> Snapshot:
    """Copy ENV's database into a snapshot, holding new connections off it for the copy
    (under the database's lock)."""
    name = e.name
    from dashenv.steps.copying import copy, start_probe
    from dashenv.steps.database_lock import database_lock

    t = snapshot_target(e)
    with (
        database_lock(e, operation="snapshot", say=say),
        t.pg,
        start_probe(e, t.pg) as pending,
    ):
        tidy(t)
        if not auto:  # the db snapshot command: what restores added beyond snapshot_keep
            prune(t, say)
        existing = listing(t, sizes=False)
        snap = snap or (auto_name(existing) if auto else now().strftime("%Y%m%d_%H%M%S"))
        check_name(t.database, snap)
        if any(s.name == snap for s in existing):
            raise OperationFailed(
                f"{name} already has a snapshot {snap}",
                hint=f"pick another name, or delete it: dashenv db snapshot {name} --delete {snap}",
            )
        if t.database not in t.pg.database_names():
            raise OperationFailed(f"{t.database} does not exist", hint=f"dashenv up {name}")
        revision = t.pg.alembic_current(t.database)
        target = snapshot_database(t.database, snap)
        hold = f"Holding new connections off {t.database} for the copy (the app's pool reconnects)"
        method = copy(e, t.pg, target, t.database, hold_template=True,
                      check_space=True, say=say, announce=hold, pending=pending)  # fmt: skip
        comment = describe(t, snap, auto, revision)
        t.pg.set_comment(target, comment)
        t.pg.allow_connections(target, False)  # never the app's database
        taken = _parse(target, comment, t.pg.database_size(target) or 0, t.database)
        return replace(taken, copied_by=method.name)
