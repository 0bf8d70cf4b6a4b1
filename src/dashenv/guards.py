"""Safety guards for destructive database and cache operations.

One pure function per guard: facts in, verdict out. This is the one place that says
why a reset was refused. A reset runs only when every guard passes.

The one rule for every other destructive step a user asks for by name (deleting a protected
environment's volumes, a downgrade, a restore, deleting a snapshot, a confirmed reset, gc)
is here too: ``require_consent``. Without --yes it asks on a terminal; without a terminal it
refuses; a "no" keeps everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from dashenv.errors import GuardRefused

RESET_ROLES = ("testing", "ci")


@dataclass(frozen=True)
class Endpoint:
    """A server as actually reached: host and published port, and the container behind it."""

    host: str
    port: int | None
    container: str | None = None  # id of the running container publishing that port
    project: str | None = None  # its compose project

    def same_server(self, other: Endpoint) -> bool:
        if self.container and other.container:
            return self.container == other.container
        return (self.host, self.port) == (other.host, other.port) and self.port is not None

    def describe(self) -> str:
        where = f"{self.host}:{self.port}"
        if self.container:
            where += f" in {self.project or 'a container outside Compose'}"
        return where


@dataclass(frozen=True)
class ProtectedTarget:
    """A protected environment (dev) as configured and observed."""

    environment: str
    project: str  # its compose project name
    sharing_declared: bool  # both declare each other exclusive_with: they share servers
    postgres: Endpoint | None
    database: str | None
    redis: Endpoint | None
    redis_indexes: tuple[int, ...]


@dataclass(frozen=True)
class Stamp:
    environment: str


@dataclass(frozen=True)
class Intent:
    """What the configuration alone says about a reset: checked before anything starts."""

    environment: str
    role: str
    protected: bool
    app_environment: str
    testing: bool
    database: str | None  # the name parsed from DATABASE_URL
    project_name: str


@dataclass(frozen=True)
class ResetFacts:
    """The intent and everything observed about the servers a reset would touch."""

    intent: Intent
    postgres: Endpoint
    database_exists: bool
    stamp: Stamp | None
    user_tables: tuple[str, ...]
    redis: Endpoint | None
    redis_indexes: tuple[int, ...]  # every index the reset flushes, the app's main one first
    protected_targets: tuple[ProtectedTarget, ...] = field(default_factory=tuple)
    adopt: bool = False
    inspect_error: str | None = None  # the database could not be looked into


@dataclass(frozen=True)
class Verdict:
    guard: str
    passed: bool
    saw: str
    reason: str = ""

    def line(self) -> str:
        mark = "pass" if self.passed else "FAIL"
        why = f": {self.reason}" if self.reason else ""
        return f"{mark}  {self.guard} (saw {self.saw}){why}"


def guard_role(f: Intent) -> Verdict:
    """a. The environment is for testing (role testing or ci, not protected) and the
    application itself says ENVIRONMENT=testing."""
    saw = f"role={f.role}, protected={f.protected}, ENVIRONMENT={f.app_environment}"
    if f.role not in RESET_ROLES:
        return Verdict("environment role", False, saw, f"role must be {' or '.join(RESET_ROLES)}")
    if f.protected:
        return Verdict("environment role", False, saw, "the environment is protected")
    if f.app_environment != "testing":
        return Verdict("environment role", False, saw, "ENVIRONMENT must be 'testing'")
    return Verdict("environment role", True, saw)


def guard_testing_flag(f: Intent) -> Verdict:
    """b. The explicit TESTING flag is true."""
    return Verdict(
        "TESTING flag",
        f.testing,
        f"TESTING={str(f.testing).lower()}",
        "" if f.testing else "TESTING must be true",
    )


def guard_database_name(f: Intent) -> Verdict:
    """c. The database *name* contains "test". Only the name counts: a password, user or
    host containing "test" does not (the seed's ``"test" in DATABASE_URL`` was a hole)."""
    name = f.database or "(none)"
    ok = f.database is not None and "test" in f.database.lower()
    return Verdict("database name", ok, f"database={name}", "" if ok else "must contain 'test'")


def foreign_server(f: ResetFacts, server: Endpoint) -> str | None:
    """Why ``server`` is not certainly this environment's own, or None when it is.

    The one rule for every server a reset touches (PostgreSQL and Redis alike): a running
    container of this environment's own compose project must publish the port reached. A
    project name shared with a protected environment counts as its own only where the
    configuration declares the sharing (``exclusive_with``, the overlay layout); it is never
    inferred from matching names.
    """
    project = f.intent.project_name
    if server.container is None:
        return (
            f"no running container publishes {server.host}:{server.port}, so it cannot be "
            f"confirmed to be {project}'s"
        )
    if server.project != project:
        return f"the port is served by another project's container, not {project}'s"
    for p in f.protected_targets:
        if p.project == project and not p.sharing_declared:
            return (
                f"compose project {project} is also protected environment "
                f"{p.environment}'s, and sharing it is not declared (exclusive_with)"
            )
    return None


def guard_distinct_target(f: ResetFacts) -> Verdict:
    """d. The database actually reached (host, published port, the container behind the
    port) is this environment's own server, and not a protected environment's database."""
    database = f.intent.database
    where = f"{f.postgres.describe()}/{database}"
    foreign = foreign_server(f, f.postgres)
    if foreign is not None:
        return Verdict("distinct target", False, where, foreign)
    for p in f.protected_targets:
        if p.postgres and p.postgres.same_server(f.postgres) and p.database == database:
            return Verdict(
                "distinct target",
                False,
                where,
                f"that is protected environment {p.environment}'s database",
            )
    return Verdict("distinct target", True, where)


def guard_stamp(f: ResetFacts) -> Verdict:
    """e. The database carries dashenv's stamp for this environment. Stamped for another
    environment: refused. Unstamped with user tables: refused unless --adopt. Empty or
    missing: it is stamped by the reset."""
    if f.inspect_error is not None:
        return Verdict("stamp", False, "no stamp readable", f"cannot inspect: {f.inspect_error}")
    if not f.database_exists:
        return Verdict("stamp", True, "no database yet", "it will be created and stamped")
    if f.stamp is not None:
        if f.stamp.environment == f.intent.environment:
            return Verdict("stamp", True, f"stamped for {f.stamp.environment}")
        return Verdict(
            "stamp",
            False,
            f"stamped for {f.stamp.environment}",
            f"the database belongs to environment {f.stamp.environment}",
        )
    if f.user_tables:
        shown = ", ".join(f.user_tables[:3]) + (", ..." if len(f.user_tables) > 3 else "")
        if f.adopt:
            return Verdict("stamp", True, f"unstamped, tables {shown}", "adopted (--adopt)")
        return Verdict(
            "stamp",
            False,
            f"unstamped, {len(f.user_tables)} tables ({shown})",
            "not made by dashenv; pass --adopt if it really is this environment's",
        )
    return Verdict("stamp", True, "unstamped and empty", "it will be stamped")


def guard_redis_index(f: ResetFacts) -> Verdict:
    """f. The Redis server reached is this environment's own (the rule of ``foreign_server``)
    and none of the indexes to flush (FLUSHDB only, never FLUSHALL) is a protected
    environment's index on that server."""
    if f.redis is None:
        return Verdict("redis index", True, "no Redis published", "nothing to flush")
    indexes = ", ".join(str(i) for i in f.redis_indexes)
    saw = f"{f.redis.describe()} index {indexes}"
    foreign = foreign_server(f, f.redis)
    if foreign is not None:
        return Verdict("redis index", False, saw, foreign)
    for p in f.protected_targets:
        if p.redis is None or not p.redis.same_server(f.redis):
            continue
        shared = sorted(set(p.redis_indexes) & set(f.redis_indexes))
        if shared:
            return Verdict(
                "redis index",
                False,
                saw,
                f"protected environment {p.environment} uses index "
                f"{', '.join(map(str, shared))} on that server",
            )
    return Verdict("redis index", True, saw)


# the guards that need nothing running: checked before a test setup starts anything
STATIC_GUARDS = (guard_role, guard_testing_flag, guard_database_name)
# the guards over what is observed of the servers
OBSERVED_GUARDS = (guard_distinct_target, guard_stamp, guard_redis_index)


def check_static(intent: Intent) -> list[Verdict]:
    return [guard(intent) for guard in STATIC_GUARDS]


def check_reset(facts: ResetFacts) -> list[Verdict]:
    return check_static(facts.intent) + [guard(facts) for guard in OBSERVED_GUARDS]


# --- consent: the one confirm-or-refuse rule for destructive steps ---------------------


class Asker(Protocol):
    """Questions on the user's terminal (the CLI's; None where there is no terminal)."""

    def confirm(self, question: str) -> bool: ...

    def prompt(self, question: str) -> str: ...


@dataclass(frozen=True)
class Consent:
    """What a destructive step asks, and what its refusals say."""

    question: str
    refused: str  # without a terminal to ask on
    refused_hint: str
    kept: str  # the user said no
    kept_hint: str = "nothing was changed"
    type_to_confirm: str | None = None  # the answer to type (an environment's name), not y/n

    @classmethod
    def standard(
        cls,
        what: str,
        question: str,
        retry: str,
        kept: str,
        kept_hint: str = "nothing was changed",
        type_to_confirm: str | None = None,
    ) -> Consent:
        """Refused as "refusing to WHAT without confirmation", the hint naming ``retry`` (the
        command with --yes) where one is given."""
        hint = "confirm in a terminal, or pass --yes" + (f": {retry}" if retry else "")
        refused = f"refusing to {what} without confirmation"
        return cls(question, refused, hint, kept, kept_hint, type_to_confirm)


def require_consent(consent: Consent, *, yes: bool, ask: Asker | None) -> None:
    """Go on with --yes, or with the user's consent on a terminal; else refuse (exit 3),
    before anything is touched."""
    if yes:
        return
    if ask is None:
        raise GuardRefused(consent.refused, hint=consent.refused_hint)
    if consent.type_to_confirm is not None:
        agreed = ask.prompt(consent.question).strip() == consent.type_to_confirm
    else:
        agreed = ask.confirm(consent.question)
    if not agreed:
        raise GuardRefused(consent.kept, hint=consent.kept_hint)
