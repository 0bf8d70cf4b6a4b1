"""Container healthcheck: GET https://localhost:PORT/health must answer 200."""

import ssl
import sys
import urllib.request

port = sys.argv[1] if len(sys.argv) > 1 else "8000"
try:
    with urllib.request.urlopen(
        f"https://localhost:{port}/health", context=ssl._create_unverified_context(), timeout=3
    ) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except Exception:
    sys.exit(1)
