"""HTTP(S) health endpoints, with the standard library (the certificates are self-signed)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HealthAnswer:
    url: str
    reachable: bool
    status: int | None = None
    body: Any = None
    error: str | None = None


def get_health(url: str, timeout: float = 3) -> HealthAnswer:
    # dashenv's own self-signed development certificate: nothing to verify, so no CA store
    # to load (create_default_context loads the system's: 20 ms here)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as resp:
            return HealthAnswer(url, True, resp.status, _body(resp.read()))
    except urllib.error.HTTPError as exc:
        return HealthAnswer(url, True, exc.code, _body(exc.read()))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return HealthAnswer(url, False, error=str(reason))


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:200]
