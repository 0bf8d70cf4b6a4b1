"""When a started environment is ready, and when waiting longer cannot help (pure).

A service with a healthcheck is ready when the engine says healthy. Most compose files give
the database none; for those:

- a service whose role dashenv knows (PostgreSQL, Redis, the app with an HTTP port) is
  ready when it *answers*: a real connection, ``PING``, the health URL (the caller probes,
  ``steps.readiness``, and reports who answered);
- any other service is ready once it has been running for ``SETTLE_SECONDS`` without being
  restarted (a container that exits on a missing variable does so within a second; one in a
  restart loop is restarted within the window, or is seen restarting).

A service that exited (a one-shot job excepted, once it exits 0), turned unhealthy, is
restarting, or was restarted while being waited for has failed: waiting longer will not help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dashenv.facts import Container

# how long a service without a healthcheck or a probe must keep running, unrestarted, before
# it counts as started: the official images that exit on a missing variable do so within a
# second; Docker restarts a failing container after 100 ms, then 200 ms, 400 ms...
SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Verdict:
    """Where a wait for readiness stands."""

    done: bool
    failed: dict[str, str]  # service -> why it failed (exited with code 1, restarting, ...)
    pending: list[str]
    plain: list[str] = field(default_factory=list)  # ready, running with no healthcheck


@dataclass
class Readiness:
    """One wait for ``expected``'s services of ``project``; ``probed``: the role services
    that are ready when they answer, where they have no healthcheck."""

    project: str
    expected: list[str]
    one_shot: frozenset[str] = frozenset()
    probed: frozenset[str] = frozenset()
    settle: float = SETTLE_SECONDS
    answered: set[str] = field(default_factory=set)
    # container id -> (when first seen running, its restart count when first seen)
    _seen: dict[str, tuple[float, int]] = field(default_factory=dict)

    def to_probe(self, containers: list[Container]) -> list[str]:
        """The role services to probe now: running, without a healthcheck, not yet answered."""
        mine = self._mine(containers)
        return [
            svc
            for svc in self.expected
            if svc in self.probed
            and svc not in self.answered
            and (c := mine.get(svc)) is not None
            and c.state == "running"
            and c.health is None
        ]

    def step(self, containers: list[Container], now: float) -> Verdict:
        mine = self._mine(containers)
        failed: dict[str, str] = {}
        pending: list[str] = []
        plain: list[str] = []
        for svc in self.expected:
            c = mine.get(svc)
            if c is None:
                pending.append(svc)
                continue
            if svc in self.one_shot and c.state == "exited" and c.exit_code == 0:
                continue
            first, restarts = self._seen.setdefault(c.id, (now, c.restart_count))
            why = _failure(c, restarts)
            if why is not None:
                failed[svc] = why
            elif c.state != "running" or c.health not in (None, "healthy"):
                pending.append(svc)
            elif c.health is None:
                settled = now - first >= self.settle
                if svc in self.answered if svc in self.probed else settled:
                    plain.append(svc)
                else:
                    pending.append(svc)
        return Verdict(not failed and not pending, failed, pending, plain)

    def _mine(self, containers: list[Container]) -> dict[str | None, Container]:
        return {c.service: c for c in containers if c.project == self.project}


def _failure(c: Container, restarts_then: int) -> str | None:
    if c.state == "exited":
        return "exited" if c.exit_code is None else f"exited with code {c.exit_code}"
    if c.state == "dead":
        return "dead"
    if c.state == "restarting":
        return "restarting: it keeps exiting"
    if c.restart_count > restarts_then:
        return f"restarted {c.restart_count - restarts_then} time(s) while starting"
    if c.health == "unhealthy":
        return "unhealthy"
    return None


# what a container says as it exits for want of a variable (the official images, Python's
# os.environ[...], shells' ${VAR:?}, pydantic-settings' "Field required")
_MISSING = [
    re.compile(r"You must specify ([A-Z][A-Z0-9_]+)"),
    re.compile(r"KeyError: '([A-Z][A-Z0-9_]+)'"),
    re.compile(r"\b([A-Z][A-Z0-9_]{2,}): (?:parameter null or not set|unbound variable)"),
    re.compile(
        r"\b([A-Z][A-Z0-9_]{2,})['\"]? (?:is not set|is not specified|must be set|is required|"
        r"is missing|environment variable is (?:not set|required|missing))"
    ),
    re.compile(
        r"(?:variable|environment)\s+['\"]?([A-Z][A-Z0-9_]{2,})['\"]?\s+"
        r"(?:is\s+)?(?:not set|not specified|required|missing)",
        re.IGNORECASE,
    ),
]


def missing_variable(log: str) -> str | None:
    """The variable a failed container's last lines say it lacks, where they say one."""
    for pattern in _MISSING:
        found = pattern.search(log)
        if found:
            return found.group(1)
    return None


def failure_hint(environment: str, service: str, why: str, log: str, env_file: str) -> str:
    """What to do about a service that failed while starting: waiting longer never helps."""
    variable = missing_variable(log)
    if variable is not None:
        return (
            f"{service} needs {variable}: set it in {env_file} (or in the compose file's "
            f"environment:), then 'dashenv up {environment}'; waiting longer will not help"
        )
    if why.startswith(("restart", "exited", "dead")):
        return (
            f"{service} does not stay up: its last lines above say why "
            f"('dashenv logs {environment} {service}' shows more); waiting longer will not help"
        )
    return f"see 'dashenv logs {environment} {service}'"
