"""The reset, planned: names of the scratch and template databases, the leftovers of earlier
resets, the lock, and the steps. Pure: no database, Docker or Redis library here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from dashenv.guards import ResetFacts
from dashenv.plan.names import ResetNames

Strategy = Literal["template", "migrate"]
SERVER_FLAGS = ["fsync", "full_page_writes", "synchronous_commit"]
DATABASE_OPTIONS = {"synchronous_commit": "off"}


@dataclass(frozen=True)
class ResetPlan:
    environment: str
    names: ResetNames
    strategy: Strategy
    template_ready: bool
    leftovers: tuple[str, ...]
    steps: tuple[str, ...]

    @property
    def database(self) -> str:
        return self.names.database

    @property
    def template(self) -> str:
        return self.names.template


def lock_path(root: Path, environment: str) -> Path:
    """The environment's database lock: its resets, restores and snapshots take it
    (``dashenv.steps.database_lock``)."""
    return root / ".dashenv" / "locks" / f"reset-{environment}.lock"


def plan_reset(
    facts: ResetFacts,
    names: ResetNames,
    strategy: Strategy,
    existing: list[str],
    *,
    lock: Path,
    migration_command: str | None,
    app_service: str,
) -> ResetPlan:
    environment = facts.intent.environment
    ready = names.template in existing
    left = tuple(names.leftovers(existing))
    steps = [f"take the reset lock {lock}"]
    if left:
        steps.append(f"drop leftovers of earlier resets and stale templates: {', '.join(left)}")
    if strategy == "template":
        if ready:
            steps.append(f"reuse template {names.template} (migrations unchanged)")
        elif migration_command is None:
            steps.append(f"build template {names.template}: an empty database (no migrations)")
        else:
            steps.append(
                f"build template {names.template}: run '{migration_command}' "
                f"in {app_service} against a scratch database"
            )
        steps.append(f"clone the template into a scratch database ({names.new_prefix}...)")
    else:
        run = f" and run '{migration_command}' in {app_service}" if migration_command else ""
        steps.append(f"create an empty scratch database{run}")
    options = ", ".join(f"{k}={v}" for k, v in DATABASE_OPTIONS.items())
    steps += [
        f"stamp it for {environment}; set {options}",
        f"end connections to {names.database} and swap the new database in (one transaction)",
        f"drop the old {names.database}",
    ]
    if facts.redis is not None:
        indexes = ", ".join(str(i) for i in facts.redis_indexes)
        steps.append(
            f"FLUSHDB Redis {facts.redis.host}:{facts.redis.port} index {indexes} (each alone)"
        )
    return ResetPlan(environment, names, strategy, ready, left, tuple(steps))


def url_with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def target_without_password(user: str | None, host: str, port: int | None, database: str) -> str:
    return f"postgresql://{user or ''}@{host}:{port}/{database}"


# --- per-worker databases and Redis indexes (pytest-xdist) -------------------------------


def worker_indexes(
    own: tuple[int, ...], declared: set[int], databases: int, count: int, *, shared: bool
) -> list[int]:
    """A Redis index per worker on the test environment's own server: its own declared
    indexes first (the main one for gw0), then indexes no environment declares. On a server
    shared by declaration with a protected environment, only its own declared indexes."""
    from dashenv.errors import ConfigError

    spare = [] if shared else [i for i in range(databases) if i not in declared and i not in own]
    candidates = [*own, *spare]
    if len(candidates) < count:
        where = (
            "declare more in redis_indexes (the server is shared with a protected environment)"
            if shared
            else f"raise 'databases' in the Redis configuration (it has {databases})"
        )
        raise ConfigError(
            f"{count} workers need {count} Redis indexes; only {len(candidates)} can be used",
            hint=f"run fewer workers, or {where}",
        )
    return candidates[:count]


def numprocesses(args: list[str]) -> str | None:
    """The value of the last -n N, -nN, --numprocesses N or =N in pytest arguments."""
    value: str | None = None
    for i, arg in enumerate(args):
        if arg in ("-n", "--numprocesses") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--numprocesses="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            value = arg[2:]
    return value


def xdist_workers(args: list[str], cpus: int) -> int:
    """The worker count pytest-xdist would start for these pytest arguments (the last -n
    wins; auto and logical mean ``cpus``); 0 without distribution."""
    value = numprocesses(args)
    if value in ("auto", "logical"):
        return cpus
    return int(value) if value is not None and value.isdigit() else 0


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def worker_clone_script(source: str, workers: list[str], stamp: dict[str, str]) -> str:
    """The psql script that makes the worker databases inside an environment's network (the
    ci environment publishes no port): each one dropped if a killed run left it, cloned
    from ``source`` (sessions on it ended first: PostgreSQL refuses to copy a database in
    use), given the test options, and stamped."""
    lines = ["\\set ON_ERROR_STOP 1", "\\o /dev/null"]
    for name in workers:
        lines += [
            f"DROP DATABASE IF EXISTS {_ident(name)};",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = {_literal(source)} AND pid <> pg_backend_pid();",
            f"CREATE DATABASE {_ident(name)} TEMPLATE {_ident(source)};",
            *(
                f"ALTER DATABASE {_ident(name)} SET {key} = {_literal(value)};"
                for key, value in DATABASE_OPTIONS.items()
            ),
        ]
    values = ", ".join(f"({_literal(k)}, {_literal(v)})" for k, v in stamp.items())
    for name in workers:
        lines += [
            f"\\connect {_ident(name)}",
            "CREATE SCHEMA IF NOT EXISTS dashenv;",
            "CREATE TABLE IF NOT EXISTS dashenv.metadata"
            " (key text PRIMARY KEY, value text NOT NULL);",
            f"INSERT INTO dashenv.metadata (key, value) VALUES {values}"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;",
        ]
    return "\n".join(lines) + "\n"


def drop_script(databases: list[str]) -> str:
    return "".join(f"DROP DATABASE IF EXISTS {_ident(n)};\n" for n in databases)


# pytest's configuration files, in the order it looks for them in each directory, with the
# section that makes a file count (pytest.ini counts even when empty)
PYTEST_CONFIG_FILES = (
    ("pytest.ini", "pytest"),
    (".pytest.ini", "pytest"),
    ("pyproject.toml", "tool.pytest.ini_options"),
    ("tox.ini", "pytest"),
    ("setup.cfg", "tool:pytest"),
)


def pytest_addopts(directories: list[list[tuple[str, str]]]) -> list[str]:
    """The ``addopts`` of the configuration file pytest would use: ``directories`` holds, from
    the directory pytest starts in up to the root, the (name, text) of the configuration
    files each has. The first file that counts, nearest first, wins, as in pytest."""
    import configparser
    import shlex
    import tomllib

    order = {name: i for i, (name, _) in enumerate(PYTEST_CONFIG_FILES)}
    for found in directories:
        for name, text in sorted(found, key=lambda f: order.get(f[0], 99)):
            if name == "pyproject.toml":
                try:
                    section = tomllib.loads(text).get("tool", {}).get("pytest", {})
                except tomllib.TOMLDecodeError:
                    continue
                if "ini_options" not in section:
                    continue
                value = section["ini_options"].get("addopts", "")
                return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
            if name not in order:
                continue
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(text)
            except configparser.Error:
                if name.endswith("pytest.ini"):
                    return []
                continue
            wanted = dict(PYTEST_CONFIG_FILES)[name]
            if parser.has_section(wanted):
                return shlex.split(parser.get(wanted, "addopts", fallback=""))
            if name.endswith("pytest.ini"):
                return []  # pytest.ini counts even without its section
    return []
