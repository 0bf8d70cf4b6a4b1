"""The one naming authority for the databases dashenv makes on an environment's server.

Every name is the environment's database followed by a mark of the operation that made it, so
each carries the database's own name (a test database's "test" included) and no two
operations can pick, recognise or sweep each other's databases:

| operation | name |
| --- | --- |
| reset: template of the migrated schema | ``<db>__tpl_<migrations hash>`` |
| reset: template being built | ``<db>__build_<migrations hash>`` |
| reset: the new database, the old one set aside | ``<db>__new_<token>``, ``<db>__old_<token>`` |
| snapshot | ``<db>__snap_<name>`` |
| restore: the copy swapped in | ``<db>__restore_<token>`` |
| pytest-xdist worker (pytest-django's naming) | ``<db>_gw<N>`` |
| one test's fresh database | ``<db>_fresh_<token>`` |
"""

from __future__ import annotations

from dataclasses import dataclass

TEMPLATE = "__tpl_"
BUILD = "__build_"
RESET_NEW = "__new_"
RESET_OLD = "__old_"
SNAPSHOT = "__snap_"
RESTORE = "__restore_"
WORKER = "_gw"
FRESH = "_fresh_"


@dataclass(frozen=True)
class ResetNames:
    """The databases one reset works with, named after the test database and the
    migrations' hash."""

    database: str
    digest: str

    @property
    def template(self) -> str:
        return f"{self.database}{TEMPLATE}{self.digest[:12]}"

    @property
    def build(self) -> str:
        return f"{self.database}{BUILD}{self.digest[:12]}"

    @property
    def new_prefix(self) -> str:
        return f"{self.database}{RESET_NEW}"

    @property
    def old_prefix(self) -> str:
        return f"{self.database}{RESET_OLD}"

    def scratch(self, token: str) -> tuple[str, str]:
        """The new database built under a scratch name, and the name the old one gets."""
        return self.new_prefix + token, self.old_prefix + token

    def is_template(self, name: str) -> bool:
        """A template of this database's migrations, current or stale."""
        return name.startswith(f"{self.database}{TEMPLATE}")

    def leftovers(self, existing: list[str]) -> list[str]:
        """Scratch databases an earlier, interrupted reset left behind, and stale templates."""
        scratch = (self.new_prefix, self.old_prefix, f"{self.database}{BUILD}")
        return [
            n
            for n in existing
            if n.startswith(scratch) or (self.is_template(n) and n != self.template)
        ]


def named_after(database: str, name: str) -> bool:
    """``name`` is the database or one named after it by an operation with a ``__`` mark
    (reset scratch, template, snapshot, restore)."""
    return name == database or name.startswith(f"{database}__")


def snapshot_database(database: str, name: str) -> str:
    return f"{database}{SNAPSHOT}{name}"


def restore_prefix(database: str) -> str:
    return f"{database}{RESTORE}"


def restore_scratch(database: str, token: str) -> str:
    """The copy a restore builds before it swaps it in."""
    return restore_prefix(database) + token


def worker_databases(database: str, count: int) -> list[str]:
    """pytest-django's naming, so existing conftests recognise them: <database>_gw0..."""
    return [f"{database}{WORKER}{i}" for i in range(count)]


def is_worker_database(name: str, database: str) -> bool:
    prefix = f"{database}{WORKER}"
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


def fresh_database(database: str, token: str) -> str:
    """The name of one test's database from dashenv_fresh_database."""
    return f"{database}{FRESH}{token}"


def is_run_database(name: str, database: str) -> bool:
    """A database a test run makes of ``database``: a worker's, or one test's fresh one."""
    return is_worker_database(name, database) or name.startswith(fresh_database(database, ""))
