"""The preload client: on every command's path, so it imports the standard library only (and
dashenv's standard-library-only command table). It hands an eligible command to the server, or
answers None so that this process runs it as usual."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

from dashenv.commands import (
    LOCAL_OPTIONS,
    NO_PROMPT_OPTIONS,
    PRELOADED,
    ROOT_VALUE_OPTIONS,
    TERMINAL,
)
from dashenv.preload.protocol import (
    directory_problem,
    peer_uid,
    read_message,
    socket_path,
    unsupported,
)
from dashenv.preload.switch import ENV_SWITCH, preload_enabled

_SOCKET_PATH_MAX = 107  # a Unix socket's name, in bytes (sun_path less its terminator)
# root options that take a value (their value is not a command word)
_VALUE_OPTIONS = frozenset(name for names in ROOT_VALUE_OPTIONS.values() for name in names)


def command_words(argv: Sequence[str]) -> tuple[str, ...]:
    """The command and subcommand words of ``argv`` (without the program), root options
    skipped: ``-C dir --instance b db reset test`` -> ``("db", "reset", "test")``."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--":
            break
        if arg.startswith("-"):
            skip = not words and arg in _VALUE_OPTIONS
            continue
        words.append(arg)
    return tuple(words)


def eligible(argv: Sequence[str], stdin_is_terminal: bool) -> bool:
    """Whether the command may run in a preloaded worker: one of ``PRELOADED``, and never one
    that could ask a question on the terminal (a forked worker is not in the terminal's
    foreground process group and could not read it)."""
    if any(a in LOCAL_OPTIONS for a in argv):
        return False
    words = command_words(argv)
    for command, may_prompt in PRELOADED.items():
        if words[: len(command)] == command:
            if may_prompt and stdin_is_terminal:
                return any(a in NO_PROMPT_OPTIONS for a in argv)
            return True
    return False


def on_terminal(argv: Sequence[str]) -> bool:
    """Whether to tell the worker of ``argv`` that it runs on a terminal: one of ``TERMINAL``
    whose client is in the foreground of a terminal on its standard input and output."""
    words = command_words(argv)
    if not any(words[: len(command)] == command for command in TERMINAL):
        return False
    try:
        return os.isatty(0) and os.isatty(1) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def verbose(argv: Sequence[str]) -> bool:
    """``-v``/``--verbose`` among the root options (before the command word)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-v", "--verbose"):
            return True
        elif arg.startswith("-"):
            skip = arg in _VALUE_OPTIONS
        else:
            return False
    return False


def client(argv: Sequence[str]) -> int | None:
    """Run ``argv`` in the preloaded server; None when it is not for the server (or there is
    none yet: one is then started for the next command, and this one runs as usual).

    The client trusts only its own server: the socket's directory must be this user's alone
    (checked with ``lstat`` before connecting; otherwise no server is started there either),
    and the process answering must run as this user (``SO_PEERCRED``, checked before anything
    is sent). Either check failing, the command runs in this process."""
    if not preload_enabled(os.environ) or unsupported() is not None:
        return None
    try:
        stdin_tty = os.isatty(0)
    except OSError:
        stdin_tty = False
    if not eligible(argv, stdin_tty):
        return None
    path = socket_path()
    problem = directory_problem(path.parent)
    if problem is None and len(os.fsencode(path)) > _SOCKET_PATH_MAX:
        problem = f"{path.parent} is too deep for a socket's name (at most {_SOCKET_PATH_MAX})"
    if problem is not None:
        _note(argv, f"not preloading: {problem}")
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        try:  # a directory that cannot be made (a read-only home): no server, not each time
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            _note(argv, f"not preloading: {path.parent} cannot be made ({exc.strerror})")
            return None
        if directory_problem(path.parent) is None and _start_server(path):
            _tell_once(path.parent)
        return None
    with sock:
        uid = peer_uid(sock)
        if uid != os.getuid():
            _note(argv, f"not preloading: {path} is served by uid {uid}, not by this user")
            return None
        return _hand_over(sock, argv)


def _note(argv: Sequence[str], message: str) -> None:
    """One line on stderr, under -v only: the command goes on in this process."""
    if verbose(argv):
        sys.stderr.write(f"dashenv: {message}; running in this process\n")


def _hand_over(sock: socket.socket, argv: Sequence[str]) -> int | None:
    import signal

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    ignored = [int(s) for s in signals if signal.getsignal(s) == signal.SIG_IGN]
    # and a resized terminal's SIGWINCH, for what the worker runs on it (docker exec -it):
    # the terminal signals its foreground group, this process's, not the worker's
    forwarded = [*(s for s in signals if int(s) not in ignored), signal.SIGWINCH]
    request = json.dumps(
        {
            "argv": [sys.argv[0], *argv],
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "ignored": ignored,  # a background job's SIGINT, nohup's SIGHUP: the worker's too
            "umask": _umask(),
            "terminal": on_terminal(argv),  # the worker is in another session: it is told
        }
    ).encode()
    worker: list[int] = []  # its pid, once the server says it
    pending: list[int] = []  # signals that came before

    def forward(signum: int, _frame: object) -> None:
        if not worker:
            pending.append(signum)
            return
        with contextlib.suppress(OSError):
            os.killpg(worker[0], signum)

    for signum in forwarded:
        signal.signal(signum, forward)
    try:
        try:
            socket.send_fds(sock, [struct.pack("!Q", len(request))], [0, 1, 2])
            sock.sendall(request)
            worker.append(read_message(sock)["pid"])
        except (OSError, ValueError, KeyError):
            stops = [p for p in pending if p != signal.SIGWINCH]
            if stops:  # interrupted before anything ran
                os._exit(128 + stops[0])
            return None  # nothing ran: run it here
        for early in pending:
            forward(early, None)
        try:
            outcome = read_message(sock)
        except (OSError, ValueError):
            outcome = {}
    finally:
        for signum in forwarded:
            signal.signal(signum, signal.SIG_DFL)
    if "signal" in outcome:  # end as the worker ended (a signal this process ignores: 128+N)
        os.kill(os.getpid(), outcome["signal"])
        return 128 + outcome["signal"]
    if "exit" not in outcome:
        print("Error: the preloaded dashenv worker went away", file=sys.stderr)
        print(f"Hint: run it again, or without the server: {ENV_SWITCH}=0", file=sys.stderr)
        return 1
    return outcome["exit"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


TOLD = "told"  # in the socket directory: the first start has been explained


def _tell_once(directory: Path) -> None:
    """The first server this user's default starts says, once, what it is and how to stop
    it or turn it off (one line on stderr); a user who set the switch knows already."""
    from dashenv.preload.switch import explicit

    if explicit(os.environ) is not None:
        return
    marker = directory / TOLD
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return  # told before (or nowhere to remember it: say nothing rather than every time)
    os.close(fd)
    sys.stderr.write(
        "dashenv: started a preload server that keeps dashenv imported, so the next commands "
        f"start faster; 'dashenv preload stop' stops it, {ENV_SWITCH}=0 turns it off\n"
    )


def _start_server(path: Path) -> bool:
    """Start the server for the next command; whether one was started."""
    import subprocess

    try:
        subprocess.Popen(
            [sys.executable, "-m", "dashenv.preloaded", str(path)],
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:  # no server: every command runs as usual
        return False
    return True
