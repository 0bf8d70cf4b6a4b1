"""A database and a Redis index per pytest-xdist worker, cloned from the reset's template.

The test environment's reset has just built (or kept) the template of the migrated schema;
each worker gets ``<database>_gw<N>`` cloned from it, stamped for the environment, under the
same guards as the reset (the names contain "test", the server is the environment's own, no
protected target), and a Redis index of its own, flushed. A run holds the environment's
worker lock from setup to its end, so two runs never take each other's databases; whatever a
killed run left behind (orphans) is dropped by the next one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.errors import OperationFailed

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from dashenv.context import Environment


@dataclass(frozen=True)
class Worker:
    id: str  # gw0, gw1, ...
    database: str
    database_url: str | None  # as seen from the host
    redis_index: int | None
    redis_url: str | None


@dataclass
class WorkerSet:
    environment: str
    database: str
    workers: list[Worker]
    inside: bool = False  # made inside the environment's network (it publishes no port)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "database": self.database,
            "workers": [asdict(w) for w in self.workers],
        }


def lock_path(root: Path, environment: str) -> Path:
    return root / ".dashenv" / "locks" / f"workers-{environment}.lock"


def take_lock(e: Environment, *, wait: bool, say: Callable[[str], None]) -> BaseFileLock:
    """The environment's worker lock, held for the whole run."""
    ctx, name = e.ctx, e.name
    from dashenv.adapters.locks import acquire

    root = ctx.project().root
    lock, _ = acquire(
        lock_path(root, name),
        root,
        wait=wait,
        busy=f"another parallel test run holds {name}'s worker databases",
        hint="wait for it to end, or run without --no-wait to queue behind it",
        waiting=f"Waiting for another parallel test run on {name} to end...",
        say=say,
    )
    return lock


def declared_elsewhere(e: Environment) -> set[int]:
    """The Redis indexes the other environments declare: a worker gets the environment's
    own index first, then only indexes no environment declares."""
    declared: set[int] = set()
    for other in e.ctx.environments(lenient=True):
        if other.name != e.name:
            try:
                declared |= set(other.resolved.redis_indexes)
            except Exception:  # an environment without a readable configuration
                continue
    return declared


def prepare(e: Environment, count: int, say: Callable[[str], None]) -> WorkerSet:
    """Clone a database per worker from the current template, give each a Redis index.
    Call with the worker lock held and after the environment's reset."""
    name = e.name
    from dashenv.adapters.redis import Redis
    from dashenv.guards import check_reset
    from dashenv.plan.names import is_run_database, worker_databases
    from dashenv.plan.reset import url_with_database
    from dashenv.plan.reset import worker_indexes as allocate
    from dashenv.steps.copying import copy
    from dashenv.steps.resetting import observe, refuse, reset_names
    from dashenv.steps.targets import host_environment

    o = observe(e, adopt=False)
    try:
        verdicts = check_reset(o.facts)
        if not all(v.passed for v in verdicts):
            raise refuse(e, verdicts, o.target)
        pg, database = o.postgres, o.database
        names = reset_names(o.env, database)
        existing = pg.database_names()
        if names.template not in existing:
            raise OperationFailed(
                f"{name} has no template of the current migrations",
                hint=f"run 'dashenv test setup --env {name}' first",
            )
        # workers' and dashenv_fresh_database's, of a run that was killed
        for orphan in (n for n in existing if is_run_database(n, database)):
            say(f"Dropping {orphan}, left by an earlier run that did not end")
            pg.drop_database(orphan)
        started = time.monotonic()
        created = worker_databases(database, count)
        # one by one: four at once measured no faster (one-by-one/at-once 0.95 on the shipped
        # schema, 0.96 on 100 tables: benchmarks/parallel.py --clones-only)
        for worker_db in created:
            copy(o.of, pg, worker_db, names.template)
            pg.stamp(
                worker_db,
                {"environment": name, "worker_of": database, "run_pid": str(os.getpid())},
            )
            pg.set_database_option(worker_db, "synchronous_commit", "off")
        say(f"Cloned {count} worker databases from {names.template} in "
            f"{time.monotonic() - started:.2f}s")  # fmt: skip
        indexes: list[int | None] = [None] * count
        s = o.env.settings
        if o.facts.redis is not None:
            declared = declared_elsewhere(e)
            server = Redis(o.facts.redis.host, o.facts.redis.port or 0, o.facts.redis_indexes[0])
            shared = any(
                p.redis is not None and p.redis.same_server(o.facts.redis)
                for p in o.facts.protected_targets
            )
            chosen = allocate(
                o.facts.redis_indexes, declared, server.databases(), count, shared=shared
            )
            for index in chosen:
                Redis(o.facts.redis.host, o.facts.redis.port or 0, index).flushdb()
            indexes = list(chosen)
        host = host_environment(e)
        workers = [
            Worker(
                id=f"gw{i}",
                database=db,
                database_url=url_with_database(host["DATABASE_URL"], db)
                if host.get("DATABASE_URL")
                else None,
                redis_index=indexes[i],
                redis_url=f"redis://{s.host}:{s.redis_port}/{indexes[i]}"
                if indexes[i] is not None
                else None,
            )
            for i, db in enumerate(created)
        ]
        return WorkerSet(name, database, workers)
    finally:
        o.postgres.close()


PSQL = ["sh", "-c", 'exec psql -X -q -U "$POSTGRES_USER" -d postgres']


def prepare_in_network(e: Environment, count: int, say: Callable[[str], None]) -> WorkerSet:
    """The worker databases and Redis indexes of an environment that publishes no port
    (ci): made by psql and redis-cli in its own postgres and redis containers, so the server
    is the environment's own by construction. The database is cloned from the environment's
    database, which its app has just migrated. Call with the worker lock held."""
    name = e.name
    from dashenv.errors import ConfigError
    from dashenv.plan.names import worker_databases
    from dashenv.plan.reset import worker_clone_script
    from dashenv.plan.reset import worker_indexes as allocate
    from dashenv.steps.resetting import precheck

    precheck(e)  # role, TESTING, "test" in the database name
    t = e
    s = t.settings
    db = t.env.app.database()
    if db is None:
        raise ConfigError(
            f"{name} has no DATABASE_URL in its env file: no database to give each worker",
            hint=f"set DATABASE_URL in {s.env_file}",
        )
    created = worker_databases(db.database, count)
    stamp = {"environment": name, "worker_of": db.database, "run_pid": str(os.getpid())}
    script = worker_clone_script(db.database, created, stamp)
    started = time.monotonic()
    for attempt in range(3):  # a healthcheck's session can hold the source for a moment
        code, out = t.docker.exec_capture(s.postgres_service, PSQL, input=script)
        if code == 0:
            break
        if "being accessed by other users" not in out or attempt == 2:
            reason = out.strip().splitlines()[-1] if out.strip() else f"exit {code}"
            raise OperationFailed(
                f"could not clone {name}'s worker databases in its {s.postgres_service} "
                f"container: {reason}",
                hint=f"see 'dashenv logs {name} {s.postgres_service}'",
            )
    say(f"Cloned {count} worker databases from {db.database} in "
        f"{time.monotonic() - started:.2f}s (inside {name}'s network)")  # fmt: skip
    indexes: list[int | None] = [None] * count
    if s.redis_service and t.env.app.settings.REDIS_URL:
        ask = ["redis-cli", "CONFIG", "GET", "databases"]
        code, out = t.docker.exec_capture(s.redis_service, ask)
        lines = out.split()
        if code != 0 or len(lines) < 2 or not lines[-1].isdigit():
            raise OperationFailed(
                f"could not ask {name}'s Redis how many databases it has: {out.strip()}",
                hint=f"see 'dashenv logs {name} {s.redis_service}'",
            )
        shared = any(
            other.name != name and other.bare.settings.project_name == s.project_name
            for other in e.ctx.environments()
        )
        declared = declared_elsewhere(e)
        chosen = allocate(t.env.redis_indexes, declared, int(lines[-1]), count, shared=shared)
        flush = " && ".join(f"redis-cli -n {i} FLUSHDB >/dev/null" for i in chosen)
        code, out = t.docker.exec_capture(s.redis_service, ["sh", "-c", flush])
        if code != 0:
            raise OperationFailed(
                f"could not flush {name}'s worker Redis indexes: {out.strip()}",
                hint=f"see 'dashenv logs {name} {s.redis_service}'",
            )
        indexes = list(chosen)
    workers = [
        Worker(id=f"gw{i}", database=n, database_url=None, redis_index=indexes[i], redis_url=None)
        for i, n in enumerate(created)
    ]
    return WorkerSet(name, db.database, workers, inside=True)


def finish(e: Environment, workers: WorkerSet) -> None:
    """Drop the run's worker databases (the lock is released by its holder)."""
    if workers.inside:
        from dashenv.plan.reset import drop_script

        t = e
        script = drop_script([w.database for w in workers.workers])
        t.docker.exec_capture(t.settings.postgres_service, PSQL, input=script)
        return
    env = e.env
    db = env.app.database()
    s = env.settings
    if db is None or s.postgres_port is None:
        return
    with e.postgres() as pg:
        for worker in workers.workers:
            pg.drop_database(worker.database)


class WorkerRun:
    """One parallel run's worker databases, orchestrated in one place for ``test run -- -n N``
    and the pytest plugin: the environment's worker lock from start to end, the databases and
    Redis indexes prepared after the reset, dropped at the end (after a failure too) and the
    lock released. As a context manager: the lock on entry, ``finish`` on exit."""

    def __init__(
        self,
        environment: Environment,
        count: int,
        *,
        wait: bool,
        say: Callable[[str], None],
    ) -> None:
        self.environment, self.count, self.wait, self.say = environment, count, wait, say
        self.lock: BaseFileLock | None = None
        self.workers: WorkerSet | None = None

    def take_lock(self) -> None:
        self.lock = take_lock(self.environment, wait=self.wait, say=self.say)

    def prepare(self, environment: Environment | None = None) -> WorkerSet:
        """Each worker's database and Redis index (call after the environment's reset): made
        inside the environment's network where it publishes no PostgreSQL port (ci).
        ``environment``: the environment as the setup left it (the ports it leased), where
        the lock was taken before it; the run's end uses it too."""
        if environment is not None:
            self.environment = environment
        if self.environment.settings.postgres_port is None:
            self.workers = prepare_in_network(self.environment, self.count, self.say)
        else:
            self.workers = prepare(self.environment, self.count, self.say)
        return self.workers

    def finish(self) -> None:
        """Drop the run's worker databases and release the lock (each once)."""
        workers, lock = self.workers, self.lock
        self.workers = self.lock = None
        try:
            if workers is not None:
                finish(self.environment, workers)
        finally:
            if lock is not None:
                lock.release()

    def __enter__(self) -> WorkerRun:
        self.take_lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
