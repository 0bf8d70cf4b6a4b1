"""Reset strategies side by side on one generated schema: 100 tables with indexes and
foreign keys, on a PostgreSQL 17 container started for the run (tmpfs, fsync off, as the
test environment runs it).

  migrate   create an empty database, apply the migrations (one per table, each in its
            own transaction with its version recorded), swap it in, drop the old one
  truncate  TRUNCATE every table of the existing database
  template  clone a template of the migrated schema, swap it in, drop the old one

Run by hand: python benchmarks/reset.py [--runs N] [--tables N]. Needs Docker and postgres:17.
The last line is the ratio the reset's template path is judged by (target: at least 5).

python benchmarks/reset.py --alembic [-C DIR] [--runs N], with the test environment up in the
project (DIR, default: here): the whole 'dashenv db reset test --yes' beside the usual Alembic
way, 'alembic downgrade base && alembic upgrade head' in the test app container, on the
shipped revisions, alternating, and the same reset preloaded (DASHENV_PRELOAD=1; the script
starts the server); the last lines are the two 'alembic/reset ratio's (goal: at least 5).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable

from installed import compile_dashenv

from dashenv.adapters.postgres import Postgres

PASSWORD = "bench_pw"


def migrations(tables: int) -> list[str]:
    """One migration per table, as a migration tool keeps them."""
    steps = []
    for i in range(tables):
        parent = f", parent_id bigint REFERENCES t{i - 1} (id) ON DELETE CASCADE" if i else ""
        steps.append(
            f"CREATE TABLE t{i} (id bigserial PRIMARY KEY, name text NOT NULL, "
            f"email text UNIQUE, created_at timestamptz NOT NULL DEFAULT now(), "
            f"payload jsonb{parent});\n"
            f"CREATE INDEX t{i}_name_idx ON t{i} (name);\n"
            f"CREATE INDEX t{i}_created_idx ON t{i} (created_at);\n"
        )
    return steps


def run_migrations(pg: Postgres, database: str, steps: list[str]) -> None:
    """What a migration tool does: a version table, then each migration in its own
    transaction with its version recorded (as compose/app's migrate.py and alembic do)."""
    with pg.connect(database, autocommit=False) as conn:
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY)")
        conn.commit()
        for number, step in enumerate(steps):
            conn.execute("SELECT version FROM schema_migrations").fetchall()
            conn.execute(step)
            conn.execute("INSERT INTO schema_migrations VALUES (%s)", (f"{number:04d}",))
            conn.commit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_postgres() -> tuple[str, int]:
    name, port = f"dashenv-bench-{uuid.uuid4().hex[:6]}", free_port()
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5432",
         "-e", f"POSTGRES_PASSWORD={PASSWORD}", "--tmpfs", "/var/lib/postgresql/data",
         "postgres:17", "-c", "fsync=off", "-c", "full_page_writes=off",
         "-c", "synchronous_commit=off"],
        check=True, capture_output=True,
    )  # fmt: skip
    probe = ["docker", "exec", name, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
    while subprocess.run(probe, capture_output=True).returncode != 0:
        time.sleep(0.2)
    return name, port


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def alembic_case(project: str, runs: int) -> None:
    """Whole processes: dashenv's reset beside Alembic's own way, in the test app container."""
    import os
    import sys

    from compose_line import compose_line
    from preloaded import start_server

    argv, env = compose_line(
        project, "test", "exec", "-T", "app", "sh", "-c",
        "alembic downgrade base && alembic upgrade head",
    )  # fmt: skip
    reset = [sys.executable, "-m", "dashenv", "-C", project, "db", "reset", "test", "--yes"]
    plain = {k: v for k, v in os.environ.items() if k != "DASHENV_PRELOAD"}
    preloaded = {**plain, "DASHENV_PRELOAD": "1"}
    start_server(reset, preloaded, project)
    cases = {
        "alembic downgrade base && upgrade head": (argv, env),
        "dashenv db reset test --yes": (reset, plain),
        "the same, preloaded (DASHENV_PRELOAD=1)": (reset, preloaded),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):  # interleaved
        for name, (cmd, cmd_env) in cases.items():
            start = time.perf_counter()
            subprocess.run(cmd, env=cmd_env, cwd=project, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    medians = {k: median_ms(v) for k, v in times.items()}
    print(f"the shipped Alembic revisions, whole processes, {runs} runs alternating")
    for name, ms in medians.items():
        print(f"{name:40} median {ms:8.1f} ms")
    ratio = (
        medians["alembic downgrade base && upgrade head"] / medians["dashenv db reset test --yes"]
    )
    warm = (
        medians["alembic downgrade base && upgrade head"]
        / medians["the same, preloaded (DASHENV_PRELOAD=1)"]
    )
    print(f"alembic/reset ratio, preloaded: {warm:.1f}")
    print(f"alembic/reset ratio: {ratio:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--alembic", action="store_true", help="the Alembic case (test up)")
    parser.add_argument("-C", dest="project", default=".", help="the project (--alembic)")
    args = parser.parse_args()
    compile_dashenv()
    if args.alembic:
        alembic_case(args.project, args.runs)
        return
    container, port = start_postgres()
    try:
        pg = Postgres("127.0.0.1", port, "postgres", PASSWORD)
        steps = migrations(args.tables)
        db = "bench_test"
        pg.create_database(db)
        run_migrations(pg, db, steps)
        pg.create_database("bench_test__tpl")
        run_migrations(pg, "bench_test__tpl", steps)
        counter = iter(range(10**6))

        def migrate() -> None:
            n = next(counter)
            new, old = f"{db}__new_{n}", f"{db}__old_{n}"
            pg.create_database(new)
            run_migrations(pg, new, steps)
            pg.swap(db, new, old)
            pg.drop_database(old)

        def truncate() -> None:
            pg.truncate_all(db)

        def template() -> None:
            n = next(counter)
            new, old = f"{db}__new_{n}", f"{db}__old_{n}"
            pg.create_database(new, template="bench_test__tpl")
            pg.swap(db, new, old)
            pg.drop_database(old)

        cases: dict[str, Callable[[], None]] = {
            "migrate": migrate, "truncate": truncate, "template": template,
        }  # fmt: skip
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):  # interleaved, so drift hits every strategy alike
            for name, fn in cases.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        medians = {k: median_ms(v) for k, v in times.items()}
        print(f"schema: {args.tables} tables, 2 indexes each, foreign keys; {args.runs} runs")
        for name, ms in medians.items():
            print(f"{name:9} median {ms:8.1f} ms")
        print(f"truncate/template ratio: {medians['truncate'] / medians['template']:.1f}")
        print(f"migrate/template ratio: {medians['migrate'] / medians['template']:.1f}")
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


if __name__ == "__main__":
    main()
