"""The shapes of the JSON documents dashenv prints, typed: the workflows build them, ``render``
prints them (tables, or ``render.document`` stamps and writes them as JSON).

They are dictionaries because they are the documents (``status.schema.json`` documents the
status one, and a document only grows); typing them lets mypy check both ends against one
shape. Keys a part has only in some states are ``NotRequired``.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class PortRow(TypedDict):
    host_ip: str
    host_port: int
    container_port: str


class ContainerRow(TypedDict):
    service: str | None
    name: str
    state: str
    health: str | None
    ports: list[PortRow]
    started_at: str | None
    uptime_seconds: float | None
    ready: bool


class ContainersPart(TypedDict):
    list: list[ContainerRow]
    expected: list[str]
    not_ready: list[str]


class PostgresPart(TypedDict):
    endpoint: str
    reachable: bool
    error: str | None
    database: NotRequired[str]
    version: NotRequired[str]
    databases: NotRequired[list[dict[str, Any]]]
    database_exists: NotRequired[bool]
    tables: NotRequired[list[dict[str, Any]]]
    settings: NotRequired[dict[str, str]]
    stamp: NotRequired[dict[str, str] | None]
    migrations: NotRequired[dict[str, Any]]
    copy_method: NotRequired[dict[str, Any]]
    snapshots: NotRequired[list[dict[str, Any]]]
    worker_databases: NotRequired[list[str]]


class RedisPart(TypedDict):
    endpoint: str
    reachable: bool
    error: NotRequired[str | None]
    indexes: NotRequired[list[int]]
    index: NotRequired[int]
    version: NotRequired[str]
    keys: NotRequired[int]
    used_memory: NotRequired[str]


class AppPart(TypedDict):
    url: str
    reachable: bool
    status: int | None
    body: str | None
    error: str | None
    healthy: bool
    checked: bool


class EnvironmentStatus(TypedDict):
    name: str
    role: str
    project: str
    state: str  # up | down
    other_checkout: str | None
    app_runs: str
    containers: ContainersPart
    postgres: PostgresPart | None
    redis: RedisPart | None
    app: AppPart | None
    problems: list[str]
    healthy: bool
    context: NotRequired[str | None]  # the Docker context it runs on (None: the default)


class EngineStatus(TypedDict):
    reachable: bool
    error: str | None


class StatusDocument(TypedDict):
    generated_at: str
    project_dir: str
    engine: EngineStatus
    healthy: bool
    environments: list[EnvironmentStatus]


class EnvironmentRow(TypedDict):
    name: str
    role: str
    protected: bool
    compose_files: list[str]
    env_file: str
    env_file_present: bool
    project_name: str
    ports: dict[str, int]
    redis_index: int
    redis_indexes: list[int]
    exclusive_with: list[str]


class EnvironmentsDocument(TypedDict):
    project_dir: str
    environments: list[EnvironmentRow]


class Value(TypedDict):
    """A value with where it came from (``settings.sources.Origin``)."""

    value: Any
    layer: str
    key: NotRequired[str]
    path: NotRequired[str | None]
    line: NotRequired[int | None]
    source: str
    effective: NotRequired[Any]  # redis_index: what it resolves to


class ComposePart(TypedDict):
    project_name_in_files: str | None
    passes_project_name: bool
    services: list[str]
    proxy_url: str | None


class ConfigDocument(TypedDict):
    environment: str
    project_dir: str
    masked: bool
    settings: dict[str, Value]
    compose: ComposePart | None
    app: dict[str, Value]
