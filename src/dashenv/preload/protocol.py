"""What the client and the server agree on: the socket's name (keyed by everything the
server's preloaded code depends on) and the one-line JSON messages the server sends back."""

from __future__ import annotations

import hashlib
import json
import os
import socket
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
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return Path(base) / f"dashenv-{os.getuid()}"


def socket_path() -> Path:
    # sys.path[0] is the script's directory, or the working directory under ``python -m``
    return (
        socket_dir()
        / f"preload-{key(os.path.realpath(sys.executable), sys.path[1:], package_dir())}.sock"
    )


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
