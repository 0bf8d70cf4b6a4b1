"""preload status | stop: whether preloading is on, can run here, and where its socket is;
stopping this user's servers."""

import typer

from dashenv.cli.params import JsonOpt


def register(app: typer.Typer) -> None:
    from dashenv.cli import new_app

    preload_app = new_app(
        "preload", help="Preloading (DASHENV_PRELOAD): whether it is on, its socket, its server."
    )
    app.add_typer(preload_app)
    preload_app.command("status")(status)
    preload_app.command("stop")(stop)


def stop() -> None:
    """Stop this user's preload servers (each leaves once its socket is gone; a command
    running in one finishes first). The next command starts a new one unless preloading is
    off: DASHENV_PRELOAD=0 turns it off.

    Example: dashenv preload stop
    """
    from dashenv.preload.protocol import stop_servers

    stopped = stop_servers()
    typer.echo(f"Stopped {stopped} preload server{'s' if stopped != 1 else ''}")


def status(as_json: JsonOpt = False) -> None:
    """Show whether preloading is on and can run here, the socket this user's client would
    use (and whether its directory is private), and the server listening there.

    Preloading is on by default, off under CI (CI=true) and with DASHENV_PRELOAD=0.
    It needs Linux 5.3 or later (pidfd_open, SO_PEERCRED, passing file descriptors);
    elsewhere DASHENV_PRELOAD does nothing and this says why.
    """
    import os

    from dashenv import render
    from dashenv.preload.protocol import directory_problem, server_record, socket_path, unsupported
    from dashenv.preload.switch import ENV_SWITCH, preload_enabled, why

    path = socket_path()
    problem, server = directory_problem(path.parent), server_record(path)
    doc = {
        "enabled": preload_enabled(os.environ),
        "because": why(os.environ),
        "unsupported": unsupported(),
        "socket": str(path),
        "directory_problem": problem,
        "server": server,
    }
    if as_json:
        render.print_json(doc)
        return
    switch = (
        f"on ({doc['because']}; {ENV_SWITCH}=0 turns it off)"
        if doc["enabled"]
        else f"off ({doc['because']}; {ENV_SWITCH}=1 turns it on)"
    )
    typer.echo(f"preload:   {switch}")
    typer.echo(f"platform:  {'supported' if doc['unsupported'] is None else doc['unsupported']}")
    typer.echo(f"socket:    {path}")
    typer.echo(f"directory: {'private to this user' if problem is None else problem}")
    typer.echo(
        "server:    none"
        if server is None
        else f"server:    listening (pid {server['pid']}, served {server['served']})"
    )
