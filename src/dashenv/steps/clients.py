"""A PostgreSQL client of the server a host-side database URL names (a pytest-xdist worker's,
the plugin's). An environment's own clients are its object's (``Environment.postgres``,
``Environment.redis``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashenv.context import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres


def postgres_at(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Postgres:
    """A client of the server a host-side database URL names (a worker's, the plugin's)."""
    from urllib.parse import urlsplit

    from dashenv.adapters.postgres import Postgres

    parts = urlsplit(url)
    return Postgres(
        parts.hostname or "127.0.0.1",
        parts.port or 5432,
        parts.username or "postgres",
        parts.password,
        timeout=timeout,
    )
