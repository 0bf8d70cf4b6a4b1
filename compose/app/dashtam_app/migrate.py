"""Apply the SQL files in the migrations folder, in name order, once each."""

import hashlib
import sys
import time
from pathlib import Path

import psycopg

from dashtam_app.config import MIGRATIONS_DIR, database_url


def connect(retries: int = 30) -> psycopg.Connection:
    for attempt in range(retries):
        try:
            return psycopg.connect(
                database_url(), autocommit=False, connect_timeout=5, client_encoding="utf8"
            )
        except psycopg.OperationalError:
            if attempt == retries - 1:
                raise
            time.sleep(1)
    raise RuntimeError("unreachable")


def main() -> int:
    print("Running migrations...", flush=True)
    files = sorted(Path(MIGRATIONS_DIR).glob("*.sql"))
    with connect() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        for f in files:
            checksum = hashlib.sha256(f.read_bytes()).hexdigest()
            if f.name in applied:
                continue
            print(f"  applying {f.name}", flush=True)
            conn.execute(f.read_text())
            conn.execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                (f.name, checksum),
            )
        conn.commit()
    print("Migrations completed successfully", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
