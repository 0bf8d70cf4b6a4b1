"""The application's settings as the seed's ``src/core/config.py`` sees them.

They are read from the environment's env file: Compose hands that file to the
containers (``env_file:``), so it is what the app really gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from dashenv.errors import ConfigError
from dashenv.settings.envfile import EnvEntry
from dashenv.settings.layers import LayerSource, Origin, from_sources, validation_error


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="allow", case_sensitive=True)

    ENVIRONMENT: str = Field("development", description="development, testing or production.")
    TESTING: bool = Field(False, description="Explicit testing flag; resets require true.")
    DEBUG: bool = Field(False, description="Debug mode.")
    DATABASE_URL: str | None = Field(None, description="The app's database, as the app sees it.")
    POSTGRES_DB: str | None = Field(None, description="Database the PostgreSQL image creates.")
    POSTGRES_USER: str | None = Field(None, description="Owner role the image creates.")
    POSTGRES_PASSWORD: str | None = Field(None, description="That role's password.")
    REDIS_URL: str | None = Field(None, description="The app's Redis, with its index.")
    SECRET_KEY: str | None = Field(None, description="Application secret.")
    ENCRYPTION_KEY: str | None = Field(None, description="Key for stored OAuth tokens.")


# Query parameters by which a driver takes its target from the query string instead of the
# URL's own parts: libpq (psycopg, psycopg2) reads dbname, host, hostaddr, port, user,
# service, servicefile and options; asyncpg reads database, host, port and user; SQLAlchemy
# hands its URL's query to the driver. What each one changes:
DATABASE_QUERY_TARGETS = {
    "dbname": "database",
    "database": "database",
    "host": "host",
    "hostaddr": "host",
    "port": "port",
    "user": "user",
    "service": "connection service",
    "servicefile": "connection service",
    "options": "server options",
}
# redis-py: a db= in the query wins over the index in the path
REDIS_QUERY_TARGETS = {"db": "index"}


def query_targets(url: str, targets: dict[str, str]) -> list[str]:
    """The query parameters of ``url`` that change where its driver connects."""
    return [k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k in targets]


@dataclass(frozen=True)
class DatabaseURL:
    """A database URL read as its driver reads it: a target named in the query string wins
    over the URL's own parts (``overrides`` names those parameters)."""

    scheme: str
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str
    overrides: tuple[str, ...] = ()

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme or 'missing'!r})")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port is not a number") from None
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        database = query.get("dbname") or query.get("database") or unquote(parts.path.lstrip("/"))
        if not database:
            raise ValueError("no database name after the host")
        if "port" in query:
            if not query["port"].isdigit():
                raise ValueError("the port in the query is not a number")
            port = int(query["port"])
        user = query.get("user") or (unquote(parts.username) if parts.username else None)
        return cls(
            parts.scheme,
            user,
            unquote(parts.password) if parts.password else None,
            query.get("host") or query.get("hostaddr") or parts.hostname,
            port,
            database,
            tuple(query_targets(url, DATABASE_QUERY_TARGETS)),
        )


@dataclass
class AppView:
    settings: AppSettings
    entries: dict[str, EnvEntry]
    provenance: dict[str, Origin]

    def database(self) -> DatabaseURL | None:
        url = self.settings.DATABASE_URL
        if not url:
            return None
        try:
            return DatabaseURL.parse(url)
        except ValueError as exc:
            raise ConfigError(
                f"{self.where('DATABASE_URL')}: DATABASE_URL is not usable: {exc}",
                hint="write postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
            ) from None

    def redis_index(self) -> int | None:
        """The index REDIS_URL selects, read as redis-py does (a ``db=`` in the query wins
        over the path; 0 when the URL names none); None without REDIS_URL."""
        url = self.settings.REDIS_URL
        if not url:
            return None
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if "db" in query:
            if not query["db"].isdigit():
                raise ConfigError(
                    f"{self.where('REDIS_URL')}: REDIS_URL's db={query['db']!r} is not an index",
                    hint="write redis://HOST:PORT/INDEX",
                )
            return int(query["db"])
        path = parts.path.lstrip("/")
        return int(path) if path.isdigit() else 0

    def require_plain_targets(self, environment: str) -> None:
        """A test environment's URLs name their targets once, in the URL's own parts: the
        guards check those parts, so a query string that points the driver elsewhere (another
        database, host, port, user, index) is a configuration error (exit 2)."""
        for key, targets in (
            ("DATABASE_URL", DATABASE_QUERY_TARGETS),
            ("REDIS_URL", REDIS_QUERY_TARGETS),
        ):
            url = getattr(self.settings, key)
            found = query_targets(url, targets) if url else []
            if found:
                what = targets[found[0]]
                raise ConfigError(
                    f"{self.where(key)}: {key}'s query sets the {what} ({found[0]}=...), which "
                    f"the driver connects to instead of the URL's own; {environment} is reset "
                    "by dashenv, so its target must be named once",
                    hint=f"remove {', '.join(f'{k}=' for k in found)} from {key}'s query and "
                    "put the target in the URL itself (postgresql://USER:PASSWORD@HOST:PORT/"
                    "DATABASE, redis://HOST:PORT/INDEX)",
                )

    def where(self, key: str) -> str:
        origin = self.provenance.get(key)
        if origin is not None and origin.path and origin.line:
            return f"{origin.path}:{origin.line}"
        return origin.path if origin is not None and origin.path else "the env file"

    def secrets(self) -> list[str]:
        """Every secret value in the file, for scrubbing free text."""
        from dashenv.settings.secrets import is_secret_key, url_password

        found = [e.value for e in self.entries.values() if is_secret_key(e.key) and e.value]
        found += [pw for e in self.entries.values() if (pw := url_password(e.value))]
        return found


def read_app_settings(entries: dict[str, EnvEntry], shown: str) -> AppView:
    """The application's settings from an env file's entries (``shown``: its name as
    configured); raises ConfigError, one line per invalid key."""
    values: dict[str, Any] = {k: e.value for k, e in entries.items()}
    origins = {k: Origin("env file", k, shown, e.line) for k, e in entries.items()}
    source = LayerSource(AppSettings, values, origins)

    try:
        settings = from_sources(AppSettings, [source])
    except ValidationError as exc:
        raise validation_error(exc, origins, shown) from None
    return AppView(settings, entries, origins)
