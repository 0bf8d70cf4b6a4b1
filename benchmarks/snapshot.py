"""Snapshot and restore of a dev database beside pg_dump + pg_restore, whole processes.

Run by hand: python benchmarks/snapshot.py [--runs N] [--rows N]. Starts its own throwaway
project (a copy of compose/ and env/, its own project name and free ports: nothing of yours is
touched), brings its dev PostgreSQL up (fsync on, as dev runs), fills a generated database of
100 tables with indexes (about 80 MB of rows with the defaults), then alternates:

  dashenv   'dashenv db snapshot dev NAME' + 'dashenv db restore dev NAME --yes'
  dump      'pg_dump -Fc' + 'pg_restore' into a fresh database, both in the postgres container
            (the usual way; DDEV's snapshots are dumps too)

It also times PostgreSQL's two copy strategies at this size, in-process: CREATE DATABASE ...
STRATEGY WAL_LOG against FILE_COPY. dashenv runs twice: as fresh processes, and preloaded
(DASHENV_PRELOAD=1; the script starts the server). The last lines are the two 'dump/dashenv
ratio's (goal: at least 5).
Everything it started is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from compose_line import compose_line
from preloaded import start_server

from dashenv.adapters.postgres import Postgres

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench_pw_1234"


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


PLAIN = {k: v for k, v in os.environ.items() if k != "DASHENV_PRELOAD"}
PRELOADED = {**PLAIN, "DASHENV_PRELOAD": "1"}


def dashenv(
    root: Path, *args: str, env: dict[str, str] = PLAIN
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashenv", "-C", str(root), *args],
        capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def make_project(base: Path) -> Path:
    prefix = "bench" + uuid.uuid4().hex[:6]
    root = base / prefix
    shutil.copytree(REPO / "compose", root / "compose")
    shutil.copytree(REPO / "env", root / "env", ignore=shutil.ignore_patterns(".env.dev"))
    text = (root / "env" / ".env.dev.example").read_text()
    (root / "env" / ".env.dev").write_text(text.replace("change_me_postgres_password", PASSWORD))
    app, cb, pg, rd = free_ports(4)
    (root / "dashenv.toml").write_text(
        f'[environments.dev]\nproject_name = "{prefix}-dev"\napp_port = {app}\n'
        f"callback_port = {cb}\npostgres_port = {pg}\nredis_port = {rd}\n"
    )
    return root


def fill(pg: Postgres, database: str, tables: int, rows: int) -> None:
    with pg.connect(database, autocommit=True) as conn:
        for i in range(tables):
            conn.execute(
                f"CREATE TABLE bench_{i} (id bigserial PRIMARY KEY, name text NOT NULL, "
                "email text, payload text, created_at timestamptz DEFAULT now())"
            )
            conn.execute(
                f"INSERT INTO bench_{i} (name, email, payload) SELECT 'name ' || g, "
                "'user' || g || '@example.com', repeat(md5(g::text), 8) "
                f"FROM generate_series(1, {rows}) g"
            )
            conn.execute(f"CREATE INDEX bench_{i}_name ON bench_{i} (name)")
            conn.execute(f"CREATE INDEX bench_{i}_email ON bench_{i} (email)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1500, help="rows per table (100 tables)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dashenv-bench-"))
    root = make_project(base)
    try:
        dashenv(root, "up", "dev", "postgres")
        port = int(next(ln for ln in (root / "dashenv.toml").read_text().splitlines()
                        if ln.startswith("postgres_port")).split("=")[1])  # fmt: skip
        pg = Postgres("127.0.0.1", port, "dashtam_user", PASSWORD)
        fill(pg, "dashtam", 100, args.rows)
        size = pg.databases_with_comments("dashtam")[0][2]
        argv, env = compose_line(str(root), "dev", "exec", "-T", "postgres")

        def in_postgres(*cmd: str) -> None:
            subprocess.run([*argv, *cmd], env=env, cwd=root, check=True, capture_output=True)

        counter = iter(range(10**6))

        def with_dashenv(env: dict[str, str] = PLAIN) -> None:
            name = f"b{next(counter)}"
            dashenv(root, "db", "snapshot", "dev", name, env=env)
            dashenv(root, "db", "restore", "dev", name, "--yes", env=env)

        def with_dashenv_preloaded() -> None:
            with_dashenv(PRELOADED)

        def with_dump() -> None:
            n = next(counter)
            in_postgres(
                "pg_dump", "-Fc", "-U", "dashtam_user", "-d", "dashtam", "-f", "/tmp/b.dump"
            )
            in_postgres("createdb", "-U", "dashtam_user", f"fresh_{n}")
            in_postgres("pg_restore", "-U", "dashtam_user", "-d", f"fresh_{n}", "/tmp/b.dump")
            pg.drop_database(f"fresh_{n}")

        def strategy(kind: str) -> float:
            n = next(counter)
            start = time.perf_counter()
            with pg.connect() as conn:
                conn.execute(f"CREATE DATABASE copy_{n} TEMPLATE dashtam STRATEGY {kind}")
            took = time.perf_counter() - start
            pg.drop_database(f"copy_{n}")
            return took

        start_server(
            [sys.executable, "-m", "dashenv", "-C", str(root), "status", "dev"],
            PRELOADED,
            str(root),
        )
        cases = {
            "dashenv snapshot + restore": with_dashenv,
            "the same, preloaded": with_dashenv_preloaded,
            "pg_dump + pg_restore": with_dump,
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        copies: dict[str, list[float]] = {"WAL_LOG": [], "FILE_COPY": []}
        for _ in range(args.runs):  # interleaved, so drift hits every case alike
            for name, fn in cases.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
            for kind in copies:
                copies[kind].append(strategy(kind))
        med = {k: statistics.median(v) * 1000 for k, v in {**times, **copies}.items()}
        print(f"dev database: 100 tables, 2 indexes each, {size / 2**20:.0f} MB; fsync on; "
              f"{args.runs} runs alternating")  # fmt: skip
        for name, ms in med.items():
            print(f"{name:30} median {ms:8.1f} ms")
        print(f"FILE_COPY/WAL_LOG ratio: {med['FILE_COPY'] / med['WAL_LOG']:.1f}")
        warm = med["pg_dump + pg_restore"] / med["the same, preloaded"]
        print(f"dump/dashenv ratio, preloaded (DASHENV_PRELOAD=1): {warm:.1f}")
        ratio = med["pg_dump + pg_restore"] / med["dashenv snapshot + restore"]
        print(f"dump/dashenv ratio: {ratio:.1f}")
    finally:
        subprocess.run(
            [sys.executable, "-m", "dashenv", "-C", str(root), "down", "dev", "--volumes",
             "--yes"],
            capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
