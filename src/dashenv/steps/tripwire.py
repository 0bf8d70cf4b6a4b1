"""The tripwire around a test-side command: each protected environment's servers read
before and after it (only where they run), and a leak into them said on stderr, audited, and
made the command's outcome (exit 3, whatever the command's own exit code)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dashenv.adapters.host import say_on_stderr
from dashenv.errors import DashenvError, GuardRefused
from dashenv.steps.background import started

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres
    from dashenv.context import Environment
    from dashenv.plan.tripwire import Finding, PostgresReading, Reading
    from dashenv.settings.sources import ResolvedEnvironment

SETTLE = 2.0  # seconds the after-reading waits for the command's backends to end and flush


@dataclass
class _Watched:
    dev: Environment  # the protected one
    before: Reading
    postgres: Postgres | None


def _running(dev: Environment) -> dict[str, str]:
    """dev's running services (service -> container name), from its engine's listing."""
    try:
        found = dev.engine.running(dev.env.settings.project_name)
    except DashenvError:
        return {}
    return {service: c.name for service, c in found.items() if service}


def _client(dev: ResolvedEnvironment) -> Postgres | None:
    from dashenv.adapters.postgres import Postgres
    from dashenv.steps.isolation import database_url_of

    s = dev.settings
    db = database_url_of(dev)
    if s.postgres_port is None or db is None:
        return None
    # its connection kept from the first reading to the second (closed by ``check``)
    return Postgres(
        s.host, s.postgres_port, db.user or "postgres", db.password, timeout=3, keep=True
    )


def _read(
    env: ResolvedEnvironment, protected: Environment, pg: Postgres | None,
    settle_from: Reading | None = None,
) -> Reading:  # fmt: skip
    from dashenv.plan.tripwire import Reading
    from dashenv.steps.isolation import database_of, host_sides

    dev = protected.env
    s = dev.settings
    database, _ = database_of(dev)

    def read_postgres() -> PostgresReading | None:
        if pg is None or not database:
            return None
        try:
            reading = pg.tripwire_reading(database)
            deadline = time.monotonic() + SETTLE
            # the command's own connections end (and flush their statistics) as it exits
            while (
                settle_from is not None
                and settle_from.postgres is not None
                and reading.other_clients > settle_from.postgres.other_clients
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
                reading = pg.tripwire_reading(database)
        except DashenvError:
            return None
        return reading

    def read_redis() -> dict[int, int]:
        if not s.redis_port:
            return {}
        try:
            space = protected.redis(0, timeout=3).keyspace()
        except DashenvError:
            return {}
        return {i: space.get(i, 0) for i in dev.redis_indexes}

    # PostgreSQL and Redis read while the engine says what runs; what does not run is not
    # waited for (a server that does not run refuses the connection at once; the thread of
    # one that does not answer is left to end on its own)
    postgres, redis = started(read_postgres), started(read_redis)
    running = _running(protected)
    keys = redis() if s.redis_service in running else {}
    reading = postgres() if s.postgres_service in running else None
    others = tuple(sorted(n for n in running if n not in (s.postgres_service, s.redis_service)))
    shared = host_sides(env, dev)[1].shared_postgres
    return Reading(dev.name, database, reading, keys, others, shared)


def arm(t: Environment) -> list[_Watched]:
    """The first reading of every protected environment whose servers run."""
    from dashenv.steps.isolation import is_test_side, protected_environments

    if not is_test_side(t.env):
        return []
    watched = []
    for dev in protected_environments(t, skip_broken=True):
        pg = _client(dev.env)
        watched.append(_Watched(dev, _read(t.env, dev, pg), pg))
    return watched


def check(env: ResolvedEnvironment, watched: list[_Watched]) -> list[Finding]:
    """The second reading, compared with the first."""
    from dashenv.plan.tripwire import compare

    found: list[Finding] = []
    for w in watched:
        after = _read(env, w.dev, w.postgres, settle_from=w.before)
        if after.postgres is None:  # stopped meanwhile: nothing to compare
            after = replace(after, postgres=w.before.postgres)
        found += compare(w.before, after)
        if w.postgres is not None:
            w.postgres.close()
    return found


@contextmanager
def watching(
    t: Environment,
    what: str,
    say: Callable[[str], None] = say_on_stderr,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[list[Finding]]:
    """Around a test-side command: a leak into a protected environment during it is said,
    audited and raised as a refusal (exit 3), whatever the command itself returned or raised
    (Ctrl-C excepted). Warnings are said and audited. Yields the findings, filled at the end;
    where the command completed, ``report`` gets them as a document (before a leak is
    raised), for a command's ``--json``."""
    watched = arm(t)
    findings: list[Finding] = []
    try:
        yield findings
    except KeyboardInterrupt:
        raise
    except BaseException:
        findings += check(t.env, watched) if watched else []
        _settle(t, findings, what, say)
        raise
    findings += check(t.env, watched) if watched else []
    if report is not None:
        report(document(watched, findings))
    _settle(t, findings, what, say)


def document(watched: list[_Watched], findings: list[Finding]) -> dict[str, Any]:
    """The tripwire's part of a command's JSON document."""
    return {
        "watched": [
            {
                "environment": w.dev.name,
                "postgres": w.before.postgres is not None,
                "redis_indexes": sorted(w.before.redis_keys),
            }
            for w in watched
        ],
        "leak": any(f.leak for f in findings),
        "findings": [
            {"environment": f.environment, "what": f.what, "leak": f.leak} for f in findings
        ],
    }


def _settle(
    t: Environment,
    findings: list[Finding],
    what: str,
    say: Callable[[str], None],
) -> None:
    if not findings:
        return
    from dashenv.adapters import audit

    env = t.env
    for f in findings:
        say(f.line())
    leaks = [f for f in findings if f.leak]
    audit.record(
        t.ctx.audit_path(),
        environment=env.name,
        action="tripwire",
        target=what,
        guards=[
            {"guard": "tripwire", "passed": not f.leak, "saw": f.environment, "reason": f.what}
            for f in findings
        ],
        outcome="leak" if leaks else "warning",
    )
    if leaks:
        first = leaks[0]
        raise GuardRefused(
            f"{what} changed protected environment {first.environment}: {first.what}"
            + (f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""),
            hint="something in the tests reaches it by a value dashenv does not hand over (a "
            "hard-coded host or port, a file of its own): find it, and point it at "
            f"{env.name}'s servers ('dashenv env {env.name}' lists them)",
        )
