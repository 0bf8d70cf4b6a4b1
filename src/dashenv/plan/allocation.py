"""Instances: an environment run by a checkout that does not own its default compose project
(a git worktree, a second clone) gets a project, container names, network, volumes, image tag
and host ports of its own. Pure: naming, port allocation and the generated override file.

The registry that records owners, instance names and port leases (machine-wide, under a file
lock) is ``dashenv.adapters.registry``; this module only decides.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from dashenv.facts import ComposeModel

PORT_RANGE = (20000, 29999)  # where allocated host ports come from (DASHENV_PORT_RANGE)


def port_range(value: str | None) -> tuple[int, int]:
    """DASHENV_PORT_RANGE ("20000-29999") -> (low, high); the default without it."""
    from dashenv.errors import ConfigError

    if not value:
        return PORT_RANGE
    low, sep, high = value.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ConfigError(
            f"DASHENV_PORT_RANGE={value!r} is not a range", hint="write it LOW-HIGH: 20000-29999"
        )
    lo, hi = int(low), int(high)
    if not 1024 <= lo <= hi <= 65535:
        raise ConfigError(
            f"DASHENV_PORT_RANGE={value!r} is out of bounds",
            hint="use ports between 1024 and 65535, low first",
        )
    return lo, hi


MAX_NAME = 24


def instance_name(checkout: str, taken: set[str]) -> str:
    """A checkout's instance name, from its directory: lower case, letters, digits and
    dashes, at most 24 characters; a short hash of the whole path is added where the name
    would be empty, cut, or already another checkout's."""
    base = PurePath(checkout).name.lower()
    slug = re.sub(r"[^a-z0-9]+", "-", base).strip("-")
    digest = hashlib.sha256(checkout.encode()).hexdigest()[:6]
    if not slug:
        return f"i{digest}"
    if len(slug) > MAX_NAME:
        slug = slug[: MAX_NAME - 7].rstrip("-")
        return f"{slug}-{digest}"
    if slug in taken:
        return f"{slug[: MAX_NAME - 7].rstrip('-')}-{digest}"
    return slug


def valid_instance(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", name))


@dataclass(frozen=True)
class Lease:
    port: int
    checkout: str
    environment: str
    instance: str  # "" for the checkout that owns the default project
    slot: str  # "<service>:<container port>"


def allocate(
    leases: list[Lease],
    checkout: str,
    environment: str,
    instance: str,
    slots: list[str],
    busy: Callable[[int], bool],
    port_range: tuple[int, int] = PORT_RANGE,
) -> tuple[dict[str, int], list[Lease]]:
    """A host port per slot: the checkout's existing lease for it (stable across down/up),
    else the lowest port in the range that no lease holds and that is not ``busy`` (held by
    a process or a container now). Returns the ports and the new leases to record."""
    mine = {
        lease.slot: lease.port
        for lease in leases
        if (lease.checkout, lease.environment, lease.instance) == (checkout, environment, instance)
    }
    held = {lease.port for lease in leases}
    ports: dict[str, int] = {}
    new: list[Lease] = []
    candidate = port_range[0]
    for slot in slots:
        if slot in mine:
            ports[slot] = mine[slot]
            continue
        while candidate <= port_range[1] and (candidate in held or busy(candidate)):
            candidate += 1
        if candidate > port_range[1]:
            from dashenv.errors import OperationFailed

            raise OperationFailed(
                f"no free port left in {port_range[0]}-{port_range[1]} for {environment}",
                hint="run 'dashenv gc' to release the leases of removed checkouts, or widen "
                "DASHENV_PORT_RANGE",
            )
        ports[slot] = candidate
        new.append(Lease(candidate, checkout, environment, instance, slot))
        held.add(candidate)
    return ports, new


def slots_of(model: ComposeModel) -> list[tuple[str, str, int, int]]:
    """Every published port of the files: (slot, host ip, host port, container port)."""
    found = []
    for name, service in model.services.items():
        for host_ip, published, target in service.ports:
            found.append((f"{name}:{target}", host_ip, published, target))
    return found


@dataclass(frozen=True)
class InstanceSpec:
    environment: str
    instance: str  # "" for the owner
    base_project: str  # the environment's own project (the owner's)
    project: str  # this instance's
    checkout: str
    ports: dict[str, int]  # slot -> host port, where allocated
    protected: bool = False


def override_file(model: ComposeModel, spec: InstanceSpec) -> str:
    """The compose override that makes an instance its own: container names after its
    project, its allocated host ports (``!override`` replaces the files' lists; Compose
    2.24+), its own network and volume names where the files fix them, its own image tag for
    what it builds (branches do not rebuild each other's image), and dashenv's labels, from
    which 'dashenv instances' and 'gc' find it."""
    from dashenv.plan.override import (
        Override,
        dump,
        own_networks,
        renamed,
        service_networks,
        tagged_image,
    )

    base, project = spec.base_project, spec.project
    services: dict[str, Any] = {}
    for name, service in model.services.items():
        body: dict[str, Any] = {}
        if spec.instance:
            if service.container_name:
                body["container_name"] = renamed(service.container_name, base, project)
            if service.has_build and service.image:
                body["image"] = tagged_image(service.image, spec.instance)
            body["labels"] = {
                "dev.dashenv.environment": spec.environment,
                "dev.dashenv.instance": spec.instance,
                "dev.dashenv.checkout": spec.checkout,
                "dev.dashenv.protected": str(spec.protected).lower(),
            }
            networks = service_networks(service)
            if networks is not None:
                body["networks"] = networks
        if service.ports and any(f"{name}:{t}" in spec.ports for _, _, t in service.ports):
            body["ports"] = Override(
                [
                    f"{host_ip}:{spec.ports.get(f'{name}:{target}', host_port)}:{target}"
                    for host_ip, host_port, target in service.ports
                ]
            )
        services[name] = body
    document: dict[str, Any] = {"services": services}
    if spec.instance:
        fixed = {k: renamed(old, base, project) for k, old in model.fixed_networks.items()}
        top = own_networks(model, fixed)
        if top:
            document["networks"] = top
        if model.fixed_volumes:
            document["volumes"] = {
                k: {"name": renamed(old, base, project)} for k, old in model.fixed_volumes.items()
            }
    header = [
        f"Written by dashenv for {spec.environment} instance {spec.instance or '(owner)'} "
        f"(project {project}):",
        "rewritten on every run; 'dashenv config compose ENV' prints the line that uses it.",
    ]
    return dump(document, header)
