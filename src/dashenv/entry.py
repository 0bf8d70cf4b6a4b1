"""The ``dashenv`` program: a preloaded server runs the command when there is one
(``DASHENV_PRELOAD=1``, see ``dashenv.preload``), else this process does."""

import sys


def main() -> None:
    from dashenv.preload import client

    code = client(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from dashenv.cli import main as run

    run()
