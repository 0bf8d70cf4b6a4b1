"""Lifecycle commands: up, down, restart, build, ps, logs, exec, shell, psql, redis-cli, and
run and env for an app on the host."""

import sys
from typing import Annotated, Any

import typer

from dashenv.cli import DashenvGroup
from dashenv.cli.params import (
    EnvArg,
    JsonOpt,
    OptionalEnvArg,
    ServiceArg,
    Services,
    asker,
    passthrough_exit,
)
from dashenv.cli.state import state

PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("restart")(restart)
    app.command("build")(build)
    app.command("ps")(ps)
    app.command("logs")(logs)
    app.command("exec", context_settings=PASSTHROUGH)(exec_)
    app.command("shell")(shell)
    app.command("psql", context_settings=PASSTHROUGH)(psql)
    app.command("run", context_settings=PASSTHROUGH)(run)
    from dashenv.cli import new_app

    env_app = new_app(
        "env",
        help="ENV's settings for the host (show, the default), and env files against their "
        "examples (check).",
        cls=EnvGroup,
    )
    env_app.command("show")(env_)
    env_app.command("check")(env_check)
    app.add_typer(env_app)
    app.command("url")(url)
    app.command("open")(open_)
    app.command("redis-cli", context_settings=PASSTHROUGH)(redis_cli)


def up(
    ctx: typer.Context,
    env: EnvArg,
    services: Services = None,
    build: Annotated[bool, typer.Option("--build", help="Rebuild images before starting.")] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once started; do not wait for health.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--wait-timeout",
            "--timeout",
            help="Seconds to wait for health (setting up_timeout); --timeout is the same.",
            min=1,
            metavar="SECONDS",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start ENV detached and wait for every healthcheck, then print its endpoints.

    Missing env files are created from their examples. Conflicting container names or
    host ports are found before anything starts; environments declared exclusive stop
    the other one first. Exit 5 when health does not come in time.
    """
    from dashenv import render
    from dashenv.workflows import lifecycle

    flags = {"up_timeout": str(timeout)} if timeout is not None else None
    with render.live_progress(f"starting {env}") as reporter:
        result = lifecycle.up(
            state(ctx).environment(env, flags),
            services or [],
            build=build,
            wait=not no_wait,
            reporter=reporter,
        )
    if as_json:
        render.print_json(render.up_document(result))
        return
    render.up_summary(result)


def down(
    ctx: typer.Context,
    env: EnvArg,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Also delete the environment's named volumes.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before deleting protected volumes.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove ENV's containers and network; volumes (its data) only with --volumes.

    On a protected environment (dev) --volumes asks first; without a terminal it is
    refused (exit 3) unless --yes.
    """
    from dashenv import render
    from dashenv.workflows import lifecycle

    notes = lifecycle.down(
        state(ctx).environment(env, lenient=True), volumes=volumes, yes=yes, ask=asker()
    )
    if as_json:
        render.print_json(render.change_document("down", env, volumes=volumes, notes=notes))
        return
    for note in notes:
        typer.echo(note)


def restart(ctx: typer.Context, env: EnvArg, services: Services = None) -> None:
    """Restart ENV's services (default: all) and wait until they are healthy again."""
    from dashenv import render
    from dashenv.workflows import lifecycle

    with render.live_progress(f"restarting {env}") as reporter:
        lifecycle.restart(state(ctx).environment(env), services or [], reporter)
    typer.echo(f"{env}: restarted and healthy")


def build(
    ctx: typer.Context,
    env: EnvArg,
    services: Services = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Build without the cache.")] = False,
) -> None:
    """Build ENV's images (the app and callback)."""
    from dashenv.workflows import lifecycle

    lifecycle.build(state(ctx).environment(env), services or [], no_cache)
    typer.echo(f"{env}: images built")


def ps(
    ctx: typer.Context,
    env: OptionalEnvArg = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Every environment.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the containers of ENV, or of every environment."""
    from dataclasses import asdict

    from dashenv import render
    from dashenv.steps.ownership import foreign_dir
    from dashenv.workflows import lifecycle

    st = state(ctx)
    names = [env] if env and not all_ else st.environment_names()
    groups = lifecycle.ps(st, names)
    root = st.project().root.resolve()
    others = {n: o for n, cs in groups.items() if (o := foreign_dir(cs, root))}
    if json:
        render.print_json(
            {
                "environments": {n: [asdict(c) for c in cs] for n, cs in groups.items()},
                "other_checkouts": others,
            }
        )
    else:
        render.ps(groups, others)


def logs(
    ctx: typer.Context,
    env: EnvArg,
    services: Services = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming.")] = False,
    tail: Annotated[
        str | None, typer.Option("--tail", help="Lines from the end of each log.", metavar="N")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Since a time or duration (10m, 2026-01-02).", metavar="TIME"),
    ] = None,
) -> None:
    """Show ENV's logs with service prefixes; Ctrl-C ends --follow cleanly."""
    from dashenv.workflows import lifecycle

    if tail is not None and not (tail.isdigit() or tail == "all"):
        raise typer.BadParameter("a number of lines, or all", param_hint="--tail")
    passthrough_exit(
        lifecycle.logs(
            state(ctx).environment(env, lenient=True), services or [], follow, tail, since
        )
    )


def exec_(
    ctx: typer.Context,
    env: EnvArg,
    service: ServiceArg,
    command: Annotated[list[str] | None, typer.Argument(help="Command, after --.")] = None,
) -> None:
    """Run a command in a running service: dashenv exec dev app -- python -V.

    The command's exit code is dashenv's.
    """
    from dashenv.workflows import lifecycle

    cmd = (command or []) + list(ctx.args)
    if not cmd:
        raise typer.BadParameter("give the command after --", param_hint="COMMAND")
    passthrough_exit(
        lifecycle.exec_in(state(ctx).environment(env), service, cmd, tty=sys.stdin.isatty())
    )


def shell(
    ctx: typer.Context,
    env: EnvArg,
    service: Annotated[str, typer.Argument(help="Service (default: app).")] = "app",
) -> None:
    """Open a shell in a running service of ENV."""
    from dashenv.workflows import lifecycle

    passthrough_exit(
        lifecycle.exec_in(state(ctx).environment(env), service, ["sh"], tty=sys.stdin.isatty())
    )


def psql(ctx: typer.Context, env: EnvArg) -> None:
    """Open psql on ENV's database as its owner; extra arguments go to psql."""
    from dashenv.workflows import access, lifecycle

    st = state(ctx)
    service, cmd = access.psql_command(st.environment(env), list(ctx.args))
    passthrough_exit(lifecycle.exec_in(st.environment(env), service, cmd, tty=sys.stdin.isatty()))


def redis_cli(ctx: typer.Context, env: EnvArg) -> None:
    """Open redis-cli on ENV's Redis index; extra arguments go to redis-cli."""
    from dashenv.workflows import access, lifecycle

    st = state(ctx)
    service, cmd = access.redis_cli_command(st.environment(env), list(ctx.args))
    passthrough_exit(lifecycle.exec_in(st.environment(env), service, cmd, tty=sys.stdin.isatty()))


def run(
    ctx: typer.Context,
    env: EnvArg,
    command: Annotated[list[str] | None, typer.Argument(help="Command, after --.")] = None,
) -> None:
    """Run a command on the host with ENV's connection settings: dashenv run test -- pytest.

    It runs in the app's directory (host_dir), with the env file's values and the database
    and Redis settings as the host reaches them (published ports), under the names the app
    reads. The command's exit code is dashenv's.
    """
    from dashenv.steps.tripwire import watching
    from dashenv.workflows import access

    cmd = (command or []) + list(ctx.args)
    if not cmd:
        raise typer.BadParameter("give the command after --", param_hint="COMMAND")
    st = state(ctx)
    with watching(st.environment(env), f"'dashenv run {env}'"):
        code = access.run_on_host(st.environment(env), cmd)
    passthrough_exit(code)


class EnvGroup(DashenvGroup):
    """``dashenv env ENV`` is ``dashenv env show ENV``: a word that is no subcommand is the
    environment to show."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and args[0] not in self.list_commands(ctx):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


def env_check(
    ctx: typer.Context,
    env: OptionalEnvArg = None,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Add the missing keys from the example, secrets generated."),
    ] = False,
) -> None:
    """Check env files against their examples, both ways, without the engine.

    Each key of the example the env file lacks, and each key of the env file the example
    lacks, is named; exit 1 when there is any (a pre-commit hook: .pre-commit-hooks.yaml).
    --fix adds the missing ones from the example, generating secrets as init does; keys the
    example lacks are never removed (add them to the example, or remove them yourself).
    """
    from dashenv.steps.envfiles import check_env_file

    st = state(ctx)
    names = [env] if env else st.environment_names()
    checks = [check_env_file(st.environment(n).bare, fix=fix) for n in names]
    if env and checks[0].state == "no-example":
        from dashenv.errors import ConfigError

        raise ConfigError(
            f"{env} has no example to check {checks[0].env_file} against: "
            f"{checks[0].example_file} does not exist",
            hint="commit an example env file, or set env_example in dashenv.toml",
        )
    for c in checks:
        for line in _check_lines(c):
            typer.echo(line)
    if any(c.failed for c in checks):
        raise typer.Exit(1)


def _check_lines(c: Any) -> list[str]:
    pair = f"{c.env_file} against {c.example_file}"
    if c.state == "derived":
        return [f"{c.environment}: derived; its env file is generated on every run"]
    if c.state == "no-example":
        return [f"{c.environment}: {c.example_file} does not exist; nothing to check against"]
    lines = []
    if c.state == "missing":
        lines.append(
            f"{c.environment}: {c.env_file} does not exist yet (made from {c.example_file} "
            "on first use; 'dashenv env check --fix' makes it now)"
        )
    elif c.state == "fixed":
        made = f" (generated {', '.join(c.generated)})" if c.generated else ""
        lines.append(f"{c.environment}: added {', '.join(c.added)} to {c.env_file}{made}")
    else:
        lines += [f"{c.environment}: missing {k} ({pair})" for k in c.missing]
    lines += [f"{c.environment}: unknown {k} (in {c.env_file}, not in {c.example_file})"
              for k in c.unknown]  # fmt: skip
    return lines or [f"{c.environment}: {pair}: ok"]


def env_(
    ctx: typer.Context,
    env: EnvArg,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Print secrets as they are (for eval).")
    ] = False,
) -> None:
    """Print ENV's settings for the host as export lines: eval "$(dashenv env test --reveal)".

    The same values 'dashenv run' and 'test run' on the host give the command; secrets are
    masked unless --reveal.
    """
    from dashenv.workflows import access

    for line in access.export_lines(state(ctx).environment(env), reveal=reveal):
        typer.echo(line)


def url(
    ctx: typer.Context,
    env: EnvArg,
    service: Annotated[
        str | None,
        typer.Argument(
            help="A service or a role (app, callback, postgres, redis); default: the app.",
            metavar="SERVICE",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Print the PostgreSQL password as it is.")
    ] = False,
) -> None:
    """Print ENV's app URL, or a service's: PostgreSQL's and Redis's for the host.

    PostgreSQL's and Redis's are connection URLs for tools on the host. The password in
    PostgreSQL's URL is masked unless --reveal. --json prints every role's
    URL (or SERVICE's alone), null where the environment publishes none.
    """
    from dashenv import render
    from dashenv.settings.secrets import mask_url
    from dashenv.workflows import access

    found = access.urls(state(ctx).environment(env), service if service or as_json else "app")
    shown = {k: (v if reveal or v is None else mask_url(v)) for k, v in found.items()}
    if as_json:
        render.print_json({"environment": env, "urls": shown})
        return
    (value,) = shown.values()
    typer.echo(value)


def open_(ctx: typer.Context, env: EnvArg) -> None:
    """Open ENV's app in a web browser (BROWSER says which).

    Exit 1 where the environment has no app URL or no browser can be started; the URL is
    printed either way.
    """
    import webbrowser

    from dashenv.errors import OperationFailed
    from dashenv.workflows import access

    (address,) = access.urls(state(ctx).environment(env), "app").values()
    assert address is not None
    typer.echo(address)
    if not webbrowser.open(address):
        raise OperationFailed(
            f"no web browser could be started for {address}",
            hint="open the URL yourself, or set BROWSER to the browser's command",
        )
