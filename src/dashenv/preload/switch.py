"""Whether preloading is switched on: ``DASHENV_PRELOAD``. Read before anything else is
imported, so ``dashenv --help`` pays for none of the preload machinery."""

from __future__ import annotations

from collections.abc import Mapping

ENV_SWITCH = "DASHENV_PRELOAD"


def preload_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(ENV_SWITCH, "").strip().lower() in ("1", "true", "yes", "on")
