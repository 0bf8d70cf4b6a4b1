"""Shared command parameters, with shell completion from the project's configuration."""

import sys
from typing import Annotated, Any

import typer


class TerminalAsker:
    """Questions on the user's terminal (``dashenv.guards.Asker``)."""

    def confirm(self, question: str) -> bool:
        return bool(typer.confirm(question, default=False))

    def prompt(self, question: str) -> str:
        return str(typer.prompt(question))


def asker() -> TerminalAsker | None:
    """The user's terminal to ask on; None without one (a destructive command refuses)."""
    return TerminalAsker() if sys.stdin.isatty() else None


def passthrough_exit(code: int) -> None:
    """A child's non-zero exit code is dashenv's, silently."""
    from dashenv.errors import PassThrough

    if code != 0:
        raise PassThrough(code)


def _project(ctx: Any) -> Any:
    from pathlib import Path

    from dashenv.settings.project import find_project_dir, load_project

    root = ctx.find_root().params.get("project_dir") if ctx is not None else None
    return load_project(Path(root) if root else find_project_dir(Path.cwd()))


def complete_environment(ctx: typer.Context, incomplete: str) -> list[str]:
    """Environment names from the built-ins and dashenv.toml."""
    try:
        names = _project(ctx).environment_names()
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_service(ctx: typer.Context, incomplete: str) -> list[str]:
    """The environment's services, as its settings name them."""
    from dashenv.observe.compose import with_compose_files
    from dashenv.settings.sources import resolve_environment

    try:
        env = with_compose_files(
            resolve_environment(_project(ctx), ctx.params["env"], read_env=False)
        )
    except Exception:
        return []
    s = env.settings
    names = [s.app_service, s.callback_service, s.postgres_service, s.redis_service]
    if env.files is not None:
        names = list(env.files.services)
    return [n for n in names if n.startswith(incomplete)]


EnvArg = Annotated[
    str,
    typer.Argument(
        help="Environment name (dev, test, ci, or declared).",
        metavar="ENV",
        autocompletion=complete_environment,
        show_default=False,
    ),
]
OptionalEnvArg = Annotated[
    str | None,
    typer.Argument(
        help="Environment (default: all).", metavar="ENV", autocompletion=complete_environment
    ),
]
Services = Annotated[
    list[str] | None,
    typer.Argument(
        help="Services (default: all).",
        metavar="SERVICE",
        autocompletion=complete_service,
        show_default=False,
    ),
]
ServiceArg = Annotated[
    str,
    typer.Argument(help="Service to run in.", metavar="SERVICE", autocompletion=complete_service),
]
TestEnv = Annotated[
    str,
    typer.Option(
        "--env",
        "-e",
        help="The test environment.",
        autocompletion=complete_environment,
        metavar="ENV",
    ),
]
CiEnv = Annotated[
    str,
    typer.Option("--env", "-e", help="The CI environment.", autocompletion=None, metavar="ENV"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of tables.")]
