"""Networks of one name, twice: left by Compose when two of its runs created a project's
network at the same moment (the engine's duplicate check is racy), by dashenv before it
held one command per environment, or by hand. Compose then fails every later run ("network
... is ambiguous"). Pure: the engine's networks in, what to remove and what cannot be, out."""

from __future__ import annotations

from dataclasses import dataclass

from dashenv.facts import Network


@dataclass(frozen=True)
class NetworkRepair:
    remove: list[Network]  # duplicates with no container attached
    stuck: dict[str, list[Network]]  # names still twice, each copy with containers attached

    @property
    def needed(self) -> bool:
        return bool(self.remove or self.stuck)


def repair(networks: list[Network]) -> NetworkRepair:
    """For every name held by more than one network: the copies with no container attached
    go (Compose makes the network again where none is left); where two or more copies still
    have containers, that name is stuck until those containers are gone."""
    by_name: dict[str, list[Network]] = {}
    for n in networks:
        by_name.setdefault(n.name, []).append(n)
    remove: list[Network] = []
    stuck: dict[str, list[Network]] = {}
    for name, copies in sorted(by_name.items()):
        if len(copies) < 2:
            continue
        remove += [n for n in copies if not n.containers]
        attached = [n for n in copies if n.containers]
        if len(attached) > 1:
            stuck[name] = attached
    return NetworkRepair(remove, stuck)


def stuck_hint(name: str, project: str, stuck: dict[str, list[Network]]) -> str:
    ids = " ".join(n.id[:12] for copies in stuck.values() for n in copies)
    return (
        f"'dashenv down {name}' takes its containers off them (compose project {project}), "
        f"then 'docker network rm {ids}' and 'dashenv up {name}'"
    )
