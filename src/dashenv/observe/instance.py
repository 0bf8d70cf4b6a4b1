"""The instance layer: an environment as this checkout runs it. The owner of the default
compose project keeps today's names and ports; any other checkout (a worktree, a second
clone), or one given ``--instance``, runs its own instance: its own project, container
names, networks, volumes, image tag and leased host ports, applied through a generated
compose override under ``.dashenv/instances/``.

Which checkout owns which project, each checkout's instance name and the port leases come
from the machine-wide registry (``dashenv.adapters.registry``); ``workflows.instances.claim``
records them when an environment is started.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashenv.adapters.registry import RegistryData
    from dashenv.settings.sources import ResolvedEnvironment


MOVABLE = ("default", "compose files")  # the layers an allocated port stands above


def checkout_of(env: ResolvedEnvironment) -> str:
    return str(env.project.root.resolve())


def current_instance(env: ResolvedEnvironment, explicit: str | None, data: RegistryData) -> str:
    """This checkout's instance of ``env``: the one asked for (--instance, DASHENV_INSTANCE),
    else none ("") where this checkout owns the default project or nobody does yet, else the
    checkout's instance name (from its directory)."""
    from dashenv.plan.allocation import instance_name

    if explicit is not None:
        return explicit
    checkout = checkout_of(env)
    owner = data.owners.get(env.settings.project_name)
    if owner is None or owner == checkout:
        return ""
    taken = {v for k, v in data.names.items() if k != checkout}
    return data.names.get(checkout) or instance_name(checkout, taken)


def role_slots(env: ResolvedEnvironment) -> dict[str, str]:
    """Port setting -> the slot ("<service>:<container port>") its role's service publishes
    (for the app and callback, their first published port)."""
    from dashenv.plan.compose_files import PORT_ROLES

    found: dict[str, str] = {}
    if env.files is None:
        return found
    services = env.files.model.services
    for key, (role, target) in PORT_ROLES.items():
        service = services.get(getattr(env.settings, role))
        if service is None:
            continue
        slot = next(
            (f"{service.name}:{t}" for _, _, t in service.ports if target is None or t == target),
            None,
        )
        if slot is not None:
            found[key] = slot
    return found


def fixed_slots(env: ResolvedEnvironment) -> set[str]:
    """The slots of the ports set in a layer: never allocated, never moved."""
    return {
        slot for key, slot in role_slots(env).items() if env.provenance[key].layer not in MOVABLE
    }


def override_path(env_name: str, instance: str) -> str:
    return f".dashenv/instances/{env_name}{'-' + instance if instance else ''}.yml"


def with_instance(
    env: ResolvedEnvironment, explicit: str | None, *, verbose: bool = False
) -> ResolvedEnvironment:
    """``env`` as this checkout's instance runs it (unchanged for the owner without leases)."""
    from dashenv.adapters.registry import Registry
    from dashenv.observe.compose import with_compose_files
    from dashenv.plan.allocation import InstanceSpec, override_file
    from dashenv.settings.layers import Origin

    if env.files is None:
        return env  # Compose could not be asked: nothing to make an instance of
    data = Registry().read()
    instance = current_instance(env, explicit, data)
    checkout = checkout_of(env)
    leases = {
        lease.slot: lease.port
        for lease in data.leases
        if (lease.checkout, lease.environment, lease.instance) == (checkout, env.name, instance)
    }
    if not instance and not leases:
        return env
    s = env.settings
    slot_of = role_slots(env)
    # a port set in a layer is never moved: its slot keeps the files' (interpolated) port
    fixed = fixed_slots(env)
    leases = {slot: port for slot, port in leases.items() if slot not in fixed}
    base = s.project_name
    project = f"{base}-{instance}" if instance else base
    spec = InstanceSpec(env.name, instance, base, project, checkout, leases, s.protected)
    rel = override_path(env.name, instance)
    generated = {**env.generated, rel: override_file(env.files.model, spec)}
    why = f"instance {instance}" if instance else "port leases"
    updates: dict[str, object] = {"compose_files": [*s.compose_files, rel]}
    provenance = dict(env.provenance)
    provenance["compose_files"] = Origin("instance", "compose_files", path=f"{why}: + {rel}")
    if instance:
        updates["project_name"] = project
        provenance["project_name"] = Origin("instance", "project_name", path=why)
    for key, slot in slot_of.items():
        if slot in leases and env.provenance[key].layer in MOVABLE:
            updates[key] = leases[slot]
            provenance[key] = Origin("allocated", key, path=f"{why}: lease of {slot}")
    moved = replace(
        env,
        settings=s.model_copy(update=updates),
        provenance=provenance,
        files=None,
        generated=generated,
    )
    return with_compose_files(moved, verbose=verbose)
