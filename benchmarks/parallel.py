"""Parallel tests: per-worker databases cloned from the template, side by side with the usual
ways, in one run, alternating.

Run by hand with the test environment up: python benchmarks/parallel.py [-C DIR] [--runs N].

1. worker setup for 2 workers: cloning the reset's template (what dashenv does) against each
   worker creating its database and running the migrations itself (pytest-django's way):
   on the shipped Alembic schema ('alembic upgrade head' in the app container) and on a
   generated schema of 100 tables with indexes and foreign keys (migrations run in-process);
2. a DB-bound sample suite (300 tests, each inserting 200 rows in one transaction and reading
   them back with a join) with 'pytest --dashenv -n 2' against '-n 0', whole runs, per-worker
   setup included;
3. dashenv_fresh_database: its median cost per test beside one 'alembic upgrade head' into an
   empty database;
4. four worker databases cloned one by one against four at once (one connection each), on
   both schemas: dashenv keeps the faster (--clones-only runs just this part).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compose_line import compose_line
from installed import compile_dashenv

from dashenv.adapters.postgres import Postgres

SUITE = """
import pytest, psycopg

@pytest.fixture(scope="session")
def conn(dashenv_database_url):
    url = dashenv_database_url.replace("postgresql+asyncpg://", "postgresql://")
    with psycopg.connect(url, client_encoding="utf8") as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_parent (id int PRIMARY KEY)")
        c.execute("CREATE TABLE IF NOT EXISTS bench_child (id bigserial PRIMARY KEY,"
                  " parent int REFERENCES bench_parent (id), v text)")
        c.commit()
        yield c

@pytest.mark.parametrize("n", range(300))
def test_db_bound(conn, n):
    with conn.transaction():
        conn.execute("INSERT INTO bench_parent VALUES (%s) ON CONFLICT DO NOTHING", (n,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO bench_child (parent, v) VALUES (%s, %s)",
                            [(n, f"v{i}") for i in range(200)])
        rows = conn.execute("SELECT count(*) FROM bench_child c JOIN bench_parent p"
                            " ON p.id = c.parent WHERE p.id = %s", (n,)).fetchone()[0]
    assert rows >= 200

@pytest.mark.parametrize("n", range(__FRESH__))
def test_fresh(dashenv_fresh_database, n):
    pass

@pytest.mark.parametrize("n", range(300))
def test_trivial(n):
    pass

@pytest.mark.parametrize("n", range(__FRESH__))
def test_plain(dashenv_database_url, n):
    pass
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="project", default=".")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clones-only", action="store_true", help="only part 4")
    args = parser.parse_args()
    compile_dashenv()
    project = os.path.abspath(args.project)
    base = [sys.executable, "-m", "dashenv", "-C", project]
    shown = json.loads(
        subprocess.run([*base, "config", "show", "test", "--json", "--reveal"],
                       capture_output=True, text=True, check=True).stdout
    )  # fmt: skip
    from urllib.parse import urlsplit

    url = urlsplit(shown["app"]["DATABASE_URL"]["value"])
    port = shown["settings"]["postgres_port"]["value"]
    pg = Postgres("127.0.0.1", port, url.username or "postgres", url.password)
    database = url.path.lstrip("/")
    template = next(n for n in pg.database_names() if n.startswith(f"{database}__tpl_"))

    def compose(*argv: str) -> tuple[list[str], dict[str, str]]:
        return compose_line(project, "test", *argv)

    counter = iter(range(10**6))

    def clone_two(source: str) -> None:
        """Two workers' databases, cloned from a template (what dashenv does)."""
        names = [f"{database}_bench{next(counter)}" for _ in range(2)]
        for n in names:
            pg.create_database(n, template=source)
        for n in names:
            pg.drop_database(n)

    def clone_four(source: str, together: bool) -> None:
        """Four workers' databases: one by one, or four CREATE DATABASE at once."""
        from concurrent.futures import ThreadPoolExecutor

        names = [f"{database}_bench{next(counter)}" for _ in range(4)]
        if together:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda n: pg.create_database(n, template=source), names))
        else:
            for n in names:
                pg.create_database(n, template=source)
        for n in names:
            pg.drop_database(n)

    def migrate_in_container() -> None:
        """A database of its own, migrated by Alembic in the app container (a worker's way)."""
        n = f"{database}_bench{next(counter)}"
        pg.create_database(n)
        dsn = url._replace(path=f"/{n}").geturl()
        argv, env = compose("exec", "-T", "-e", f"DATABASE_URL={dsn}", "app",
                            "alembic", "upgrade", "head")  # fmt: skip
        subprocess.run(argv, env=env, cwd=project, check=True, capture_output=True)
        pg.drop_database(n)

    def migrate_two_in_container() -> None:
        for _ in range(2):
            migrate_in_container()

    # the generated 100-table schema, in-process
    sys.path.insert(0, str(Path(__file__).parent))
    from reset import migrations, run_migrations

    steps = migrations(100)
    big = f"{database}_bench_tpl"
    pg.drop_database(big)
    pg.create_database(big)
    run_migrations(pg, big, steps)

    def migrate_two_big() -> None:
        for _ in range(2):
            n = f"{database}_bench{next(counter)}"
            pg.create_database(n)
            run_migrations(pg, n, steps)
            pg.drop_database(n)

    times: dict[str, list[float]] = {}

    def timed(name: str, fn: object) -> None:
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.setdefault(name, []).append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "test_bench.py"
        suite.write_text(SUITE.replace("__FRESH__", "20"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHENV_", "PYTEST_"))}

        def pytest_run(workers: str, select: str) -> None:
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                 tmp, "-c", os.devnull, "--dashenv", "--dashenv-project-dir", project,
                 str(suite), "-n", workers, "-k", select],
                env=env, check=True, capture_output=True,
            )  # fmt: skip

        def bare_run(workers: str) -> None:
            """pytest-xdist's own cost: 300 empty tests, without dashenv."""
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                 "no:dashenv", "--rootdir", tmp, "-c", os.devnull, str(suite), "-n", workers,
                 "-k", "trivial"],
                env=env, check=True, capture_output=True,
            )  # fmt: skip

        for _ in range(args.runs):  # alternating
            for schema, source in (("shipped", template), ("100 tables", big)):
                timed(f"4 clones one by one, {schema}", lambda s=source: clone_four(s, False))
                timed(f"4 clones at once, {schema}", lambda s=source: clone_four(s, True))
            if args.clones_only:
                continue
            timed("setup 2 workers, shipped: clone", lambda: clone_two(template))
            timed("setup 2 workers, shipped: migrate each", migrate_two_in_container)
            timed("setup 2 workers, 100 tables: clone", lambda: clone_two(big))
            timed("setup 2 workers, 100 tables: migrate each", migrate_two_big)
            timed("suite -n 2", lambda: pytest_run("2", "db_bound"))
            timed("suite -n 0", lambda: pytest_run("0", "db_bound"))
            timed("trivial suite -n 2, no dashenv", lambda: bare_run("2"))
            timed("trivial suite -n 0, no dashenv", lambda: bare_run("0"))
            timed("20 fresh databases", lambda: pytest_run("0", "fresh"))
            timed("20 plain tests", lambda: pytest_run("0", "plain"))
            timed("one alembic upgrade head", migrate_in_container)
    pg.drop_database(big)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"{args.runs} runs alternating, medians")
    for name, ms in med.items():
        print(f"{name:44} {ms:8.1f} ms")
    for schema in ("shipped", "100 tables"):
        ratio = med[f"4 clones one by one, {schema}"] / med[f"4 clones at once, {schema}"]
        print(f"{schema} one-by-one/at-once ratio: {ratio:.2f}")
    if args.clones_only:
        return
    shipped = med["setup 2 workers, shipped: migrate each"] / med["setup 2 workers, shipped: clone"]
    big = (
        med["setup 2 workers, 100 tables: migrate each"] / med["setup 2 workers, 100 tables: clone"]
    )
    print(f"shipped schema migrate/clone ratio: {shipped:.1f}")
    print(f"100 tables migrate/clone ratio: {big:.1f}")
    print(f"suite -n 0 / -n 2 ratio: {med['suite -n 0'] / med['suite -n 2']:.2f}")
    xdist_cost = med["trivial suite -n 2, no dashenv"] - med["trivial suite -n 0, no dashenv"]
    print(f"pytest-xdist's own cost of -n 2 over -n 0 (empty tests, no dashenv): "
          f"{xdist_cost:.0f} ms")  # fmt: skip
    fresh = (med["20 fresh databases"] - med["20 plain tests"]) / 20
    print(f"dashenv_fresh_database per test: {fresh:.1f} ms; one alembic upgrade head: "
          f"{med['one alembic upgrade head']:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
