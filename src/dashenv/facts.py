"""Plain facts observed from outside systems, as the adapters hand them to the pure core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PortBinding:
    host_ip: str
    host_port: int
    container_port: str  # "5432/tcp"


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    project: str | None  # Compose's project label
    containers: int  # attached now


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    project: str | None
    service: str | None
    state: str  # running, exited, created, restarting, ...
    health: str | None  # healthy, unhealthy, starting, or None without a healthcheck
    ports: tuple[PortBinding, ...] = ()
    started_at: str | None = None
    config_files: str | None = None
    image: str = ""
    working_dir: str | None = None  # where Compose was run from (its project directory)
    instance: str | None = None  # dashenv's instance label, on an instance's containers
    checkout: str | None = None  # dashenv's checkout label, on an instance's containers
    environment: str | None = None  # dashenv's environment label, on an instance's containers
    protected: bool | None = None  # dashenv's protected label, on an instance's containers
    exit_code: int | None = None  # where it has exited
    config_hash: str | None = None  # the configuration hash Compose gave it (its label)
    image_id: str | None = None  # the image it runs (sha256:...), not the tag it was given
    restart_count: int = 0  # how often its restart policy has restarted it

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")


@dataclass(frozen=True)
class Running:
    """A running container as the engine's list gives it (no inspect)."""

    id: str
    name: str
    service: str
    created: str  # when it was made (a restart keeps it; a new container changes it)


@dataclass
class ComposeService:
    name: str
    container_name: str | None
    ports: list[tuple[str, int, int]] = field(default_factory=list)  # host_ip, published, target
    image: str | None = None
    has_build: bool = False
    base_image: str | None = None  # what its Dockerfile builds FROM, where it builds one
    has_healthcheck: bool = False
    health_url: str | None = None  # the URL its healthcheck asks, where it asks one
    binds: list[str] = field(default_factory=list)  # host paths bind-mounted into it
    labels: dict[str, str] = field(default_factory=dict)
    build_context: str | None = None  # absolute, as Compose resolves it
    depends_on: list[str] = field(default_factory=list)  # what Compose starts with it
    # the environment the container gets (env_file: entries folded in, as Compose resolves it)
    environment: dict[str, str] = field(default_factory=dict)
    # its mounts: (type bind|volume|tmpfs, source, target, read only)
    mounts: list[tuple[str, str, str, bool]] = field(default_factory=list)
    command: list[str] | None = None  # the files' command, where they set one
    networks: list[str] = field(default_factory=list)  # the network keys it joins
    # the networks on which the files fix its address (key -> its other options there)
    pinned_addresses: dict[str, dict[str, Any]] = field(default_factory=dict)
    fixed_ips: list[str] = field(default_factory=list)  # the addresses pinned there
    profiles: list[str] = field(default_factory=list)  # it starts only with one of them
    # another service waits for it to finish (depends_on: service_completed_successfully)
    one_shot: bool = False
    # a PostgreSQL image's major version from the local image's PG_MAJOR, where its tag
    # names none (a project's own image, latest)
    pg_major: int | None = None


@dataclass
class ComposeModel:
    """What ``docker compose config`` says, reduced to what dashenv uses."""

    services: dict[str, ComposeService]
    external_networks: list[str] = field(default_factory=list)  # their names on the engine
    external_volumes: list[str] = field(default_factory=list)
    name: str | None = None  # the project name Compose resolved
    interpolated: bool = True  # false: the files as written (ports and names unresolved)
    # networks and volumes whose names the files fix (key -> name), not external
    fixed_networks: dict[str, str] = field(default_factory=dict)
    fixed_volumes: dict[str, str] = field(default_factory=dict)
    # the network keys that are external (their engine names are in external_networks)
    external_network_keys: list[str] = field(default_factory=list)
    # the network keys whose subnets (ipam config) the files fix: another stack of the same
    # files would claim the same address pool
    pinned_subnets: list[str] = field(default_factory=list)
