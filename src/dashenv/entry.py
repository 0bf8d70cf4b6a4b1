"""The ``dashenv`` program: a preloaded server runs the command when there is one
(``DASHENV_PRELOAD=1``, see ``dashenv.preload``), else this process does. Nothing beyond
``os`` and ``sys`` is imported before the switch is read: ``--help`` pays for none of it."""

import os
import sys


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:  # Ctrl-C before the CLI's own handler is in place (importing)
        from dashenv.errors import ExitCode

        sys.stderr.write("Interrupted.\n")
        sys.exit(int(ExitCode.INTERRUPTED))


def _main() -> None:
    from dashenv.preload.switch import preload_enabled

    if preload_enabled(os.environ) and not _local(sys.argv[1:]):
        from dashenv.preload.client import client

        code = client(sys.argv[1:])
        if code is not None:
            # the worker did the work: this process has nothing to tear down (its teardown,
            # about 10 ms of an interpreter's, is skipped)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    from dashenv.cli import main as run

    run()


def _local(argv: list[str]) -> bool:
    """Help, the version and completion end in this process whatever the command: the
    preload client (sockets, JSON) is not imported for them."""
    from dashenv.commands import LOCAL_OPTIONS

    return any(a in LOCAL_OPTIONS for a in argv)
