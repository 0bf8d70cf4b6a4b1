"""Which engine the API asks (the one the docker CLI would reach), and the engine's JSON as
dashenv reads it: pure, no engine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dashenv.adapters.docker import image_ids_of, parse_inspect, parse_summaries
from dashenv.adapters.engine import Endpoint, resolve, wanted

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"


def store(config: Path, name: str, host: str, *, tls: bool = False, skip: bool = False) -> None:
    """A context as 'docker context create' leaves it in the CLI's context store."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": skip}
    doc = {"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}}
    (meta / "meta.json").write_text(json.dumps(doc))
    if tls:
        files = config / "contexts" / "tls" / digest / "docker"
        files.mkdir(parents=True)
        for f in ("ca", "cert", "key"):
            (files / f"{f}.pem").write_text("pem")


def test_the_local_socket_when_nothing_says_otherwise(tmp_path: Path) -> None:
    assert resolve(None, {"DOCKER_CONFIG": str(tmp_path)}) == Endpoint(
        "unix:///var/run/docker.sock"
    )
    assert resolve("default", {"DOCKER_CONFIG": str(tmp_path)}).host.startswith("unix://")  # type: ignore[union-attr]


def test_docker_host_with_tls_from_the_environment(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(tmp_path / "certs"), "DOCKER_CONFIG": str(tmp_path)}  # fmt: skip
    e = resolve(None, env)
    assert e is not None and e.host == "tcp://10.0.0.5:2376" and e.verify and e.tls
    assert e.ca == str(tmp_path / "certs" / "ca.pem") and e.key == str(
        tmp_path / "certs" / "key.pem"
    )
    plain = resolve(None, {"DOCKER_HOST": "tcp://10.0.0.5:2375", "DOCKER_CONFIG": str(tmp_path)})
    assert plain is not None and not plain.tls
    # no DOCKER_CERT_PATH: the CLI's config directory holds them
    e = resolve(None, {**env, "DOCKER_CERT_PATH": ""})
    assert e is not None and e.cert == str(tmp_path / "cert.pem")


def test_a_context_by_name_from_the_clis_context_store(tmp_path: Path) -> None:
    store(tmp_path, "remote", "unix:///run/remote/docker.sock")
    store(tmp_path, "secure", "tcp://build.example:2376", tls=True)
    store(tmp_path, "ssh", "ssh://deploy@build.example")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert resolve("remote", env) == Endpoint(
        "unix:///run/remote/docker.sock", source="context remote"
    )
    secure = resolve("secure", env)
    assert secure is not None and secure.verify and secure.tls
    tls_dir = tmp_path / "contexts" / "tls" / hashlib.sha256(b"secure").hexdigest() / "docker"
    assert secure.cert == str(tls_dir / "cert.pem")
    assert resolve("ssh", env) == Endpoint("ssh://deploy@build.example", source="context ssh")
    assert resolve("nosuch", env) is None  # the CLI says it does not exist


def test_which_context_the_cli_would_take(tmp_path: Path) -> None:
    """--context, else DOCKER_HOST, else DOCKER_CONTEXT, else the config's currentContext."""
    store(tmp_path, "remote", "unix:///run/remote/docker.sock")
    store(tmp_path, "other", "unix:///run/other/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert resolve(None, env).host == "unix:///run/remote/docker.sock"  # type: ignore[union-attr]
    env["DOCKER_CONTEXT"] = "other"
    assert resolve(None, env).host == "unix:///run/other/docker.sock"  # type: ignore[union-attr]
    env["DOCKER_HOST"] = "unix:///run/host.sock"
    assert resolve(None, env).host == "unix:///run/host.sock"  # type: ignore[union-attr]
    assert resolve("remote", env).host == "unix:///run/remote/docker.sock"  # type: ignore[union-attr]


def test_the_api_where_its_client_is_imported_or_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    assert wanted({"DASHENV_ENGINE_API": "1"})
    assert not wanted({"DASHENV_ENGINE_API": "0"})
    monkeypatch.setitem(sys.modules, "docker", sys)  # imported already (a preloaded worker)
    assert wanted({}) and not wanted({"DASHENV_ENGINE_API": "off"})
    monkeypatch.delitem(sys.modules, "docker")
    assert not wanted({})  # a fresh process: the CLI


def test_the_engines_inspect_document_as_dashenv_reads_it() -> None:
    """A real engine's 'docker container inspect' of a healthy Compose PostgreSQL (its
    secrets taken out), which the API's /containers/{id}/json answers alike."""
    documents = json.loads((FIXTURES / "inspect-postgres-healthy.json").read_text())
    (c,) = parse_inspect(documents)
    assert (c.name, c.project, c.service) == ("dashtam-dev-postgres", "dashtam-dev", "postgres")
    assert (c.state, c.health, c.ready) == ("running", "healthy", True)
    assert [(p.host_ip, p.host_port, p.container_port) for p in c.ports] == [
        ("127.0.0.1", 5432, "5432/tcp")
    ]
    assert c.config_hash is not None and len(c.config_hash) == 64
    assert c.image == "postgres:17" and c.image_id is not None
    assert c.image_id.startswith("sha256:") and c.exit_code is None
    assert c.config_files is not None and c.config_files.endswith("docker-compose.dev.yml")


def test_an_exited_container_as_dashenv_reads_it() -> None:
    """A real engine's inspect of a container that ran and exited 3 (no healthcheck)."""
    documents = json.loads((FIXTURES / "inspect-one-shot-exited.json").read_text())
    (c,) = parse_inspect(documents)
    assert (c.project, c.service, c.state, c.health) == ("demo", "prestart", "exited", None)
    assert c.exit_code == 3 and not c.ready and c.started_at is not None
    assert c.ports == () and c.config_hash is None


def test_the_engines_list_as_dashenv_reads_it() -> None:
    """A real engine's /containers/json entry of the same healthy PostgreSQL: who holds the
    name and the port, from what state, labels and image; not its health or start time
    (those only an inspect says)."""
    summaries = json.loads((FIXTURES / "list-postgres-healthy.json").read_text())
    (c,) = parse_summaries(summaries)
    assert (c.name, c.project, c.service) == ("dashtam-dev-postgres", "dashtam-dev", "postgres")
    assert c.state == "running" and c.health is None and c.started_at is None
    assert [(p.host_ip, p.host_port, p.container_port) for p in c.ports] == [
        ("127.0.0.1", 5432, "5432/tcp")
    ]
    assert c.image == "postgres:17" and c.image_id is not None
    assert c.config_hash is not None and len(c.config_hash) == 64
    assert c.config_files is not None and c.config_files.endswith("docker-compose.dev.yml")


def test_image_ids_by_the_names_compose_files_use() -> None:
    docs = [
        {"Id": "sha256:pg", "RepoTags": ["postgres:17"], "RepoDigests": []},
        {"Id": "sha256:rd", "RepoTags": ["redis:latest"], "RepoDigests": ["redis@sha256:abc"]},
    ]
    names = ["postgres:17", "redis", "docker.io/library/redis", "redis@sha256:abc", "gone:1"]
    assert image_ids_of(docs, names) == {
        "postgres:17": "sha256:pg",
        "redis": "sha256:rd",
        "docker.io/library/redis": "sha256:rd",
        "redis@sha256:abc": "sha256:rd",
    }
