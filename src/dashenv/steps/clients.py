"""The one way to a PostgreSQL client for an environment: its server as the host reaches it
(``host`` and the published ``postgres_port``), as the role its env file's DATABASE_URL names
(``postgres`` where it names none). The callers say first, each in its own words, why an
environment without a DATABASE_URL or a published port cannot be served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.adapters.postgres import Postgres
    from dashenv.settings.sources import ResolvedEnvironment

DEFAULT_TIMEOUT = 5.0  # seconds to connect; observers (status, doctor, gc) ask for less


def postgres_client(
    env: ResolvedEnvironment, *, timeout: float = DEFAULT_TIMEOUT, observer: bool = False
) -> Postgres:
    """A client of ``env``'s PostgreSQL (raises ConfigError where it cannot have one); an
    ``observer`` (status) keeps one connection per database it reads, until closed."""
    from dashenv.adapters.postgres import Postgres

    s = env.settings
    db = env.app.database()
    if db is None or s.postgres_port is None:
        raise ConfigError(
            f"{env.name} has no PostgreSQL dashenv can reach "
            f"({'no DATABASE_URL in ' + s.env_file if db is None else 'no published port'})",
            hint=f"set DATABASE_URL in {s.env_file} and postgres_port for {env.name}",
        )
    return Postgres(
        s.host, s.postgres_port, db.user or "postgres", db.password, timeout=timeout, keep=observer
    )


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
