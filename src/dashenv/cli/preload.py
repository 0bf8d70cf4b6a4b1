"""preload status: whether preloading is on, can run here, and where its socket is."""

import typer

from dashenv.cli.params import JsonOpt


def register(app: typer.Typer) -> None:
    from dashenv.cli import new_app

    preload_app = new_app(
        "preload", help="Preloading (DASHENV_PRELOAD): whether it is on, its socket, its server."
    )
    app.add_typer(preload_app)
    preload_app.command("status")(status)


def status(as_json: JsonOpt = False) -> None:
    """Show whether preloading is on and can run here, the socket this user's client would
    use (and whether its directory is private), and the server listening there.

    Preloading needs Linux 5.3 or later (pidfd_open, SO_PEERCRED, passing file descriptors);
    elsewhere DASHENV_PRELOAD does nothing and this says why.
    """
    import json
    import os

    from dashenv import SCHEMA_VERSION
    from dashenv.preload.protocol import directory_problem, server_record, socket_path, unsupported
    from dashenv.preload.switch import ENV_SWITCH, preload_enabled

    path = socket_path()
    problem, server = directory_problem(path.parent), server_record(path)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "enabled": preload_enabled(os.environ),
        "unsupported": unsupported(),
        "socket": str(path),
        "directory_problem": problem,
        "server": server,
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    switch = "on" if doc["enabled"] else f"off (set {ENV_SWITCH}=1 to switch it on)"
    typer.echo(f"preload:   {switch}")
    typer.echo(f"platform:  {'supported' if doc['unsupported'] is None else doc['unsupported']}")
    typer.echo(f"socket:    {path}")
    typer.echo(f"directory: {'private to this user' if problem is None else problem}")
    typer.echo(
        "server:    none"
        if server is None
        else f"server:    listening (pid {server['pid']}, served {server['served']})"
    )
