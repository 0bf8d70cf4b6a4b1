"""Status, doctor and certificates."""

from collections.abc import Iterator
from typing import Annotated

import typer

from dashenv.cli.params import OptionalEnvArg
from dashenv.cli.state import state
from dashenv.context import RunContext
from dashenv.errors import Unhealthy


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("doctor")(doctor)
    app.command("certs")(certs)


def status(
    ctx: typer.Context,
    env: OptionalEnvArg = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Every environment.")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON document (schema_version 1).")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl-C.")
    ] = False,
) -> None:
    """Containers, PostgreSQL, Redis and the app's /health, per environment.

    Exit 0 when everything asked about is healthy, 1 otherwise, 4 when the Docker engine
    cannot be reached (--json still prints its document). With --all (or no ENV),
    environments that are simply not running are shown but do not count.
    """
    from dashenv import render
    from dashenv.workflows.status import status as collect

    st = state(ctx)
    names = [env] if env and not all_ else st.environment_names()
    explicit = env is not None and not all_
    if watch:
        _watch(st, names, explicit)
        return
    doc, engine_error = collect(st, names, explicit=explicit)
    if json:
        render.print_json(doc)
    elif engine_error is None:
        render.status(doc)
    if engine_error is not None:
        raise engine_error
    if not doc["healthy"]:
        raise Unhealthy()


def _watch(st: RunContext, names: list[str], explicit: bool) -> None:
    """Refresh every 2 s until Ctrl-C: in place on a terminal; elsewhere (a pipe, a log)
    each refresh is printed after the last, under a line with its time."""
    import time

    from rich.console import Group
    from rich.live import Live

    from dashenv import render
    from dashenv.workflows.status import status as collect

    console = render.console()

    def refreshes() -> Iterator[Group]:
        while True:
            doc, _engine_error = collect(st, names, explicit=explicit)  # shown in the doc
            if not console.is_terminal:
                console.print(f"--- {doc['generated_at']}")
            yield Group(*render.status_renderables(doc))
            time.sleep(2)  # the refresh interval

    try:
        if not console.is_terminal:
            for group in refreshes():
                console.print(group)
                console.file.flush()
        with Live(console=console, auto_refresh=False, screen=False) as live:
            for group in refreshes():
                live.update(group, refresh=True)
    except KeyboardInterrupt:
        return


def doctor(
    ctx: typer.Context,
    env: OptionalEnvArg = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the machine and the environments, each check pass, warn or fail with a fix.

    Docker client, engine and Compose v2; compose files; env files; certificates; host
    ports; container names; databases; the test database clean and stamped. Exit 1 when
    any check fails.
    """
    from dashenv import render
    from dashenv.workflows.doctor import doctor as run_checks

    st = state(ctx)
    names = [env] if env else st.environment_names()
    checks = run_checks(st, names)
    if json:
        render.print_json({"checks": [c.as_dict() for c in checks]})
    else:
        render.doctor(checks)
    if any(c.level == "fail" for c in checks):
        raise Unhealthy()


def certs(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    days: Annotated[
        int, typer.Option("--days", min=1, max=3650, help="Validity in days.", metavar="DAYS")
    ] = 825,
) -> None:
    """Make a self-signed certificate and key for localhost and the configured host names.

    Written to certs/ (host_names in dashenv.toml add names); the key is mode 0600.
    Existing files are kept unless --force.
    """
    from dashenv.steps.certs import ensure_certs

    st = state(ctx)
    options = st.project().options
    result = ensure_certs(st.certs_dir(), list(options.host_names), days, force)
    shown = options.certs_dir
    verb = "Created" if result.created else "Kept existing"
    typer.echo(f"{verb} {shown}/{result.cert.name} and {shown}/{result.key.name}")
    typer.echo(f"Valid until {result.not_after:%Y-%m-%d} for {', '.join(result.names)}")
