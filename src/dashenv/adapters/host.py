"""The host itself: is a TCP port free to bind, a shell command run on it, a line said on
its stderr."""

from __future__ import annotations

import errno
import socket


def port_in_use(host: str, port: int) -> bool:
    """True when binding ``host:port`` fails because someone holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bind_host = "" if host in ("0.0.0.0", "") else host
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def run_shell(command: str, env: dict[str, str], cwd: str) -> tuple[int, str]:
    """Run a shell command on the host with ``env`` (the whole environment); its exit code and
    combined output."""
    import subprocess

    done = subprocess.run(
        command, shell=True, env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout + done.stderr


def say_on_stderr(message: str) -> None:
    """One line on stderr (progress and notes beside a command whose stdout is its own)."""
    import sys

    sys.stderr.write(message + "\n")
