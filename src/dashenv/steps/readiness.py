"""Asking the services whose role dashenv knows whether they answer, where their compose
files give them no healthcheck (``plan.readiness`` decides what the answers mean).

PostgreSQL: libpq's ping over the published port (``pg_isready``'s question), else
``pg_isready`` in its container over TCP (the official image's first start listens on its
socket only, so a socket answer would come too early). Redis: ``PING`` over the published
port, else ``redis-cli ping`` in its container. The app: its health URL answers HTTP (any
status below 500: a 404 is a server that listens), where it publishes an HTTP port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dashenv.errors import DashenvError

if TYPE_CHECKING:
    from dashenv.context import Environment

PROBE_TIMEOUT = 1.0  # seconds one probe may take; the wait polls again after it


def probes(t: Environment, expected: list[str]) -> dict[str, Callable[[], bool]]:
    """The probe of each expected service whose role dashenv knows."""
    s = t.settings
    found: dict[str, Callable[[], bool]] = {}
    if s.postgres_service in expected:
        found[s.postgres_service] = lambda: _postgres(t)
    if s.redis_service in expected:
        found[s.redis_service] = lambda: _redis(t)
    if s.app_service in expected and s.app_http and s.app_port is not None:
        from dashenv.plan.compose import endpoints

        url = endpoints(s).app
        if url is not None:
            health = url + s.health_path
            found[s.app_service] = lambda: _http(health)
    return found


def _postgres(t: Environment) -> bool:
    from dashenv.adapters.postgres import Postgres

    s = t.settings
    if s.postgres_port is not None:
        db = t.env.app.database()
        user = (db.user if db else None) or "postgres"
        return Postgres(s.host, s.postgres_port, user, None, timeout=PROBE_TIMEOUT).answers()
    return _inside(t, s.postgres_service, ["pg_isready", "-q", "-h", "127.0.0.1"])


def _redis(t: Environment) -> bool:
    from dashenv.adapters.redis import Redis

    s = t.settings
    if s.redis_port is not None:
        return Redis(s.host, s.redis_port, 0, timeout=PROBE_TIMEOUT).answers()
    return _inside(t, s.redis_service, ["redis-cli", "ping"])


def _inside(t: Environment, service: str, command: list[str]) -> bool:
    try:
        done = t.docker.exec_quick(service, command)
    except DashenvError:
        return False
    return done is not None and done[0] == 0


def _http(url: str) -> bool:
    from dashenv.adapters.http import get_health

    answer = get_health(url, timeout=PROBE_TIMEOUT)
    return answer.reachable and answer.status is not None and answer.status < 500
