"""Preloading: the inner-loop commands without the cost of importing dashenv each time.

A fresh ``dashenv`` process spends most of a ``db reset test`` or a ``status`` importing typer,
pydantic, pydantic-settings, psycopg and redis-py (about 0.4 s of a 0.6 s reset here); the work
itself is a fraction of that. With ``DASHENV_PRELOAD=1`` the first such command starts a server
that has imported all of it and then waits on a socket only its user can reach; every later
one hands its arguments, working directory, environment and standard streams to that server,
which forks a worker to run the very same command code (``dashenv.cli.main``) and reports its
exit status back. Ctrl-C and other signals reach the worker's process group, as from a
terminal; a killed client takes its worker with it. Rails' spring and mypy's dmypy work this
way.

The server is keyed by the interpreter, the installed packages and dashenv's own source files:
after an upgrade or an edit the next command starts a new one, and the old one leaves after
``IDLE_SECONDS`` without a call. Only commands that never prompt on the terminal go through it
(``dashenv.commands.PRELOADED``); everything else, and every command while the server is
starting, runs as usual.

The package: ``switch`` (is it on), ``protocol`` (the socket's name and the messages), ``client``
(on every command's path: the standard library only), ``server`` (the preloading and the
workers; its program, which hands it the CLI, is ``dashenv.preloaded``) and ``__main__``
(``python -m dashenv.preload status | stop``). This file
imports nothing, so the client pays only for what it uses.
"""
