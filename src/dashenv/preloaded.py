"""The preload server's program: ``python -m dashenv.preloaded PATH``, started by the preload
client. It hands ``dashenv.preload.server`` the command code its workers run (the CLI's
``main``) and what to import before the first call, so the preload machinery itself sits
below the CLI and imports nothing of it."""

from __future__ import annotations

import sys
from pathlib import Path

# what a server imports before it takes its first call: every module of dashenv's (bar the
# program modules and the pytest plugin, which imports pytest), and what the commands import
# on first use (typer builds its parameters through pydantic; psycopg's authentication reads
# netrc; a terminal's prompt needs getpass)
SKIP = (
    "dashenv.__main__",
    "dashenv.preloaded",
    "dashenv.pytest_plugin",
    "dashenv.preload.__main__",
)
THIRD_PARTY = (
    "psycopg",
    "redis",
    "pydantic_settings",
    "filelock",
    "docker",  # the Engine API's client: with it imported, the workers observe through it
    "python_on_whales",  # Compose actions
    "typer._adapters",
    "typer._click.decorators",
    "rich.live",
    "rich.ansi",
    "rich._emoji_codes",
    "getpass",
    "netrc",
    "configparser",
)


def preload_list() -> list[str]:
    import pkgutil

    import dashenv

    ours = [
        m.name for m in pkgutil.walk_packages(dashenv.__path__, "dashenv.") if m.name not in SKIP
    ]
    return [*ours, *THIRD_PARTY]


def warm_up() -> None:
    """What the first command would build and every later one reuse: the settings classes
    that read exactly their layers (pydantic builds a class's validators when it is made),
    and the click commands typer makes of the CLI's."""
    from dashenv.settings.app import AppSettings
    from dashenv.settings.layers import layered_class
    from dashenv.settings.model import EnvironmentSettings

    layered_class(EnvironmentSettings)
    layered_class(AppSettings)
    from dashenv.cli import build_all

    build_all()  # the click commands typer makes of dashenv's, once for every worker


def main(args: list[str]) -> int:
    from dashenv.cli import main as run
    from dashenv.preload.server import serve

    if len(args) != 1:
        print("usage: python -m dashenv.preloaded SOCKET", file=sys.stderr)
        return 2
    serve(Path(args[0]), run, preload_list(), warm_up)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
