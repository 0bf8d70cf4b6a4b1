"""Status, doctor and certificates."""

from typing import Annotated

import typer

from dashenv.cli.params import OptionalEnvArg
from dashenv.cli.state import State, state
from dashenv.errors import PassThrough


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

    Exit 0 when everything asked about is healthy, 1 otherwise. With --all (or no ENV),
    environments that are simply not running are shown but do not count.
    """
    from dashenv import render
    from dashenv.workflows.status import status as collect

    st = state(ctx)
    names = [env] if env and not all_ else st.project().environment_names()
    explicit = env is not None and not all_
    if watch:
        _watch(st, names, explicit)
        return
    doc = collect(st, names, explicit=explicit)
    render.print_json(doc) if json else render.status(doc)
    if not doc["healthy"]:
        raise PassThrough(1)


def _watch(st: State, names: list[str], explicit: bool) -> None:
    import time

    from rich.console import Group
    from rich.live import Live

    from dashenv import render
    from dashenv.workflows.status import status as collect

    console = render.console()
    try:
        with Live(console=console, auto_refresh=False, screen=False) as live:
            while True:
                doc = collect(st, names, explicit=explicit)
                live.update(Group(*render.status_renderables(doc)), refresh=True)
                time.sleep(2)  # the refresh interval
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
    names = [env] if env else st.project().environment_names()
    checks = run_checks(st, names)
    if json:
        render.print_json({"schema_version": 1, "checks": [c.as_dict() for c in checks]})
    else:
        render.doctor(checks)
    if any(c.level == "fail" for c in checks):
        raise PassThrough(1)


def certs(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="Validity in days.")] = 825,
) -> None:
    """Make a self-signed certificate and key for localhost and the configured host names.

    Written to certs/ (host_names in dashenv.toml add names); the key is mode 0600.
    Existing files are kept unless --force.
    """
    from dashenv.workflows.certs import ensure_certs

    project = state(ctx).project()
    directory = project.root / str(project.options.get("certs_dir", "certs"))
    result = ensure_certs(directory, list(project.options.get("host_names", [])), days, force)
    shown = directory.relative_to(project.root)
    verb = "Created" if result.created else "Kept existing"
    typer.echo(f"{verb} {shown}/{result.cert.name} and {shown}/{result.key.name}")
    typer.echo(f"Valid until {result.not_after:%Y-%m-%d} for {', '.join(result.names)}")
