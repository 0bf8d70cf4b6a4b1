"""The Docker Engine's HTTP API, for observation: which containers run, their state, health,
ports and labels, in one request for the list and one per container for the details, over a
kept connection, through the Docker SDK for Python (``docker``). Compose actions stay with
the CLI (``adapters.docker``); so does every question where the API cannot be reached.

Where the API is used: in a process that has the SDK imported already (a preloaded worker:
the server imports it once), or when ``DASHENV_ENGINE_API=1`` asks for it. A fresh process
asks the CLI, because importing the SDK (requests and urllib3 with it: about 160 ms here)
costs more than the two short ``docker`` processes a listing takes (about 40 ms);
``DASHENV_ENGINE_API=0`` keeps the CLI everywhere.

The engine is the one the CLI would reach: ``--context NAME``, else ``DOCKER_HOST`` (with
``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``), else ``DOCKER_CONTEXT``, else the
``currentContext`` of the CLI's config, else the local socket. A context's endpoint and TLS
files are read from the CLI's context store (``$DOCKER_CONFIG/contexts``; the SDK's own
reader finds none without a ``config.json`` beside it). tcp, TLS and unix endpoints are
reached from Python; ssh ones through the SDK's ssh client (the ``ssh`` program). Anything
else, or an endpoint that does not answer, goes back to the CLI, whose error is the one shown.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SWITCH = "DASHENV_ENGINE_API"
API_VERSION = "1.41"  # Docker 20.10 and later; fixed, so no request asks the engine's
TIMEOUT = 10


@dataclass(frozen=True)
class Endpoint:
    """Where the engine's API is: ``unix://``, ``tcp://`` or ``ssh://``, and its TLS files."""

    host: str
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = False
    source: str = "default"  # what chose it, for messages

    @property
    def tls(self) -> bool:
        return bool(self.cert or self.ca or self.verify)


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to ask the API (see the module's docstring)."""
    said = environ.get(SWITCH, "").strip().lower()
    if said in ("0", "false", "no", "off"):
        return False
    return said in ("1", "true", "yes", "on") or "docker" in sys.modules


def config_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def resolve(context: str | None, environ: Mapping[str, str]) -> Endpoint | None:
    """The endpoint the CLI would reach for ``context`` (None: the CLI's own choice); None
    where it cannot be told (an unknown context: the CLI then says so)."""
    host = environ.get("DOCKER_HOST", "").strip()
    if context is None and not host:
        context = environ.get("DOCKER_CONTEXT", "").strip() or _current_context(environ)
    if context and context != "default":
        return _from_context(context, environ)
    return _from_environment(host, environ) if host else Endpoint("unix:///var/run/docker.sock")


def _from_environment(host: str, environ: Mapping[str, str]) -> Endpoint:
    verify = environ.get("DOCKER_TLS_VERIFY", "").strip() not in ("", "0")
    certs = environ.get("DOCKER_CERT_PATH", "").strip()
    if not certs and verify:
        certs = str(config_dir(environ))
    if certs:
        return Endpoint(
            host,
            ca=str(Path(certs) / "ca.pem"),
            cert=str(Path(certs) / "cert.pem"),
            key=str(Path(certs) / "key.pem"),
            verify=verify,
            source="DOCKER_HOST",
        )
    return Endpoint(host, source="DOCKER_HOST")


def _current_context(environ: Mapping[str, str]) -> str | None:
    try:
        config = json.loads((config_dir(environ) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    name = config.get("currentContext") if isinstance(config, dict) else None
    return str(name) if name else None


def _from_context(name: str, environ: Mapping[str, str]) -> Endpoint | None:
    """A context's docker endpoint, from the CLI's context store: its metadata under
    ``contexts/meta/<sha256 of the name>/meta.json``, its TLS files under ``contexts/tls``."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    store = config_dir(environ) / "contexts"
    try:
        meta = json.loads((store / "meta" / digest / "meta.json").read_text())
        docker = meta["Endpoints"]["docker"]
        host = str(docker["Host"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    tls = store / "tls" / digest / "docker"
    files = {
        f: str(tls / f"{f}.pem") for f in ("ca", "cert", "key") if (tls / f"{f}.pem").is_file()
    }
    return Endpoint(
        host,
        ca=files.get("ca"),
        cert=files.get("cert"),
        key=files.get("key"),
        verify=not bool(docker.get("SkipTLSVerify", False)) and "ca" in files,
        source=f"context {name}",
    )


class EngineAPI:
    """One engine's API, reached through the SDK's low-level client."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            self._client = self._new_client(TIMEOUT)
        return self._client

    def _new_client(self, timeout: float | None) -> Any:
        import docker

        e = self.endpoint
        tls: Any = False
        if e.tls and not e.host.startswith(("unix://", "ssh://")):
            tls = docker.tls.TLSConfig(
                client_cert=(e.cert, e.key) if e.cert and e.key else None,
                ca_cert=e.ca,
                verify=e.verify,
            )
        client = docker.APIClient(
            base_url=e.host,
            version=API_VERSION,
            timeout=timeout,
            tls=tls,
            use_ssh_client=e.host.startswith("ssh://"),
        )
        if e.host.startswith("unix://"):
            # a local socket takes no proxy: requests would read every proxy variable of the
            # environment again on each request (a third of a listing's time, measured)
            client.trust_env = False
        return client

    def exec_streamed(
        self, container: str, command: list[str], environment: Mapping[str, str]
    ) -> tuple[str, Any]:
        """Start ``command`` in a running container, as ``docker exec`` does: the exec's id and
        its output, (stdout, stderr) chunks as they come. The stream has no read timeout (a
        test may print nothing for minutes). Raises the SDK's errors where the engine cannot
        start it."""
        created = self.client().exec_create(
            container, command, stdout=True, stderr=True, environment=dict(environment) or None
        )
        streaming = self._new_client(None)
        return created["Id"], streaming.exec_start(created["Id"], stream=True, demux=True)

    def exec_exit_code(self, exec_id: str) -> int:
        code = self.client().exec_inspect(exec_id).get("ExitCode")
        return int(code if code is not None else 1)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def containers(
        self, filters: dict[str, str] | None = None, projects: frozenset[str] | None = None
    ) -> list[dict[str, Any]]:
        """The inspect documents of the containers (running or not) matching the filters,
        and with ``projects`` only those of these compose projects (the rest are not
        inspected); one removed while this reads is left out. Raises
        ``docker.errors.DockerException`` (or requests' errors) where the engine cannot be
        asked."""
        import docker

        api = self.client()
        listed = api.containers(all=True, filters=dict(filters or {}))
        if projects is not None:
            label = "com.docker.compose.project"
            listed = [c for c in listed if (c.get("Labels") or {}).get(label) in projects]
        documents = []
        for summary in listed:
            try:
                documents.append(api.inspect_container(summary["Id"]))
            except docker.errors.NotFound:
                continue
        return documents

    def every_container(
        self, inspected: frozenset[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every container (running or not): the inspect documents of those of the compose
        projects ``inspected`` (and of any whose image the list names by its ID), and the
        list's summaries of the rest (no inspect each: a machine with many containers of
        other projects pays one listing for them)."""
        import docker

        api = self.client()
        documents, summaries = [], []
        label = "com.docker.compose.project"
        for summary in api.containers(all=True):
            # the list names a container's image by its ID where its tag has moved on
            # (rebuilt, pulled anew) since: that one is inspected for the name it was given
            renamed = str(summary.get("Image") or "").startswith("sha256:")
            if (summary.get("Labels") or {}).get(label) not in inspected and not renamed:
                summaries.append(summary)
                continue
            try:
                documents.append(api.inspect_container(summary["Id"]))
            except docker.errors.NotFound:
                continue
        return documents, summaries

    def container_briefs(self, filters: Mapping[str, object]) -> list[tuple[str, str, str, str]]:
        """The running containers matching the filters, from the list alone (no inspect):
        each one's id, name, Compose service and creation time."""
        return [
            (
                str(c["Id"]),
                str((c.get("Names") or ["/"])[0]).lstrip("/"),
                str((c.get("Labels") or {}).get("com.docker.compose.service", "")),
                str(c.get("Created", "")),
            )
            for c in self.client().containers(filters=dict(filters))
        ]

    def exec(self, container: str, command: list[str]) -> tuple[int, str]:
        """``docker exec`` of a short command: its exit code and combined output."""
        api = self.client()
        created = api.exec_create(container, command, stdout=True, stderr=True)
        output = api.exec_start(created["Id"])
        code = api.exec_inspect(created["Id"]).get("ExitCode")
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
        return int(code if code is not None else 1), text

    def version(self) -> str:
        return str(self.client().version(api_version=False).get("Version", ""))

    def volume_names(self, filters: dict[str, str] | None = None) -> list[str]:
        found = self.client().volumes(filters=dict(filters or {})).get("Volumes") or []
        return [str(v["Name"]) for v in found]

    def network_names(self) -> list[str]:
        return [str(n["Name"]) for n in self.client().networks()]

    def image_tags(self) -> list[str]:
        return [str(t) for i in self.client().images() for t in i.get("RepoTags") or []]

    def image_documents(self, names: list[str]) -> list[dict[str, Any]]:
        """The inspect documents of the images these names stand for (missing ones left out)."""
        import docker

        found = []
        for name in names:
            try:
                found.append(self.client().inspect_image(name))
            except docker.errors.NotFound:
                continue
        return found
