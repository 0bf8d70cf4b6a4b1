"""Every expected failure dashenv knows, each with its exit code and a hint.

This module is the one place exit codes are defined. The CLI root catches
`DashenvError`, prints ``Error: <message>`` and the hint on stderr, and exits
with the error's code; nothing else calls ``sys.exit`` with a number.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation failed, or something is unhealthy
    USAGE = 2  # usage or configuration error
    REFUSED = 3  # refused by a safety guard
    UNREACHABLE = 4  # Docker engine or a service unreachable
    TIMEOUT = 5  # timed out waiting for health
    INTERRUPTED = 130  # Ctrl-C


class DashenvError(Exception):
    """Base of every expected failure. Carries a one-line message and a hint."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # extra lines shown after the message (for example one line per invalid field)
        self.details = details


class OperationFailed(DashenvError):
    exit_code = ExitCode.FAILED


class ConfigError(DashenvError):
    exit_code = ExitCode.USAGE


class GuardRefused(DashenvError):
    exit_code = ExitCode.REFUSED


class Unreachable(DashenvError):
    exit_code = ExitCode.UNREACHABLE


class HealthTimeout(DashenvError):
    exit_code = ExitCode.TIMEOUT


class PassThrough(DashenvError):
    """A subprocess (exec, test run) failed: its own exit code passes through, silently."""

    def __init__(self, code: int):
        super().__init__(f"command exited with {code}")
        self.code = code


class Unhealthy(DashenvError):
    """What was asked about is unhealthy (status, doctor): the report says why, so the
    exit (1) is silent."""

    exit_code = ExitCode.FAILED

    def __init__(self) -> None:
        super().__init__("unhealthy")
