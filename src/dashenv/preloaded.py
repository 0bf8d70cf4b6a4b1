"""The preload server's program: ``python -m dashenv.preloaded PATH``, started by the preload
client. It hands ``dashenv.preload.server`` the command code its workers run (the CLI's
``main``) and what to import before the first call, so the preload machinery itself sits
below the CLI and imports nothing of it."""

from __future__ import annotations

import sys
from pathlib import Path

# what a server imports before it takes its first call
PRELOAD = (
    "dashenv.cli",
    "dashenv.cli.db",
    "dashenv.cli.lifecycle",
    "dashenv.cli.status",
    "dashenv.cli.testing",
    "dashenv.render",
    "dashenv.context",
    "dashenv.settings.sources",
    "dashenv.observe.compose",
    "dashenv.observe.instance",
    "dashenv.workflows.reset",
    "dashenv.workflows.status",
    "dashenv.workflows.lifecycle",
    "dashenv.workflows.testing",
    "dashenv.workflows.snapshots",
    "dashenv.steps.targets",
    "dashenv.steps.leases",
    "dashenv.steps.resetting",
    "dashenv.adapters.postgres",
    "dashenv.adapters.redis",
    "dashenv.adapters.docker",
    "dashenv.adapters.engine",
    "docker",  # the Engine API's client: with it imported, the workers observe through it
    "dashenv.adapters.registry",
    "psycopg",
    "redis",
    "pydantic_settings",
    "filelock",
)


def main(args: list[str]) -> int:
    from dashenv.cli import main as run
    from dashenv.preload.server import serve

    if len(args) != 1:
        print("usage: python -m dashenv.preloaded SOCKET", file=sys.stderr)
        return 2
    serve(Path(args[0]), run, PRELOAD)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
