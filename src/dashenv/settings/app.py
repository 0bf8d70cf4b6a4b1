"""The application's settings as the seed's ``src/core/config.py`` sees them.

They are read from the environment's env file: Compose hands that file to the
containers (``env_file:``), so it is what the app really gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

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


@dataclass(frozen=True)
class DatabaseURL:
    scheme: str
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme or 'missing'!r})")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port is not a number") from None
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ValueError("no database name after the host")
        return cls(
            parts.scheme,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            parts.hostname,
            port,
            database,
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
        """The index in REDIS_URL (0 when the URL names none); None without REDIS_URL."""
        url = self.settings.REDIS_URL
        if not url:
            return None
        path = urlsplit(url).path.lstrip("/")
        return int(path) if path.isdigit() else 0

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
