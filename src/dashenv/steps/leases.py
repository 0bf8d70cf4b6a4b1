"""Claiming an environment's place on this machine before it starts, and giving it back: the
owner of its default project, this checkout's instance name and its host-port leases, in the
machine-wide registry (``up`` claims, ``down`` releases)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashenv.context import Environment


def claim(t: Environment, say: Callable[[str], None]) -> tuple[Environment, str]:
    """Before ``t`` starts: record who owns its default project (the checkout Compose
    recorded on its containers, else this one), and for an instance its name and leased host
    ports (stable across down/up). Returns the environment as it now resolves (its leases,
    its instance) and the instance ("" for the owner)."""
    from dashenv.adapters.docker import PROJECT_LABEL
    from dashenv.adapters.host import port_in_use
    from dashenv.adapters.registry import Registry
    from dashenv.observe.layouts import Instance, checkout_of
    from dashenv.plan.allocation import allocate, instance_name, port_range

    ctx, name = t.ctx, t.name
    base = t.owned
    if base.files is None:
        return t, ""
    checkout = checkout_of(base)
    project = base.settings.project_name
    registry = Registry()
    known = registry.read().owners.get(project)
    engine_owner = None
    docker = t.engine
    if ctx.instance is None and (known is None or not Path(known).is_dir()):
        for c in docker.containers({"label": f"{PROJECT_LABEL}={project}"}):
            found = checkout_of_workdir(c.working_dir) if c.working_dir else None
            if found and found != checkout:
                engine_owner = found
                break
    busy_seen: list[int] = []
    beside = None  # the checkout that owns the default project, where this one is not it
    with registry.change() as data:
        if ctx.instance is None:
            owner = data.owners.get(project)
            if owner is None or not Path(owner).is_dir():
                data.owners[project] = owner = engine_owner or checkout
            if owner == checkout:
                instance = ""
            else:
                beside = owner
                taken = {v for k, v in data.names.items() if k != checkout}
                instance = data.names.get(checkout) or instance_name(checkout, taken)
                data.names[checkout] = instance
        else:
            instance = ctx.instance
        # an instance leases every port its files publish; the owner what its layout leases
        slots = Instance.leased(base) if instance else t.layout.leased(base)
        if not instance and not slots:
            return t.renewed(), ""
        published = {p.host_port for c in docker.every_container() for p in c.ports}

        def busy(port: int) -> bool:
            taken = port in published or port_in_use(base.settings.host, port)
            if taken:
                busy_seen.append(port)
            return taken

        _ports, new = allocate(
            data.leases,
            checkout,
            name,
            instance,
            slots,
            busy,
            port_range(os.environ.get("DASHENV_PORT_RANGE")),
        )
        data.leases += new
    if new:
        shown = ", ".join(f"{lease.port} ({lease.slot.split(':')[0]})" for lease in new)
        skipped = f"; skipped {', '.join(map(str, busy_seen))}, in use" if busy_seen else ""
        if instance:
            whose = f" ({project} is {beside}'s)" if beside else ""
            say(
                f"{name} runs as instance {instance} here{whose}: allocated host ports "
                f"{shown}{skipped}"
            )
        else:
            say(f"{name}: leased host ports {shown}{skipped}")
    return t.renewed(), instance


def release(t: Environment) -> tuple[Environment, list[str]]:
    """After ``down --volumes``: the instance's leases go back to the pool and its override
    file is removed (its next start allocates again). Returns the environment as it now
    resolves, and what was released."""
    from dashenv.adapters.registry import Registry
    from dashenv.observe.layouts import Instance, checkout_of

    name = t.name
    base = t.view(base=True, read_env=False)
    registry = Registry()
    checkout = checkout_of(base)
    instance = Instance(t.ctx.instance).current(base, registry.read())
    with registry.change() as data:
        mine = [
            lease
            for lease in data.leases
            if (lease.checkout, lease.environment, lease.instance) == (checkout, name, instance)
        ]
        data.leases = [lease for lease in data.leases if lease not in mine]
    override = base.project.root / Instance.override(name, instance)
    override.unlink(missing_ok=True)
    renewed = t.renewed()
    if not mine:
        return renewed, []
    return renewed, [f"released host ports {', '.join(str(lease.port) for lease in mine)}"]


def checkout_of_workdir(working_dir: str) -> str | None:
    """The checkout a compose project was started from (Compose's working_dir label: the
    directory of its first compose file), if it still exists."""
    from dashenv.errors import ConfigError
    from dashenv.settings.project import find_project_dir

    path = Path(working_dir)
    if not path.is_dir():
        return None
    try:
        return str(find_project_dir(path).resolve())
    except ConfigError:
        return str(path.resolve())
