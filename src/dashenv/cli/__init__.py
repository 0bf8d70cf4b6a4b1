"""The ``dashenv`` command. Kept light: heavy libraries load inside the commands that use them."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dashenv import __version__
from dashenv.cli.state import State
from dashenv.errors import DashenvError, ExitCode, PassThrough

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _print_error(err: DashenvError) -> None:
    stream = sys.stderr
    stream.write(f"Error: {err.message}\n")
    if err.details:
        stream.write(err.details.rstrip("\n") + "\n")
    if err.hint:
        stream.write(f"Hint: {err.hint}\n")


class DashenvGroup(TyperGroup):
    """Turns every expected failure into one line, a hint and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PassThrough as exc:
            raise typer.Exit(exc.code) from None
        except DashenvError as exc:
            _print_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def new_app(name: str | None = None, help: str | None = None) -> typer.Typer:
    return typer.Typer(
        name=name,
        help=help,
        cls=DashenvGroup,
        context_settings=CONTEXT,
        no_args_is_help=True,
        add_completion=name is None,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = new_app()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dashenv {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    project_dir: Annotated[
        str | None,
        typer.Option(
            "--project-dir",
            "-C",
            help="Project directory (default: nearest upward holding dashenv.toml or compose/).",
            metavar="DIR",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a setting for this run, highest layer: --set app_port=8010.",
            metavar="KEY=VALUE",
        ),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", help="Docker context to use (a remote engine, for example)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the underlying commands and their output.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """dashenv: development, test and CI environments for a FastAPI + PostgreSQL + Redis app
    on Docker Compose, side by side and never hurting each other."""
    ctx.obj = State.from_options(project_dir, set_ or [], context, verbose)


def _register() -> None:
    from dashenv.cli import config, lifecycle, status, testing

    lifecycle.register(app)
    testing.register(app)
    status.register(app)
    config.register(app)


_register()


def main() -> None:
    app(prog_name="dashenv")
