"""The preload server: imports what the inner-loop commands need once, then forks a worker
per call, running the very same command code it is given (``dashenv.cli.main``, handed in by
``dashenv.preloaded``, the server's program), until ``IDLE_SECONDS`` pass without one."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dashenv.commands import WORKER_TERMINAL
from dashenv.preload.protocol import (
    CHECK_SECONDS,
    IDLE_SECONDS,
    directory_problem,
    peer_uid,
    send_message,
    unsupported,
)


def serve(
    path: Path,
    run: Callable[[], None],
    warm: Sequence[str] = (),
    warm_up: Callable[[], None] | None = None,
) -> None:
    """Preload (import ``warm``, then call ``warm_up`` for what is built on first use), then
    fork a worker per call until ``IDLE_SECONDS`` pass without one."""
    import importlib
    import signal

    if unsupported() is not None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory_problem(path.parent) is not None:
        return  # a directory that is not this user's alone: no server
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return  # another server answers here already
    except OSError:
        pass
    finally:
        probe.close()
    for name in warm:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    if warm_up is not None:
        with contextlib.suppress(Exception):
            warm_up()
    import gc

    # everything preloaded stays alive for good: out of the collector's sight, a worker's
    # collections do not walk (and copy, page by page, from the server) all of it
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    listener.bind(str(scratch))
    os.chmod(scratch, 0o600)
    listener.listen(16)
    listener.setblocking(False)  # accepted only when select says a call waits
    # the server waits for its workers itself (an inherited SIG_IGN would reap them unseen)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    served = 0
    _record(path, served)
    os.replace(scratch, path)
    inode = path.stat().st_ino
    calls = _Calls(listener)
    idle = 0.0
    try:
        while idle < IDLE_SECONDS and _still_ours(path, inode):
            if not calls.wait(CHECK_SECONDS):
                idle = 0.0 if calls.running else idle + CHECK_SECONDS
                continue
            idle = 0.0
            for conn in calls.accepted():
                if peer_uid(conn) != os.getuid():
                    conn.close()
                    continue
                served += 1
                _record(path, served)
                calls.start(conn, run)
    finally:
        if _still_ours(path, inode):  # a newer server's name and record stay its own
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)


class _Calls:
    """The calls in progress, watched from the server's one loop: each worker is forked from
    the server itself (one fork per call, not a handler and then its worker), its end seen
    through a pidfd and its outcome sent to its client; a client gone (killed) takes its
    worker with it, and every process the worker started (a docker compose child): its
    whole group."""

    def __init__(self, listener: socket.socket):
        self.listener = listener
        self.by_pidfd: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (client, pid)
        self.by_conn: dict[int, int] = {}  # the client's fd -> its worker's pidfd
        self._ready: list[int] = []

    @property
    def running(self) -> bool:
        return bool(self.by_pidfd)

    def wait(self, timeout: float) -> bool:
        """Wait for a call or the end of one; ends and gone clients are dealt with here.
        True when there is something to accept or something happened."""
        import select

        watched = [self.listener.fileno(), *self.by_pidfd, *self.by_conn]
        ready, _, _ = select.select(watched, [], [], timeout)
        for fd in ready:
            if fd in self.by_pidfd:
                self._ended(fd)
        for fd in ready:
            if fd in self.by_conn:
                self._client_readable(fd)
        self._ready = ready
        return bool(ready)

    def accepted(self) -> list[socket.socket]:
        if self.listener.fileno() not in self._ready:
            return []
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return []
        return [conn]

    def start(self, conn: socket.socket, run: Callable[[], None]) -> None:
        """Read the call, fork its worker, tell the client the worker's pid."""
        conn.settimeout(5.0)  # the client sends its call at once; a stuck one is dropped
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            return
        try:
            pid = os.fork()
        except OSError:
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        if pid == 0:  # the worker: none of the server's sockets or other calls are its own
            self.listener.close()
            for pidfd, (other, _) in self.by_pidfd.items():
                other.close()
                os.close(pidfd)
            conn.close()
            _work(request, fds, run)  # never returns
        for fd in fds:
            os.close(fd)
        # its own process group, made here too (the worker makes it as well): it exists
        # before the client hears the pid, so a signal the client forwards at once arrives
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        conn.settimeout(None)
        with contextlib.suppress(OSError):  # gone already: seen as such below
            send_message(conn, {"pid": pid})
        pidfd = os.pidfd_open(pid)
        self.by_pidfd[pidfd] = (conn, pid)
        self.by_conn[conn.fileno()] = pidfd

    def _ended(self, pidfd: int) -> None:
        conn, pid = self._forget(pidfd)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            outcome: dict[str, int] = {"signal": os.WTERMSIG(status)}
        else:
            outcome = {"exit": os.waitstatus_to_exitcode(status)}
        with contextlib.suppress(OSError):
            send_message(conn, outcome)
        conn.close()

    def _client_readable(self, fd: int) -> None:
        import signal

        pidfd = self.by_conn[fd]
        conn, pid = self.by_pidfd[pidfd]
        try:
            gone = not conn.recv(1, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            gone = True
        if not gone:
            return
        self._forget(pidfd)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):  # before the worker made its group
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        conn.close()

    def _forget(self, pidfd: int) -> tuple[socket.socket, int]:
        conn, pid = self.by_pidfd.pop(pidfd)
        self.by_conn.pop(conn.fileno(), None)
        os.close(pidfd)
        return conn, pid


def _receive(conn: socket.socket) -> tuple[dict[str, object], list[int]]:
    """A call: its length, the client's stdin, stdout and stderr, then the call itself."""
    head, fds, _flags, _addr = socket.recv_fds(conn, 8, 3)
    try:
        while len(head) < 8:
            more = conn.recv(8 - len(head))
            if not more:
                raise ValueError("the client left")
            head += more
        (length,) = struct.unpack("!Q", head)
        body = b""
        while len(body) < length:
            more = conn.recv(min(65536, length - len(body)))
            if not more:
                raise ValueError("the client left")
            body += more
        request = json.loads(body)
        if not isinstance(request, dict):
            raise ValueError("not a call")
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


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


def _work(request: dict[str, object], fds: list[int], run: Callable[[], None]) -> None:
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
        os.environ[WORKER_TERMINAL] = "1" if request.get("terminal") else "0"
        os.chdir(str(request["cwd"]))
        sys.argv = [str(a) for a in argv]
        for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=os.isatty(fd))
        try:
            run()
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
