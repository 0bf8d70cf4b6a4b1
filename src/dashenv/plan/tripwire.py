"""The tripwire: what a leak into a protected environment would change, read from its
servers before and after a test-side command, and the verdict. Pure: two readings in,
findings out.

A new or dropped database on its server, a change to its database's tables or Alembic
revision is a leak. Rows written, Redis keys added or an index emptied are a leak too, unless
something else could have written them: another of its containers running (its app, a
worker), or another client connected to its database at the first reading; then a warning
that names that possibility. Keys expiring is not a leak (the count only falls).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PostgresReading:
    databases: tuple[str, ...]  # on the server
    tables: tuple[str, ...]  # schema.table of its database
    revision: str | None  # Alembic's, where the database has alembic_version
    rows_written: int  # inserted + updated + deleted since the statistics began
    other_clients: int  # connected to its database besides the reader


@dataclass(frozen=True)
class Reading:
    environment: str
    database: str | None
    postgres: PostgresReading | None  # None: its server is not running
    redis_keys: dict[int, int] = field(default_factory=dict)  # its indexes -> keys
    others_running: tuple[str, ...] = ()  # its other running services (app, workers)
    shared_postgres: bool = False  # the test environment's databases live there too


@dataclass(frozen=True)
class Finding:
    environment: str
    what: str
    leak: bool  # false: a warning (something else may have written it)

    def line(self) -> str:
        kind = "LEAK" if self.leak else "warning"
        return f"tripwire {kind}: {self.environment}: {self.what}"


def compare(before: Reading, after: Reading) -> list[Finding]:
    """What changed on the protected environment between the two readings."""
    env = before.environment
    found: list[Finding] = []
    b, a = before.postgres, after.postgres
    writers = _writers(before)
    if b is not None and a is not None:
        if not before.shared_postgres:
            for name in sorted(set(a.databases) - set(b.databases)):
                found.append(Finding(env, f"database {name} was created on its server", True))
            for name in sorted(set(b.databases) - set(a.databases)):
                found.append(Finding(env, f"database {name} was dropped from its server", True))
        added = sorted(set(a.tables) - set(b.tables))
        dropped = sorted(set(b.tables) - set(a.tables))
        if added or dropped:
            parts = [f"+{t}" for t in added] + [f"-{t}" for t in dropped]
            found.append(
                Finding(env, f"tables of {before.database} changed ({', '.join(parts)})", True)
            )
        if a.revision != b.revision:
            found.append(
                Finding(
                    env,
                    f"the Alembic revision of {before.database} moved "
                    f"({b.revision or 'none'} -> {a.revision or 'none'})",
                    True,
                )
            )
        written = a.rows_written - b.rows_written
        if written > 0:
            what = f"{written} rows of {before.database} were written"
            found.append(_maybe(env, what, writers))
    for index, keys in sorted(after.redis_keys.items()):
        was = before.redis_keys.get(index)
        if was is None:
            continue
        if keys > was:
            found.append(_maybe(env, f"Redis index {index} gained {keys - was} keys", writers))
        elif was > 0 and keys == 0:
            found.append(_maybe(env, f"Redis index {index} was emptied ({was} keys)", writers))
    return found


def _writers(before: Reading) -> str:
    """What else could have written to the protected environment, or ''."""
    parts = []
    if before.others_running:
        parts.append(f"its {', '.join(before.others_running)} running")
    if before.postgres is not None and before.postgres.other_clients:
        parts.append(f"{before.postgres.other_clients} other clients connected")
    return " and ".join(parts)


def _maybe(env: str, what: str, writers: str) -> Finding:
    if writers:
        return Finding(env, f"{what} (possibly by {writers}, not the tests)", False)
    return Finding(env, what, True)
