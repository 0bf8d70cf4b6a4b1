"""Safety guards for destructive database and cache operations.

One pure function per guard: facts in, verdict out. This is the one place that says
why a reset was refused. A reset runs only when every guard passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RESET_ROLES = ("testing", "ci")


@dataclass(frozen=True)
class Endpoint:
    """A server as actually reached: host and published port, and the container behind it."""

    host: str
    port: int | None
    container: str | None = None  # container id publishing that port, if observed
    project: str | None = None  # its compose project

    def same_server(self, other: Endpoint) -> bool:
        if self.container and other.container:
            return self.container == other.container
        return (self.host, self.port) == (other.host, other.port) and self.port is not None


@dataclass(frozen=True)
class ProtectedTarget:
    environment: str
    postgres: Endpoint | None
    database: str | None
    redis: Endpoint | None
    redis_index: int


@dataclass(frozen=True)
class Stamp:
    environment: str


@dataclass(frozen=True)
class ResetFacts:
    environment: str
    role: str
    protected: bool
    app_environment: str
    testing: bool
    database: str | None  # the name parsed from DATABASE_URL
    postgres: Endpoint
    project_name: str
    database_exists: bool
    stamp: Stamp | None
    user_tables: tuple[str, ...]
    redis: Endpoint | None
    redis_index: int
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


def guard_role(f: ResetFacts) -> Verdict:
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


def guard_testing_flag(f: ResetFacts) -> Verdict:
    """b. The explicit TESTING flag is true."""
    return Verdict(
        "TESTING flag",
        f.testing,
        f"TESTING={str(f.testing).lower()}",
        "" if f.testing else "TESTING must be true",
    )


def guard_database_name(f: ResetFacts) -> Verdict:
    """c. The database *name* contains "test". Only the name counts: a password, user or
    host containing "test" does not (the seed's ``"test" in DATABASE_URL`` was a hole)."""
    name = f.database or "(none)"
    ok = f.database is not None and "test" in f.database.lower()
    return Verdict("database name", ok, f"database={name}", "" if ok else "must contain 'test'")


def guard_distinct_target(f: ResetFacts) -> Verdict:
    """d. The database actually reached (host, published port, database, the container
    behind the port) is none of the protected environments', and the container behind
    the port belongs to this environment's compose project."""
    where = f"{f.postgres.host}:{f.postgres.port}/{f.database}"
    if f.postgres.container:
        where += f" in {f.postgres.project or 'a non-compose container'}"
    if f.postgres.container and f.postgres.project != f.project_name:
        return Verdict(
            "distinct target",
            False,
            where,
            f"the port is served by another project's container, not {f.project_name}'s",
        )
    for p in f.protected_targets:
        if p.postgres and p.postgres.same_server(f.postgres) and p.database == f.database:
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
        if f.stamp.environment == f.environment:
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
    """f. The Redis index to flush (FLUSHDB only, never FLUSHALL) is not a protected
    environment's index on the same server."""
    if f.redis is None:
        return Verdict("redis index", True, "no Redis published", "nothing to flush")
    saw = f"{f.redis.host}:{f.redis.port} index {f.redis_index}"
    for p in f.protected_targets:
        if p.redis and p.redis.same_server(f.redis) and p.redis_index == f.redis_index:
            return Verdict(
                "redis index",
                False,
                saw,
                f"protected environment {p.environment} uses that index on that server",
            )
    return Verdict("redis index", True, saw)


RESET_GUARDS = (
    guard_role,
    guard_testing_flag,
    guard_database_name,
    guard_distinct_target,
    guard_stamp,
    guard_redis_index,
)


# the guards that need nothing running: checked before a test setup starts anything
STATIC_GUARDS = (guard_role, guard_testing_flag, guard_database_name)


def check_reset(facts: ResetFacts) -> list[Verdict]:
    return [guard(facts) for guard in RESET_GUARDS]


def check_static(facts: ResetFacts) -> list[Verdict]:
    return [guard(facts) for guard in STATIC_GUARDS]
