"""Settings from the environment, as the real app's src/core/config.py reads them."""

import os


def database_url() -> str:
    url = os.environ["DATABASE_URL"]
    # the seed writes postgresql+asyncpg://; psycopg wants the plain scheme
    _scheme, sep, rest = url.partition("://")
    return "postgresql://" + rest if sep else url


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://redis:6379/0")


CERT_DIR = os.environ.get("CERT_DIR", "/certs")
MIGRATIONS_DIR = os.environ.get("MIGRATIONS_DIR", "/srv/migrations")
