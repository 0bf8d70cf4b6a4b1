"""dashenv's own settings for one environment, declared once with type, default and description.

``config show`` and the README's settings table are generated from these declarations.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = int | None


# the seed's test markers, as the app is given them where it reads them
MARKERS = {"ENVIRONMENT": "testing", "TESTING": "true"}


class EnvironmentSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    role: Literal["development", "testing", "ci"] = Field(
        "development", description="What the environment is for; resets need testing or ci."
    )
    protected: bool = Field(
        False, description="Holds data worth keeping: resets never target it, volumes need --yes."
    )
    compose_files: list[str] = Field(
        description="Compose files, relative to the project directory, later ones overriding."
    )
    env_file: str = Field(description="The environment's env file (the app's settings).")
    env_example: str | None = Field(
        None, description="Example env file 'dashenv init' copies; default: env_file + '.example'."
    )
    project_name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Compose project name. Left unset, the compose files' name: holds (no -p); "
        "set in a layer, it is passed with -p.",
    )
    app_port: Port = Field(None, ge=1, le=65535, description="Host port of the app (HTTPS).")
    callback_port: Port = Field(
        None, ge=1, le=65535, description="Host port of the OAuth callback server."
    )
    postgres_port: Port = Field(None, ge=1, le=65535, description="Host port of PostgreSQL.")
    redis_port: Port = Field(None, ge=1, le=65535, description="Host port of Redis.")
    redis_index: int | None = Field(
        None,
        ge=0,
        description="The app's main Redis index; default: the one in REDIS_URL (0 when it "
        "names none). Set it only where REDIS_URL is absent: a disagreement is an error.",
    )
    redis_indexes: list[int] = Field(
        default_factory=list,
        description="Further Redis indexes the app uses (task queue, rate limiter): "
        "protected with the main one on a protected environment, flushed by a reset.",
    )
    host: str = Field("127.0.0.1", description="Host address published ports are bound to.")
    context: str | None = Field(
        None,
        description="Docker context (engine) the environment runs on: dev local, test on a "
        "bigger engine, say. --context overrides it for one run.",
    )
    profiles: list[str] = Field(default_factory=list, description="Compose profiles to enable.")
    exclusive_with: list[str] = Field(
        default_factory=list,
        description="Environments sharing this one's containers: started one at a time.",
    )
    app_service: str = Field("app", description="Compose service of the application.")
    callback_service: str = Field("callback", description="Compose service of the callback server.")
    postgres_service: str = Field("postgres", description="Compose service of PostgreSQL.")
    redis_service: str = Field("redis", description="Compose service of Redis.")
    up_timeout: float = Field(
        180.0,
        gt=0,
        description=(
            "Seconds 'up' waits for every service to be ready (healthy, answering, or "
            "settled) before giving up."
        ),
    )
    health_path: str = Field("/health", description="The app's health endpoint.")
    app_scheme: Literal["https", "http"] = Field(
        "https", description="How the app serves on its published port: https, or plain http."
    )
    app_http: bool = Field(
        True, description="The app serves HTTP here (false where it idles for the tests)."
    )
    migration_command: str | None = Field(
        "alembic upgrade head",
        description="Brings the database schema to the latest migration, run where the app "
        "runs; none for a project without migrations (the template is the empty database, "
        "plus seed_command).",
    )
    seed_command: str | None = Field(
        None,
        description="Loads seed data after the migrations, run where they run: when the reset "
        "builds its template (every clone carries the data) and by 'dashenv db seed ENV'.",
    )
    migrations_dir: str | None = Field(
        "compose/app/alembic",
        description="The migration files (Alembic's script_location: env.py, versions/): with "
        "the migration command they key the reset's template; none where the command reads "
        "no folder (the command alone keys it).",
    )
    alembic_config: str | None = Field(
        "compose/app/alembic.ini",
        description="Alembic's alembic.ini: its revisions are read from the files (no import, "
        "no running app) for status, doctor and the db commands; none without Alembic.",
    )
    alembic_command: str = Field(
        "alembic",
        description="How Alembic runs where the app runs ('uv run --frozen alembic', for example): "
        "the db migrate, current, history, revision and downgrade commands use it.",
    )
    snapshot_keep: int = Field(
        5,
        ge=0,
        description="Automatic snapshots (before a restore, a downgrade or a seed) kept; the "
        "next 'db snapshot' or 'gc' prunes those beyond.",
    )
    test_command: str = Field("pytest -q", description="What 'test run' and 'ci run' execute.")
    test_runner: Literal["container", "host"] = Field(
        "container",
        description="Where the app, its migrations and its tests run: in the app container, "
        "or on the host with the environment's connection settings exported.",
    )
    host_dir: str = Field(
        ".",
        description="Where commands run on the host (test_runner = host): the app's directory, "
        "relative to the project.",
    )
    derived_from: str | None = Field(
        None,
        description="Derive this environment from another's compose files (a test stack made "
        "from dev's one, through an override under .dashenv/derived/; the files are never "
        "edited).",
    )
    isolated: bool = Field(
        False,
        description="Run a test environment with compose files of its own beside those its "
        "files clash with (container names, host ports, a data directory): made its own by an "
        "override under .dashenv/derived/.",
    )
    derive_markers: bool | list[str] = Field(
        True,
        description="The test markers a derived environment's app is given: true for both "
        "ENVIRONMENT=testing and TESTING=true, false for none, or the list of those the app "
        "reads as test markers (init --detect writes what it finds in the app's code).",
    )

    @field_validator("derive_markers", mode="before")
    @classmethod
    def _markers(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in {"true", "1", "yes", "on", "false", "0", "no", "off", ""}:
                return word in {"true", "1", "yes", "on"}
            value = [v.strip().upper() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            unknown = [v for v in value if v not in MARKERS]
            if unknown:
                raise ValueError(f"markers are {', '.join(MARKERS)}, not {', '.join(unknown)}")
        return value

    @property
    def markers_given(self) -> tuple[str, ...]:
        """The markers a derived environment's app is given."""
        m = self.derive_markers
        return tuple(MARKERS) if m is True else () if m is False else tuple(m)

    @field_validator("compose_files", "profiles", "exclusive_with", "redis_indexes", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError("not a valid JSON list") from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator(
        "app_port",
        "callback_port",
        "postgres_port",
        "redis_port",
        "alembic_config",
        "context",
        "derived_from",
        "migration_command",
        "migrations_dir",
        mode="before",
    )
    @classmethod
    def _none_port(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "off"}:
            return None
        if value is False:
            return None
        return value

    @field_validator("redis_indexes")
    @classmethod
    def _indexes(cls, value: list[int]) -> list[int]:
        if any(i < 0 for i in value):
            raise ValueError("Redis indexes are 0 or more")
        return list(dict.fromkeys(value))

    @field_validator("compose_files")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one compose file is needed")
        return value

    @property
    def example_file(self) -> str:
        return self.env_example or f"{self.env_file}.example"

    def published_ports(self) -> dict[str, int]:
        """Service name -> host port, for the services this environment publishes."""
        pairs = {
            self.app_service: self.app_port,
            self.callback_service: self.callback_port,
            self.postgres_service: self.postgres_port,
            self.redis_service: self.redis_port,
        }
        return {svc: port for svc, port in pairs.items() if port is not None}


FIELD_NAMES = list(EnvironmentSettings.model_fields)


class ProjectOptions(BaseModel):
    """Project-wide keys at the top of dashenv.toml (or [tool.dashenv]), declared once."""

    model_config = ConfigDict(extra="forbid")

    builtins: bool = Field(
        default=True, description="Start from the built-in environments dev, test and ci."
    )
    audit_log: str = Field(
        default=".dashenv/audit.log",
        description="The JSON-lines audit log of resets and refusals, relative to the project.",
    )
    certs_dir: str = Field(
        default="certs", description="Where 'dashenv certs' writes localhost.crt and localhost.key."
    )
    host_names: list[str] = Field(
        default_factory=list, description="Extra names the certificate is valid for."
    )
    postgres_images: list[str] = Field(
        default_factory=list,
        description=(
            "More images that are PostgreSQL with the official image's contract (POSTGRES_* "
            "variables, its init directory), besides those known by name (postgres, postgis, "
            "pgvector, timescaledb, and images named after them) and images built FROM one."
        ),
    )


PROJECT_KEYS = list(ProjectOptions.model_fields)
