"""Database commands: the guarded reset, Alembic's migrations, and snapshots."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from dashenv.cli.params import EnvArg, JsonOpt, asker, passthrough_exit
from dashenv.cli.state import state

if TYPE_CHECKING:
    from dashenv.plan.reset import Strategy


def register(app: typer.Typer) -> None:
    from dashenv.cli import new_app

    db_app = new_app(
        "db",
        help="The database: guarded reset, Alembic migrations, snapshots; destructive steps "
        "guarded.",
    )
    app.add_typer(db_app)
    db_app.command("reset")(reset)
    db_app.command("migrate")(migrate)
    db_app.command("current")(current)
    db_app.command("history")(history)
    db_app.command("revision")(revision)
    db_app.command("downgrade", context_settings={"ignore_unknown_options": True})(downgrade)
    db_app.command("snapshot")(snapshot)
    db_app.command("snapshots")(snapshots)
    db_app.command("restore")(restore)
    db_app.command("seed")(seed)


def reset(
    ctx: typer.Context,
    env: EnvArg,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every guard's verdict and the plan only.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Take over an unstamped database that has tables.")
    ] = False,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="template (clone, fast) or migrate (re-run).",
            metavar="template|migrate",
        ),
    ] = "template",
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Fail at once if another reset holds the lock.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring ENV's database to a clean state at the latest migration and flush its Redis index.

    Every guard must pass first: role testing/ci and ENVIRONMENT=testing, TESTING=true,
    the database name contains 'test', the target is no protected environment's, the
    database's stamp, the Redis index. A refusal exits 3 and touches nothing.
    """

    from dashenv import render
    from dashenv.guards import Consent, require_consent
    from dashenv.workflows.reset import reset as do_reset

    if strategy not in ("template", "migrate"):
        raise typer.BadParameter("choose template or migrate", param_hint="--strategy")
    st = state(ctx)
    if not dry_run:
        consent = Consent.standard(
            f"reset {env}",
            f"Reset the database of {env}? Its data will be gone.",
            f"dashenv db reset {env} --yes",
            f"kept the database of {env}",
        )
        require_consent(consent, yes=yes, ask=asker())
    err = render.console(stderr=True)
    result = do_reset(
        st.environment(env),
        strategy=cast("Strategy", strategy),
        dry_run=dry_run,
        adopt=adopt,
        wait=not no_wait,
        say=err.print,
    )
    if as_json:
        render.print_json(render.reset_document(result))
        return
    render.reset_result(result)


def migrate(
    ctx: typer.Context,
    env: EnvArg,
    revision: Annotated[
        str | None, typer.Argument(help="The revision to upgrade to (default: head).")
    ] = None,
) -> None:
    """Upgrade ENV's database with Alembic where its app runs (its container, or the host
    with test_runner = "host"), to REVISION.

    Without REVISION it runs the environment's migration_command. The output is streamed;
    its exit code is dashenv's.
    """
    from dashenv.workflows.migrate import run_alembic, run_migrations

    st = state(ctx)
    tty = sys.stdin.isatty()
    if revision is None:
        passthrough_exit(run_migrations(st.environment(env), tty=tty))
    else:
        passthrough_exit(run_alembic(st.environment(env), ["upgrade", revision], tty=tty))


def current(ctx: typer.Context, env: EnvArg) -> None:
    """Show the Alembic revision ENV's database is at (alembic current, in the app)."""
    from dashenv.workflows.migrate import run_alembic

    passthrough_exit(run_alembic(state(ctx).environment(env), ["current"], tty=sys.stdin.isatty()))


def history(ctx: typer.Context, env: EnvArg) -> None:
    """Show the revision history (alembic history, in ENV's app container)."""
    from dashenv.workflows.migrate import run_alembic

    passthrough_exit(
        run_alembic(
            state(ctx).environment(env), ["history", "--indicate-current"], tty=sys.stdin.isatty()
        )
    )


def revision(
    ctx: typer.Context,
    env: EnvArg,
    message: Annotated[
        str, typer.Option("--message", "-m", help="The revision's message.", metavar="MESSAGE")
    ],
    autogenerate: Annotated[
        bool, typer.Option("--autogenerate", help="Compare the models with the database.")
    ] = False,
) -> None:
    """Create a revision file (alembic revision) in the checkout, owned by its owner.

    It runs in ENV's app container, where the migrations directory is mounted, as the user
    owning the checkout, so the file is not root's.
    """
    from dashenv.workflows.migrate import revision as make

    result = make(
        state(ctx).environment(env), message, autogenerate=autogenerate, tty=sys.stdin.isatty()
    )
    for path in result.created:
        typer.echo(f"Created {path}")
    passthrough_exit(result.code)


def downgrade(
    ctx: typer.Context,
    env: EnvArg,
    target: Annotated[
        str, typer.Argument(help="A revision, base, or -N (N steps down).", metavar="REVISION")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Downgrade ENV's database (alembic downgrade), after taking a snapshot of it.

    On a protected environment (dev) you confirm by typing its name; without a terminal it is
    refused (exit 3) unless --yes. The snapshot is named in the output:
    'dashenv db restore ENV NAME' goes back.
    """
    from dashenv import render
    from dashenv.workflows.migrate import downgrade as run

    ask = asker()
    err = render.console(stderr=True)
    result = run(
        state(ctx).environment(env), target, yes=yes, ask=ask, tty=ask is not None, say=err.print
    )
    passthrough_exit(result.code)


def snapshot(
    ctx: typer.Context,
    env: EnvArg,
    name: Annotated[
        str | None, typer.Argument(help="The snapshot's name (default: the time).")
    ] = None,
    delete: Annotated[
        str | None, typer.Option("--delete", help="Delete this snapshot instead.", metavar="NAME")
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", help="Write a pg_dump file instead (outlives the volume).", metavar="FILE"
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Snapshot ENV's database in seconds (a copy on its own server), or delete one.

    New connections are held off the database for the moment of the copy (the app's pool
    reconnects). Snapshots live on the environment's volume: 'down --volumes' removes them;
    --to FILE writes a pg_dump file that outlives it.
    """
    from dashenv import render
    from dashenv.workflows import snapshots as snaps

    st = state(ctx)
    err = render.console(stderr=True)
    if delete is not None:
        gone = snaps.delete(st.environment(env), delete, yes=yes, ask=asker())
        if as_json:
            render.print_json(render.change_document("db snapshot", env, action="deleted",
                                                     name=gone.name))  # fmt: skip
            return
        typer.echo(f"Deleted snapshot {gone.name} of {env}")
        return
    if to is not None:
        path = snaps.dump(st.environment(env), to)
        if as_json:
            render.print_json(render.change_document(
                "db snapshot", env, action="dumped", path=str(path),
                size_bytes=path.stat().st_size,
            ))  # fmt: skip
            return
        typer.echo(f"Wrote {env}'s database to {path} ({path.stat().st_size} bytes, pg_dump -Fc)")
        return
    taken = snaps.take(st.environment(env), name, auto=False, say=err.print)
    if as_json:
        render.print_json(render.change_document(
            "db snapshot", env, action="taken", name=taken.name, size_bytes=taken.size_bytes,
            copied_by=taken.copied_by,
        ))  # fmt: skip
        return
    typer.echo(
        f"Snapshot {taken.name} of {env} taken ({render.size(taken.size_bytes)}, "
        f"copied by {taken.copied_by})"
    )


def snapshots(ctx: typer.Context, env: EnvArg, json: JsonOpt = False) -> None:
    """List ENV's snapshots: name, time, size, Alembic revision, git branch and commit, and
    how copies go on its server (clone, file copy or WAL log) and why."""
    from dashenv import render
    from dashenv.workflows.snapshots import list_snapshots

    found, copying = list_snapshots(state(ctx).environment(env))
    if json:
        render.print_json(
            {
                "environment": env,
                "snapshots": [s.as_dict() for s in found],
                "total_bytes": sum(s.size_bytes for s in found),
                "copy_method": copying,
            }
        )
    else:
        render.snapshots(env, found, copying)


def restore(
    ctx: typer.Context,
    env: EnvArg,
    name: Annotated[str | None, typer.Argument(help="The snapshot to restore.")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="Restore a file 'db snapshot --to' wrote.", metavar="FILE"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait", help="Fail at once when a reset, restore or snapshot of ENV is running."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a snapshot (or a --from file) in place of ENV's database, atomically.

    The current state is kept as an automatic snapshot first. A snapshot of another
    environment is refused (exit 3). On a protected environment it asks; without a terminal
    it is refused unless --yes. Another reset, restore or snapshot of ENV is waited for.
    """
    from dashenv import render
    from dashenv.workflows.snapshots import restore as run

    if (name is None) == (from_file is None):
        raise typer.BadParameter(
            "give a snapshot NAME or --from FILE, one of them", param_hint="NAME"
        )
    err = render.console(stderr=True)
    result = run(
        state(ctx).environment(env), name, from_file=from_file, yes=yes, ask=asker(), say=err.print,
        wait=not no_wait,
    )  # fmt: skip
    if as_json:
        render.print_json(render.change_document(
            "db restore", env, database=result.database,
            restored=name if name is not None else str(from_file), kept_as=result.kept_as,
            copied_by=result.copied_by,
        ))  # fmt: skip
        return
    by = f", copied by {result.copied_by}" if result.copied_by else ""
    typer.echo(
        f"Restored {result.restored} into {env} ({result.database}{by}); the state it "
        f"replaced is snapshot {result.kept_as}"
    )


def seed(
    ctx: typer.Context,
    env: EnvArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Load seed data into ENV's database: its seed_command, where its migrations run.

    The reset runs it too, when it builds its template, so seeded resets stay clone-fast. On
    a protected environment (dev) it asks first (without a terminal it is refused, exit 3,
    unless --yes) and takes a snapshot; it is audited. Its exit code is dashenv's.
    """
    from dashenv import render
    from dashenv.workflows.migrate import seed as run

    ask = asker()
    err = render.console(stderr=True)
    result = run(state(ctx).environment(env), yes=yes, ask=ask, tty=ask is not None, say=err.print)
    passthrough_exit(result.code)
