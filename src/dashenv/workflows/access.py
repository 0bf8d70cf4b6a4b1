"""Reaching an environment from the host: the psql and redis-cli lines its exec runs, a
command run on the host with its settings, the exports 'dashenv env' prints, its URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashenv.errors import ConfigError, OperationFailed
from dashenv.plan.compose import endpoints

if TYPE_CHECKING:
    from dashenv.context import Environment


def psql_command(e: Environment, extra: list[str]) -> tuple[str, list[str]]:
    env = e.env
    app = env.app
    db = app.database()
    user = app.settings.POSTGRES_USER or (db.user if db else None) or "postgres"
    database = (db.database if db else None) or app.settings.POSTGRES_DB or user
    return env.settings.postgres_service, ["psql", "-U", user, "-d", database, *extra]


def redis_cli_command(e: Environment, extra: list[str]) -> tuple[str, list[str]]:
    env = e.env
    return env.settings.redis_service, ["redis-cli", "-n", str(env.redis_index), *extra]


def run_on_host(e: Environment, command: list[str]) -> int:
    """Run ``command`` on the host, in the app's directory, with ``name``'s connection
    settings exported under the names the app reads; its exit code."""
    from dashenv.steps.targets import run_on_host as run

    return run(e, command)


def export_lines(e: Environment, *, reveal: bool) -> list[str]:
    """``export KEY=VALUE`` for each setting a process on the host gets from ``name`` (secrets
    masked unless ``reveal``)."""
    name = e.name
    import shlex

    from dashenv.settings.secrets import mask_value
    from dashenv.steps.isolation import check_host
    from dashenv.steps.targets import host_environment

    values = host_environment(e)
    check_host(e, values, f"'dashenv env {name}'")
    return [
        f"export {k}={shlex.quote(v if reveal else mask_value(k, v))}"
        for k, v in sorted(values.items())
    ]


def urls(e: Environment, service: str | None) -> dict[str, str | None]:
    """``name``'s URLs by role, or the one ``service`` (a service or a role) has; where the
    environment publishes none, an error that says why (exit 1), or exit 2 for a service the
    environment does not have."""
    name = e.name
    from dashenv.plan.compose import url_role
    from dashenv.plan.derive import Account, account_url

    env = e.env
    s = env.settings
    db = env.app.database()
    at = endpoints(s, env.redis_index, env.proxy_url)
    postgres = None
    if at.postgres is not None and s.postgres_port and db is not None:  # for tools on the host
        account = Account(db.user or "postgres", db.password, db.database)
        postgres = account_url(account, s.host, port=s.postgres_port)
    found = {"app": at.app, "callback": at.callback, "postgres": postgres, "redis": at.redis}
    if service is None:
        return found
    role = url_role(s, service)
    if role is None:
        services = list(env.files.services) if env.files else [s.app_service, s.postgres_service]
        raise ConfigError(
            f"{name} has no service {service!r} with a URL",
            hint=f"app, callback, postgres or redis, or a service: {', '.join(services)}",
        )
    if found[role] is None:
        why = (
            "its app serves no HTTP (app_http = false)"
            if role == "app" and not s.app_http
            else "it publishes no port for it"
        )
        raise OperationFailed(
            f"{name} has no {role} URL: {why}",
            hint=f"'dashenv url {name} --json' lists the URLs it has; 'dashenv envs' its ports",
        )
    return {role: found[role]}
