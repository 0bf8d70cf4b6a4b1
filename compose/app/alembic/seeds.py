"""Seed data, beside the migrations: ``python alembic/seeds.py`` in the app container (its
working directory is /srv), against the database DATABASE_URL names. Idempotent.

Set ``seed_command = "python alembic/seeds.py"`` for an environment in dashenv.toml: the
reset then runs it when it builds its template (every clone carries the rows), and
``dashenv db seed ENV`` runs it on demand.
"""

import os

import psycopg

USERS = ("demo@dashtam.dev", "support@dashtam.dev")


def main() -> None:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        for email in USERS:
            conn.execute(
                "INSERT INTO users (email) VALUES (%s) ON CONFLICT (email) DO NOTHING", (email,)
            )
    print(f"seeded {len(USERS)} users")


if __name__ == "__main__":
    main()
