"""Whether preloading is switched on: ``DASHENV_PRELOAD``. Read before anything else is
imported, so ``dashenv --help`` pays for none of the preload machinery.

On by default, except under CI (``CI`` set true, as GitHub Actions, GitLab and most CI
services set it: a CI job runs each command once, and a server left behind would outlive
the job's steps). ``DASHENV_PRELOAD=0`` (or ``false``, ``no``, ``off``) turns it off,
``DASHENV_PRELOAD=1`` on even under CI. Where it cannot run safely (not Linux, a socket
directory others can reach, a server run by another user) the client says so under ``-v``
and the command runs in its own process."""

from __future__ import annotations

from collections.abc import Mapping

ENV_SWITCH = "DASHENV_PRELOAD"
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def explicit(environ: Mapping[str, str]) -> bool | None:
    """What ``DASHENV_PRELOAD`` says, or None when it says nothing (unset, empty, other)."""
    value = environ.get(ENV_SWITCH, "").strip().lower()
    return True if value in _ON else False if value in _OFF else None


def under_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").strip().lower() in _ON


def preload_enabled(environ: Mapping[str, str]) -> bool:
    said = explicit(environ)
    return said if said is not None else not under_ci(environ)


def why(environ: Mapping[str, str]) -> str:
    """Why it is on or off, in a few words (``dashenv preload status``)."""
    said = explicit(environ)
    if said is not None:
        return f"{ENV_SWITCH}={environ.get(ENV_SWITCH, '').strip()}"
    return "CI is set (off under CI by default)" if under_ci(environ) else "the default"
