"""Layered settings with provenance.

pydantic-settings merges sources in ``settings_customise_sources`` order (first wins)
but does not say where a value came from. Each layer here is a settings source that
also remembers, for every key it has, its origin; ``resolve_environment`` asks the
layers in priority order and keeps the first that has the key.

Highest first: CLI flags > process environment > env file > dashenv.toml > defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import ValidationError

from dashenv.errors import ConfigError
from dashenv.settings.envfile import EnvEntry, read_env_file
from dashenv.settings.layers import LayerSource, Origin, from_sources, validation_error
from dashenv.settings.model import FIELD_NAMES, EnvironmentSettings
from dashenv.settings.project import BUILTIN_ENVIRONMENTS, ProjectConfig

if TYPE_CHECKING:
    from dashenv.facts import ComposeModel
    from dashenv.settings.app import AppView

ENV_PREFIX = "DASHENV_"


class Layout(Protocol):
    """What an environment's layout answers (its strategies: ``dashenv.observe.layouts``)."""

    kind: ClassVar[str]
    source: str | None  # the environment whose compose files it is made from

    def override(self) -> str | None: ...
    def running(self, env: ResolvedEnvironment) -> list[str]: ...
    def leased(self, env: ResolvedEnvironment) -> list[str]: ...
    @property
    def generates_env_file(self) -> bool: ...


@dataclass
class FilesView:
    """The compose files' part of an environment: the resolved model and what dashenv took
    from it."""

    model: ComposeModel
    services: list[str]  # the services the files declare
    pass_project: bool  # dashenv passes -p (false: the files' name: holds)
    name_in_files: str | None  # the files' own name: (resolved where it holds)
    proxy_url: str | None = None  # the app's URL through a reverse proxy's route
    cached: bool = False
    # the URL the PostgreSQL service's own environment implies (user, password, database),
    # and what says so: dashenv's DATABASE_URL where the env file has none
    database_url: tuple[str, str] | None = None
    key: str = ""  # everything the model depends on (the cache's key)


@dataclass
class ResolvedEnvironment:
    """One environment's settings, resolved once per run; the application's settings (its
    env file) are read on first use and kept."""

    name: str
    settings: EnvironmentSettings
    provenance: dict[str, Origin]
    project: ProjectConfig
    # the env file's entries, when the env-file layer read them (read once per run)
    env_entries: dict[str, EnvEntry] | None = field(default=None, repr=False)
    _app: AppView | None = field(default=None, repr=False)
    # what the compose files say (set by the run context once they are read; None before,
    # or where Compose could not be asked)
    files: FilesView | None = field(default=None, repr=False)
    # compose files dashenv generates for this environment (relative path -> text): named in
    # compose_files, written by whatever runs or prints the Compose line, never by resolving
    generated: dict[str, str] = field(default_factory=dict, repr=False)
    # a derived environment's plan (dashenv.plan.derive.Derivation), where it is one
    derivation: Any = field(default=None, repr=False)
    # how it is laid out (a strategy of dashenv.observe.layouts), once the run context
    # resolved it; None for settings read alone
    layout: Layout | None = field(default=None, repr=False)

    def path(self, relative: str) -> Path:
        return (self.project.root / relative).resolve()

    def compose_texts(self) -> dict[str, str]:
        """Its compose files as written (relative path -> text), generated ones as dashenv
        generates them; a file that does not exist is left out."""
        texts = {}
        for relative in self.settings.compose_files:
            if relative in self.generated:
                texts[relative] = self.generated[relative]
            elif self.path(relative).is_file():
                texts[relative] = self.path(relative).read_text(errors="replace")
        return texts

    @property
    def proxy_url(self) -> str | None:
        """The app's URL through a reverse proxy route its compose files declare."""
        return self.files.proxy_url if self.files else None

    def missing_path(self, key: str, shown: str, hint: str, what: str | None = None) -> ConfigError:
        """A path a setting names that does not exist: exit 2, naming the layer that set it."""
        origin = self.provenance[key].describe()
        label, source = (
            (f"{what} {shown}", f"{key} from {origin}")
            if what
            else (f"{key} {shown}", f"from {origin}")
        )
        return ConfigError(f"{self.name}: {label} does not exist ({source})", hint=hint)

    @property
    def app(self) -> AppView:
        """The application's settings from the env file (raises ConfigError when unusable,
        and where a test environment's URLs point the driver elsewhere in their query)."""
        if self._app is None:
            app = with_database_from_files(load_app_settings(self), self)
            # what a reset or a worker can reach: guards.RESET_ROLES (settings sit beside
            # the guards and import nothing of them)
            if self.settings.role in ("testing", "ci"):
                app.require_plain_targets(self.name)
            self._app = app
        return self._app

    @property
    def redis_indexes(self) -> tuple[int, ...]:
        """Every Redis index the app uses, its main one (REDIS_URL's) first."""
        return redis_indexes(self)

    @property
    def redis_index(self) -> int:
        """The app's main Redis index."""
        return self.redis_indexes[0]


def scope_of(environment: str) -> str:
    """The part of a per-environment variable that names the environment:
    DASHENV_<SCOPE>__<SETTING> (``test`` -> ``TEST``, ``ci-fast`` -> ``CI_FAST``)."""
    return environment.upper().replace("-", "_")


def _prefixed(
    mapping: Mapping[str, str], environment: str | None = None
) -> dict[str, tuple[str, str]]:
    """DASHENV_APP_PORT=.. -> {"app_port": ("DASHENV_APP_PORT", value)} for known fields.
    With ``environment``, its own DASHENV_<ENV>__<SETTING> (pydantic-settings' nesting
    delimiter) too, which wins over the unscoped one that every environment reads."""
    found: dict[str, tuple[str, str]] = {}
    scoped: dict[str, tuple[str, str]] = {}
    mine = f"{scope_of(environment)}__" if environment is not None else None
    for key, value in mapping.items():
        if not key.startswith(ENV_PREFIX):
            continue
        rest = key[len(ENV_PREFIX) :]
        if "__" in rest:
            if (
                mine is not None
                and rest.startswith(mine)
                and rest[len(mine) :].lower() in FIELD_NAMES
            ):
                scoped[rest[len(mine) :].lower()] = (key, value)
        elif rest.lower() in FIELD_NAMES:
            found[rest.lower()] = (key, value)
    return {**found, **scoped}


def _layer_cli(overrides: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Origin]]:
    values, origins = {}, {}
    for key, value in overrides.items():
        if key not in FIELD_NAMES:
            raise ConfigError(
                f"unknown setting {key!r} in --set",
                hint=f"settings are: {', '.join(FIELD_NAMES)}",
            )
        values[key] = value
        origins[key] = Origin("cli", key)
    return values, origins


def _layer_process(
    environ: Mapping[str, str], environment: str
) -> tuple[dict[str, Any], dict[str, Origin]]:
    found = _prefixed(environ, environment)
    return (
        {k: v for k, (_, v) in found.items()},
        {k: Origin("process env", key) for k, (key, _) in found.items()},
    )


def _layer_envfile(
    entries: Mapping[str, EnvEntry], shown: str
) -> tuple[dict[str, Any], dict[str, Origin]]:
    found = _prefixed({k: e.value for k, e in entries.items()})
    return (
        {k: v for k, (_, v) in found.items()},
        {k: Origin("env file", key, shown, entries[key].line) for k, (key, _) in found.items()},
    )


def _layer_toml(project: ProjectConfig, name: str) -> tuple[dict[str, Any], dict[str, Origin]]:
    table = project.environments.get(name, {})
    unknown = [k for k in table if k not in FIELD_NAMES]
    if unknown:
        line = project.line_of(name, unknown[0])
        where = f"{project.shown_path}:{line}" if line else project.shown_path
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r} in [environments.{name}]",
            hint=f"settings are: {', '.join(FIELD_NAMES)}",
        )
    origins = {
        k: Origin(
            "dashenv.toml",
            f"environments.{name}.{k}",
            project.shown_path,
            project.line_of(name, k),
        )
        for k in table
    }
    return dict(table), origins


def environment_defaults(project: ProjectConfig, name: str) -> dict[str, Any]:
    """The built-in environment's values; for any other, a compose project name of its own
    (``<project directory>-<environment>``), which a ``name:`` in its files overrides."""
    import re

    found = dict(BUILTIN_ENVIRONMENTS.get(name, {})) if project.options.builtins else {}
    if "project_name" not in found:
        slug = re.sub(r"[^a-z0-9_-]+", "-", f"{project.root.name}-{name}".lower()).strip("-_")
        found["project_name"] = slug if slug[:1].isalnum() else f"p{slug}"
    return found


def resolve_environment(
    project: ProjectConfig,
    name: str,
    cli: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    read_env: bool = True,
    derived: Mapping[str, Any] | None = None,
) -> ResolvedEnvironment:
    """Resolve one environment's settings through every layer, keeping provenance.

    ``read_env=False`` skips the env-file layer (used by ``init`` before the file exists).
    ``derived``: the defaults a derived environment takes from its source (``derived_from``).
    """
    if name not in project.environment_names():
        known = ", ".join(project.environment_names()) or "none"
        raise ConfigError(
            f"unknown environment {name!r}",
            hint=f"known environments: {known} (declare more in dashenv.toml)",
        )
    environ = os.environ if environ is None else environ
    defaults = environment_defaults(project, name)
    default_origins = {k: Origin("default", k) for k in defaults}
    for key, value in (derived or {}).items():
        defaults[key] = value
        default_origins[key] = Origin("derived", key, path=f"from {derived_from(project, name)}")
    layers: list[tuple[str, dict[str, Any], dict[str, Origin]]] = [
        ("cli", *_layer_cli(cli or {})),
        ("process env", *_layer_process(environ, name)),
        ("dashenv.toml", *_layer_toml(project, name)),
        ("default", defaults, default_origins),
    ]
    entries: dict[str, EnvEntry] | None = None
    if read_env:
        # the env file's own location comes from every layer but the env file
        env_file = next((vals["env_file"] for _, vals, _ in layers if "env_file" in vals), None)
        if env_file is None:
            raise ConfigError(
                f"environment {name!r} has no env_file",
                hint=f"set env_file under [environments.{name}] in dashenv.toml",
            )
        shown = str(env_file)
        entries = read_env_file(project.root / shown, shown, env_name=name)
        layers.insert(2, ("env file", *_layer_envfile(entries, shown)))

    provenance: dict[str, Origin] = {}
    for key in FIELD_NAMES:
        for _, values, origins in layers:
            if key in values:
                provenance[key] = origins[key]
                break
        else:
            provenance[key] = Origin("default", key)

    sources = [LayerSource(EnvironmentSettings, vals, origins) for _, vals, origins in layers]

    try:
        layered = from_sources(EnvironmentSettings, sources)
    except ValidationError as exc:
        raise validation_error(exc, provenance, f"environment {name!r}") from None
    return ResolvedEnvironment(name, layered, provenance, project, entries)


def derived_from(project: ProjectConfig, name: str) -> str | None:
    """The environment ``name`` is derived from, as dashenv.toml declares it."""
    value = project.environments.get(name, {}).get("derived_from")
    return str(value) if value else None


def load_app_settings(env: ResolvedEnvironment) -> AppView:
    from dashenv.settings.app import read_app_settings

    shown = env.settings.env_file
    if env.env_entries is not None and env.settings.env_file == shown:
        entries = env.env_entries  # the env-file layer read it already
    else:
        entries = read_env_file(env.path(shown), shown, env_name=env.name)
    return read_app_settings(entries, shown)


def with_database_from_files(app: AppView, env: ResolvedEnvironment) -> AppView:
    """Where the env file names no DATABASE_URL (the app builds it from parts), the one the
    PostgreSQL service's own environment implies (``FilesView.database_url``)."""
    from dashenv.settings.app import read_app_settings

    if app.settings.DATABASE_URL or env.files is None or env.files.database_url is None:
        return app
    url, why = env.files.database_url
    entries = {**app.entries, "DATABASE_URL": EnvEntry("DATABASE_URL", url, 0)}
    view = read_app_settings(entries, env.settings.env_file)
    view.provenance["DATABASE_URL"] = Origin("compose files", "DATABASE_URL", path=why)
    return view


def redis_indexes(env: ResolvedEnvironment) -> tuple[int, ...]:
    """Every Redis index the environment's app uses, the main one first.

    REDIS_URL is the source of truth for the main index (0 when it names none); the
    ``redis_index`` setting stands in only where there is no REDIS_URL, and a value set for
    it in a layer that disagrees with REDIS_URL is a configuration error naming both places.
    ``redis_indexes`` adds the app's further indexes. Without a readable env file, only the
    settings speak.
    """
    s = env.settings
    try:
        from_url = env.app.redis_index()
    except ConfigError:
        from_url = None
    origin = env.provenance.get("redis_index")
    if from_url is not None and s.redis_index is not None and s.redis_index != from_url:
        shown = origin.describe() if origin is not None else "redis_index"
        raise ConfigError(
            f"{env.name}: redis_index is {s.redis_index} ({shown}) but REDIS_URL names index "
            f"{from_url} ({env.app.where('REDIS_URL')})",
            hint="REDIS_URL is what the app uses: remove redis_index, or make them agree",
        )
    main = from_url if from_url is not None else (s.redis_index or 0)
    return (main, *[i for i in s.redis_indexes if i != main])
