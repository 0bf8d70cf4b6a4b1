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
(``ELIGIBLE``); everything else, and every command while the server is starting, runs as usual.

This module imports only the standard library at its top: the client is on every command's path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

from dashenv.entry import ENV_SWITCH, preload_enabled

IDLE_SECONDS = 900
CHECK_SECONDS = 5.0
# command words -> whether it may still prompt on a terminal (then only with --yes/--dry-run)
ELIGIBLE: dict[tuple[str, ...], bool] = {
    ("status",): False,
    ("ps",): False,
    ("envs",): False,
    ("doctor",): False,
    ("up",): False,
    ("test", "setup"): False,
    ("db", "reset"): True,
    ("db", "snapshot"): True,  # --delete asks on a protected environment
    ("db", "restore"): True,  # asks on a protected environment
}
# root options that take a value (their value is not a command word)
_ROOT_VALUE_OPTIONS = {"-C", "--project-dir", "--set", "--context", "--instance"}
PRELOAD = (
    "dashenv.cli",
    "dashenv.cli.db",
    "dashenv.cli.lifecycle",
    "dashenv.cli.status",
    "dashenv.cli.testing",
    "dashenv.render",
    "dashenv.context",
    "dashenv.settings.sources",
    "dashenv.settings.files_layer",
    "dashenv.settings.instance_layer",
    "dashenv.workflows.reset",
    "dashenv.workflows.status",
    "dashenv.workflows.lifecycle",
    "dashenv.workflows.testing",
    "dashenv.workflows.targets",
    "dashenv.workflows.instances",
    "dashenv.adapters.postgres",
    "dashenv.adapters.redis",
    "dashenv.adapters.docker",
    "dashenv.adapters.registry",
    "psycopg",
    "redis",
    "pydantic_settings",
    "filelock",
)


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
            skip = not words and arg in _ROOT_VALUE_OPTIONS
            continue
        words.append(arg)
    return tuple(words)


def eligible(argv: Sequence[str], stdin_is_terminal: bool) -> bool:
    """Whether the command may run in a preloaded worker: one of ``ELIGIBLE``, and never one
    that could ask a question on the terminal (a forked worker is not in the terminal's
    foreground process group and could not read it)."""
    if any(a in ("--help", "-h", "--version", "--install-completion") for a in argv):
        return False
    words = command_words(argv)
    for command, may_prompt in ELIGIBLE.items():
        if words[: len(command)] == command:
            if may_prompt and stdin_is_terminal:
                return any(a in ("--yes", "-y", "--dry-run") for a in argv)
            return True
    return False


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def key(executable: str, path: Sequence[str], package: Path) -> str:
    """What the server's preloaded code depends on: the interpreter, every directory on the
    import path (a directory's mtime moves when a package is installed or removed in it) and
    dashenv's own source files (an edited checkout)."""
    h = hashlib.sha256(executable.encode())
    for entry in path:
        try:
            h.update(f"{entry}:{os.stat(entry or '.').st_mtime_ns}".encode())
        except OSError:
            h.update(entry.encode())
    stack = [str(package)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False) and e.name != "__pycache__":
                    stack.append(e.path)
                elif e.name.endswith(".py"):
                    h.update(f"{e.path}:{e.stat().st_mtime_ns}:{e.stat().st_size}".encode())
    return h.hexdigest()[:16]


def socket_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return Path(base) / f"dashenv-{os.getuid()}"


def socket_path() -> Path:
    # sys.path[0] is the script's directory, or the working directory under ``python -m``
    return (
        socket_dir()
        / f"preload-{key(os.path.realpath(sys.executable), sys.path[1:], _package_dir())}.sock"
    )


# --- the client ------------------------------------------------------------------------


def client(argv: Sequence[str]) -> int | None:
    """Run ``argv`` in the preloaded server; None when it is not for the server (or there is
    none yet: one is then started for the next command, and this one runs as usual)."""
    if not preload_enabled(os.environ) or not hasattr(socket, "send_fds"):
        return None
    try:
        stdin_tty = os.isatty(0)
    except OSError:
        stdin_tty = False
    if not eligible(argv, stdin_tty):
        return None
    path = socket_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        _start_server(path)
        return None
    with sock:
        return _hand_over(sock, argv)


def _hand_over(sock: socket.socket, argv: Sequence[str]) -> int | None:
    import signal

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    ignored = [int(s) for s in signals if signal.getsignal(s) == signal.SIG_IGN]
    forwarded = [s for s in signals if int(s) not in ignored]
    request = json.dumps(
        {
            "argv": [sys.argv[0], *argv],
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "ignored": ignored,  # a background job's SIGINT, nohup's SIGHUP: the worker's too
            "umask": _umask(),
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
            worker.append(_read_message(sock)["pid"])
        except (OSError, ValueError, KeyError):
            if pending:  # interrupted before anything ran
                os._exit(128 + pending[0])
            return None  # nothing ran: run it here
        for early in pending:
            forward(early, None)
        try:
            outcome = _read_message(sock)
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


def _read_message(sock: socket.socket) -> dict[str, int]:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ValueError("connection closed")
        buf += chunk
    value = json.loads(buf)
    if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
        raise ValueError("not a message")
    return {str(k): int(v) for k, v in value.items()}


def _start_server(path: Path) -> None:
    import subprocess

    with contextlib.suppress(OSError):  # no server: every command runs as usual
        subprocess.Popen(
            [sys.executable, "-m", "dashenv.preload", "serve", str(path)],
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )


# --- the server ------------------------------------------------------------------------


def serve(path: Path) -> None:
    """Preload, then fork a worker per call until ``IDLE_SECONDS`` pass without one."""
    import importlib
    import signal

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent.stat().st_uid != os.getuid() or path.parent.stat().st_mode & 0o077:
        return  # a directory others can write to: no server
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return  # another server answers here already
    except OSError:
        pass
    finally:
        probe.close()
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    listener.bind(str(scratch))
    os.chmod(scratch, 0o600)
    listener.listen(16)
    served = 0
    _record(path, served)
    os.replace(scratch, path)
    inode = path.stat().st_ino
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    listener.settimeout(CHECK_SECONDS)
    idle = 0.0
    try:
        while idle < IDLE_SECONDS and _still_ours(path, inode):
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                idle += CHECK_SECONDS
                continue
            idle = 0.0
            with conn:
                if not _same_user(conn):
                    continue
                served += 1
                _record(path, served)
                try:
                    child = os.fork()
                except OSError:
                    continue
                if child == 0:  # the handler of this call
                    listener.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    try:
                        _handle(conn)
                    finally:
                        os._exit(0)
    finally:
        if _still_ours(path, inode):  # a newer server's name and record stay its own
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)


def _record(path: Path, served: int) -> None:
    """The server's pid and how many calls it took, for ``python -m dashenv.preload status``."""
    record = path.with_suffix(".json")
    scratch = record.with_name(f".{record.name}.{os.getpid()}")
    with contextlib.suppress(OSError):  # whole or not at all: a reader never sees half of it
        scratch.write_text(json.dumps({"pid": os.getpid(), "served": served}))
        os.replace(scratch, record)


def _still_ours(path: Path, inode: int) -> bool:
    """``stop`` (or a newer server of the same key) took the socket's name: leave."""
    try:
        return path.stat().st_ino == inode
    except OSError:
        return False


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _handle(conn: socket.socket) -> None:
    import select
    import signal

    head, fds, _flags, _addr = socket.recv_fds(conn, 8, 3)
    while len(head) < 8:
        more = conn.recv(8 - len(head))
        if not more:
            return
        head += more
    (length,) = struct.unpack("!Q", head)
    body = b""
    while len(body) < length:
        more = conn.recv(min(65536, length - len(body)))
        if not more:
            return
        body += more
    request = json.loads(body)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _work(request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    watch = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([conn.fileno(), watch], [], [])
        if watch in ready:
            break
        if not conn.recv(1):  # the client is gone (killed): its worker goes with it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        outcome: dict[str, int] = {"signal": os.WTERMSIG(status)}
    else:
        outcome = {"exit": os.waitstatus_to_exitcode(status)}
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(outcome).encode() + b"\n")


def _work(request: dict[str, object], fds: list[int]) -> None:
    """The worker: become the client's process, as far as the command can tell, and run it."""
    import signal

    code = 1
    try:
        os.setpgid(0, 0)  # the client forwards signals to this group, as a terminal would
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        ignored = request.get("ignored", [])
        assert isinstance(ignored, list)
        for signum in ignored:
            signal.signal(int(signum), signal.SIG_IGN)
        os.umask(int(str(request.get("umask", 0o022))))
        env = request["env"]
        argv = request["argv"]
        assert isinstance(env, dict) and isinstance(argv, list)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        os.chdir(str(request["cwd"]))
        sys.argv = [str(a) for a in argv]
        for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=os.isatty(fd))
        from dashenv.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        except KeyboardInterrupt:
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)  # end as an interrupted Python ends
        except BaseException:
            import traceback

            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _main(args: list[str]) -> int:
    """``python -m dashenv.preload serve PATH | status | stop``"""
    if args[:1] == ["serve"] and len(args) == 2:
        serve(Path(args[1]))
        return 0
    if args == ["status"]:  # read from the server's record: a probe would be a call
        path = socket_path()
        try:
            record = json.loads(path.with_suffix(".json").read_text())
            os.kill(int(record["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            record = None
        if record is None or not path.exists():
            print(f"{path} (no server)")
        else:
            print(f"{path} (listening; pid {record['pid']}, served {record['served']})")
        return 0
    if args == ["stop"]:
        for sock in socket_dir().glob("preload-*.sock"):
            sock.unlink(missing_ok=True)  # each server sees its name gone and leaves
            sock.with_suffix(".json").unlink(missing_ok=True)
        return 0
    print("usage: python -m dashenv.preload status | stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
