"""Settings from the environment, as the real app's src/core/config.py reads them."""

import os


def _with_scheme(scheme: str) -> str:
    url = os.environ["DATABASE_URL"]
    _scheme, sep, rest = url.partition("://")
    return f"{scheme}://{rest}" if sep else url


def database_url() -> str:
    """The URL for psycopg (the tests): the plain postgresql scheme."""
    return _with_scheme("postgresql")


def async_database_url() -> str:
    """The URL for SQLAlchemy's async engine: postgresql+asyncpg, as the seed writes it."""
    return _with_scheme("postgresql+asyncpg")


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://redis:6379/0")


CERT_DIR = os.environ.get("CERT_DIR", "/certs")
