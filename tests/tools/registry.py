"""A read-only Docker registry (the distribution API v2, pulls only) serving images this
machine's engine already has, so that an engine can really pull here, where no registry is
reachable: ``python tests/tools/registry.py PORT IMAGE...`` serves each IMAGE (``docker save``
of it) as ``127.0.0.1:PORT/IMAGE``. Engines trust registries on 127.0.0.0/8 over plain HTTP.

Each layer is served gzipped (as Docker Hub serves them), its manifest in the Docker v2
schema 2 format; nothing can be pushed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

BLOBS: dict[str, bytes] = {}
MANIFESTS: dict[tuple[str, str], bytes] = {}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def load(image: str) -> None:
    """``docker save IMAGE`` into blobs and a manifest."""
    saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:

        def read(name: str) -> bytes:
            member = tar.extractfile(name)
            assert member is not None, name
            return member.read()

        (entry,) = json.loads(read("manifest.json"))
        config = read(entry["Config"])
        layers = []
        for path in entry["Layers"]:
            blob = gzip.compress(read(path), compresslevel=1, mtime=0)
            BLOBS[_digest(blob)] = blob
            layers.append({"mediaType": LAYER, "size": len(blob), "digest": _digest(blob)})
    BLOBS[_digest(config)] = config
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "size": len(config), "digest": _digest(config)},
            "layers": layers,
        }
    ).encode()
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    name = name if "/" in name else f"library/{name}"
    MANIFESTS[(name, tag)] = manifest
    MANIFESTS[(name, _digest(manifest))] = manifest


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/v2", "/v2/"):
            return self._send(200, b"{}", "application/json", head)
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if not m:
            return self._send(
                404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', "application/json", head
            )
        name, kind, ref = m.groups()
        if kind == "manifests":
            name = name if "/" in name else f"library/{name}"
            body = MANIFESTS.get((name, ref))
            if body is None:
                return self._error("MANIFEST_UNKNOWN", head)
            return self._send(200, body, MANIFEST, head, digest=_digest(body))
        blob = BLOBS.get(ref)
        if blob is None:
            return self._send(
                404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', "application/json", head
            )
        self._send(200, blob, "application/octet-stream", head, digest=ref)

    def _error(self, code: str, head: bool) -> None:
        body = json.dumps({"errors": [{"code": code}]}).encode()
        self._send(404, body, "application/json", head)

    def _send(self, code: int, body: bytes, kind: str, head: bool, digest: str = "") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if not head:
            chunk = 256 * 1024  # in pieces, so a pull's progress has something to show
            for start in range(0, len(body), chunk):
                self.wfile.write(body[start : start + chunk])


def main() -> None:
    port, images = int(sys.argv[1]), sys.argv[2:]
    for image in images:
        load(image)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"serving {', '.join(images)} on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
