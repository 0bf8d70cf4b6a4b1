"""Serve the app (8000) or the callback server (8182) over HTTPS."""

import os
import sys

import uvicorn

from dashtam_app.certs import ensure
from dashtam_app.config import CERT_DIR


def main(which: str) -> None:
    cert, key = ensure(CERT_DIR)
    target, port = {
        "app": ("dashtam_app.main:app", 8000),
        "callback": ("dashtam_app.callback:app", 8182),
    }[which]
    uvicorn.run(
        target,
        host="0.0.0.0",
        port=port,
        ssl_certfile=cert,
        ssl_keyfile=key,
        reload=os.environ.get("RELOAD", "false").lower() == "true",
        reload_dirs=["/srv/dashtam_app"],
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "app")
