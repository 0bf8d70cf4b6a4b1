"""What the client and the server agree on: the socket's name (keyed by everything the
server's preloaded code depends on) and the one-line JSON messages the server sends back."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

IDLE_SECONDS = 900
CHECK_SECONDS = 5.0


def package_dir() -> Path:
    """dashenv's own source directory (the package this one lives in)."""
    return Path(__file__).resolve().parent.parent


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
    """Where this user's sockets live: under ``$XDG_RUNTIME_DIR`` (the per-user runtime
    directory a session manager makes), else under the user's own cache directory, never a
    shared name in ``/tmp`` that another user could create first."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / f"dashenv-{os.getuid()}"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dashenv"


def directory_problem(directory: Path) -> str | None:
    """Why the socket directory cannot be trusted, or None: it must be a real directory
    (``lstat``: not a symlink), owned by this user, with nothing for group or others. A
    directory that does not exist yet is no problem (the server makes it, 0700)."""
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{directory} cannot be read ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return f"{directory} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{directory} is not a directory"
    if st.st_uid != os.getuid():
        return f"{directory} belongs to uid {st.st_uid}, not to this user ({os.getuid()})"
    if st.st_mode & 0o077:
        return (
            f"{directory} has mode {stat.S_IMODE(st.st_mode):04o}: others can reach it (0700 only)"
        )
    return None


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def unsupported() -> str | None:
    """Why preloading cannot run on this platform, or None: it needs ``os.pidfd_open`` (and a
    kernel that has it, Linux 5.3 or later), ``SO_PEERCRED`` and ``socket.send_fds``."""
    missing = [
        name
        for name, present in (
            ("os.pidfd_open", hasattr(os, "pidfd_open")),
            ("socket.SO_PEERCRED", hasattr(socket, "SO_PEERCRED")),
            ("socket.send_fds", hasattr(socket, "send_fds")),
        )
        if not present
    ]
    if missing:
        return f"this platform lacks {', '.join(missing)} (preloading needs Linux)"
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError as exc:
        return f"the kernel lacks pidfd_open ({exc.strerror}): preloading needs Linux 5.3 or later"
    return None


def server_record(path: Path) -> dict[str, int] | None:
    """The running server's pid and calls taken, from its record; None without a server."""
    try:
        record = json.loads(path.with_suffix(".json").read_text())
        pid, served = int(record["pid"]), int(record["served"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"pid": pid, "served": served} if path.exists() else None


def socket_path() -> Path:
    # sys.path[0] is the script's directory, or the working directory under ``python -m``
    return (
        socket_dir()
        / f"preload-{key(os.path.realpath(sys.executable), sys.path[1:], package_dir())}.sock"
    )


def stop_servers() -> int:
    """Stop this user's servers: each sees its socket gone and leaves. How many were
    listening."""
    stopped = 0
    for sock in socket_dir().glob("preload-*.sock"):
        stopped += server_record(sock) is not None
        sock.unlink(missing_ok=True)
        sock.with_suffix(".json").unlink(missing_ok=True)
    return stopped


def read_message(sock: socket.socket) -> dict[str, int]:
    """One message of the server: a JSON object of integers on one line."""
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


def send_message(sock: socket.socket, message: dict[str, int]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")
