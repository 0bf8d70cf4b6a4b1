"""Snapshot and restore of a dev database beside pg_dump + pg_restore and beside the floor,
whole processes, at several sizes.

Run by hand: python benchmarks/snapshot.py [--size 80M,1G,4G] [--runs N] [--image IMAGE]
[--reflink]. For each size it starts its own throwaway project (a copy of compose/ and env/,
its own project name and free ports: nothing of yours is touched), brings its dev
PostgreSQL up (fsync on, as dev runs; postgres:18 unless --image; with --reflink its data
on a copy-on-write volume made by ../shared/sandbox/reflink-volume.sh), fills a generated
database of 100 tables with indexes to about that size, then alternates:

  dashenv   'dashenv db snapshot dev NAME' + 'dashenv db restore dev NAME --yes', as fresh
            processes and preloaded (DASHENV_PRELOAD=1; the script starts the server)
  dump      'pg_dump -Fc' + 'pg_restore' into a fresh database, both in the postgres container
            (the usual way; DDEV's snapshots are dumps too); up to --dump-up-to (default 1G)
  bare      per strategy the server has, in-process, two CREATE DATABASE ... TEMPLATE back
            to back (the database into a copy, that copy into another: what a snapshot and a
            restore copy): WAL_LOG, FILE_COPY, and on PostgreSQL 18 FILE_COPY with
            file_copy_method = clone

Each case starts from a checkpointed server (a CHECKPOINT, untimed, before it), so none pays
for the writes of the one before. A snapshot plus a restore is two full copies, so the floor
is the best bare pair; the
lines to read are 'dashenv/floor' (goal: 1.3 at most) and 'dump/dashenv'.
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
from collections.abc import Callable
from pathlib import Path

from compose_line import compose_line
from installed import compile_dashenv
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


def parse_size(text: str) -> int:
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    text = text.strip().upper().rstrip("B")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


ROWS_PER_80MB = 1500  # rows per table (100 tables) for about 80 MB


def with_volume(root: Path, image: str, volume: str | None) -> None:
    """The dev postgres on ``image`` (and on an external volume), by a compose file of its own."""
    data = "/var/lib/postgresql" if image.endswith(":18") else "/var/lib/postgresql/data"
    mount = f"{volume or 'postgres_dev_data'}:{data}"
    extra = (
        "services:\n  postgres:\n"
        f"    image: {image}\n    volumes: !override\n      - {mount}\n"
        "      - ./postgres/dashenv-stamp.sh:/docker-entrypoint-initdb.d/00-dashenv-stamp.sh:ro\n"
    )
    if volume:
        extra += f"volumes:\n  {volume}:\n    external: true\n"
    (root / "compose" / "bench.yml").write_text(extra)
    text = (root / "dashenv.toml").read_text()
    (root / "dashenv.toml").write_text(
        text + 'compose_files = ["compose/docker-compose.dev.yml", "compose/bench.yml"]\n'
    )


def reflink(action: str, name: str, size: str = "") -> None:
    script = REPO.parent / "shared" / "sandbox" / "reflink-volume.sh"
    if not script.is_file():
        sys.exit(f"--reflink needs {script} (the sandbox's); on your machine put the data on "
                 "Btrfs, XFS with reflink or ZFS instead")  # fmt: skip
    subprocess.run(["bash", str(script), action, name, *([size] if size else [])],
                   check=True, capture_output=True)  # fmt: skip


def measure(base: Path, size: int, args: argparse.Namespace) -> dict[str, float]:
    root = make_project(base)
    volume = None
    if args.reflink:
        volume = f"{root.name}-cow"
        reflink("create", volume, f"{max(4, int(size * 3 / 10**9) + 2)}G")
    with_volume(root, args.image, volume)
    try:
        return _measure(root, size, args)
    finally:
        subprocess.run(
            [sys.executable, "-m", "dashenv", "-C", str(root), "down", "dev", "--volumes",
             "--yes"],
            capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if volume:
            reflink("remove", volume)


def _measure(root: Path, size: int, args: argparse.Namespace) -> dict[str, float]:
    dashenv(root, "up", "dev", "postgres")
    port = int(next(ln for ln in (root / "dashenv.toml").read_text().splitlines()
                    if ln.startswith("postgres_port")).split("=")[1])  # fmt: skip
    pg = Postgres("127.0.0.1", port, "dashtam_user", PASSWORD)
    fill(pg, "dashtam", 100, max(10, int(ROWS_PER_80MB * size / 80e6)))
    actual = pg.databases_with_comments("dashtam")[0][2]
    version = pg.copy_facts().version_num
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
        in_postgres("pg_dump", "-Fc", "-U", "dashtam_user", "-d", "dashtam", "-f", "/tmp/b.dump")
        in_postgres("createdb", "-U", "dashtam_user", f"fresh_{n}")
        in_postgres("pg_restore", "-U", "dashtam_user", "-d", f"fresh_{n}", "/tmp/b.dump")
        in_postgres("rm", "-f", "/tmp/b.dump")
        pg.drop_database(f"fresh_{n}")

    def bare(kind: str) -> float:
        """Two copies back to back, as a snapshot and a restore make them: the template into
        a first copy, that one into a second."""
        n = next(counter)
        strategy, _, method = kind.partition("+")
        with pg.connect() as conn:
            if method:
                conn.execute(f"SET file_copy_method = {method}")
            start = time.perf_counter()
            conn.execute(f"CREATE DATABASE copy_{n} TEMPLATE dashtam STRATEGY {strategy}")
            conn.execute(f"CREATE DATABASE copy_{n}_b TEMPLATE copy_{n} STRATEGY {strategy}")
            took = time.perf_counter() - start
            if method:
                conn.execute("RESET file_copy_method")
        pg.drop_database(f"copy_{n}_b")
        pg.drop_database(f"copy_{n}")
        return took

    def settle() -> None:
        """Each case starts from a checkpointed server: none pays for the writes of the one
        before it (a FILE_COPY's checkpoint would flush a pg_restore's gigabyte)."""
        with pg.connect() as conn:
            conn.execute("CHECKPOINT")

    start_server(
        [sys.executable, "-m", "dashenv", "-C", str(root), "status", "dev"], PRELOADED, str(root)
    )
    cases: dict[str, Callable[[], None]] = {
        "dashenv snapshot + restore": with_dashenv,
        "the same, preloaded": with_dashenv_preloaded,
    }
    if size <= parse_size(args.dump_up_to):
        cases["pg_dump + pg_restore"] = with_dump
    kinds = ["WAL_LOG", "FILE_COPY"] + (["FILE_COPY+clone"] if version >= 180000 else [])
    times: dict[str, list[float]] = {k: [] for k in [*cases, *kinds]}
    for _ in range(args.runs):  # interleaved, so drift hits every case alike
        for name, fn in cases.items():
            settle()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        for kind in kinds:
            settle()
            times[kind].append(bare(kind))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    med["floor (the best bare pair)"] = min(med[k] for k in kinds)
    print(f"\n{actual / 1e6:.0f} MB dev database ({args.image}"
          f"{', copy-on-write volume' if args.reflink else ''}); 100 tables, 2 indexes each; "
          f"fsync on; {args.runs} runs alternating")  # fmt: skip
    for name, ms in med.items():
        print(f"  {name:34} median {ms:9.1f} ms")
    floor = med["floor (the best bare pair)"]
    print(f"  FILE_COPY/WAL_LOG: {med['FILE_COPY'] / med['WAL_LOG']:.2f}")
    print(f"  dashenv/floor: {med['dashenv snapshot + restore'] / floor:.2f}; "
          f"preloaded: {med['the same, preloaded'] / floor:.2f}")  # fmt: skip
    if "pg_dump + pg_restore" in med:
        dump = med["pg_dump + pg_restore"]
        print(f"  dump/dashenv: {dump / med['dashenv snapshot + restore']:.1f}; "
              f"preloaded: {dump / med['the same, preloaded']:.1f}")  # fmt: skip
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="80M,1G,4G", help="comma-separated: 80M,1G,4G")
    parser.add_argument("--image", default="postgres:18")
    parser.add_argument("--reflink", action="store_true", help="the data on a reflink volume")
    parser.add_argument("--dump-up-to", default="1G", help="pg_dump + pg_restore up to this size")
    args = parser.parse_args()
    compile_dashenv()
    base = Path(tempfile.mkdtemp(prefix="dashenv-bench-"))
    try:
        for size in [parse_size(x) for x in args.size.split(",")]:
            measure(base, size, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
