"""Which checkout an environment's compose project belongs to. Compose labels each container
with the directory it was started from (``com.docker.compose.project.working_dir``): two
checkouts with the same directory name get the same project, and only those labels (or, with
no container left, dashenv's own record of who started it) tell them apart. A destructive
command refuses (exit 3) to act on another checkout's data, or where the owner cannot be
told."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import DashenvError, GuardRefused

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.facts import Container


@dataclass(frozen=True)
class Ownership:
    owner: str | None  # the other checkout's directory; None: this one, or nobody's
    unknown: bool = False  # data of the project is left, and nothing says whose

    @property
    def foreign(self) -> bool:
        return self.owner is not None


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    return True


def foreign_dir(containers: list[Container], root: Path) -> str | None:
    """The directory another checkout started these containers from, where none of them was
    started from ``root`` (the checkout asking)."""
    dirs = [c.working_dir for c in containers if c.working_dir]
    foreign = [d for d in dirs if not _inside(d, root)]
    return foreign[0] if foreign and not any(_inside(d, root) for d in dirs) else None


def ownership(t: Environment, *, volumes: bool = False) -> Ownership:
    """Whose ``t``'s compose project is on its engine: the working directory Compose
    labelled its containers with; with none left and ``volumes`` asked, the registry's record,
    and unknown where neither tells while volumes of the project remain."""
    from dashenv.adapters.registry import Registry

    env = t.bare
    root = env.project.root.resolve()
    project = env.settings.project_name
    docker = t.engine
    try:
        containers = docker.project_containers(project)
    except DashenvError:
        return Ownership(None)
    other = foreign_dir(containers, root)
    if other is not None:
        return Ownership(other)
    if containers or not volumes:
        return Ownership(None)
    try:
        left = docker.project_volumes(project)
    except DashenvError:
        return Ownership(None)
    if not left:
        return Ownership(None)
    owner = Registry().read().owners.get(project)
    if owner is None:
        return Ownership(None, unknown=True)
    return Ownership(None if _inside(owner, root) else owner)


def require_own(t: Environment, what: str, *, volumes: bool = False) -> None:
    """Refuse (exit 3) ``what`` on ``t`` where its project is another checkout's, or its
    data is left with nothing to say whose."""
    name = t.name
    found = ownership(t, volumes=volumes)
    project = t.bare.settings.project_name
    if found.foreign:
        raise GuardRefused(
            f"refusing to {what}: compose project {project} runs from another checkout, "
            f"{found.owner}",
            hint=f"it is that checkout's {name}; run this one beside it as an instance "
            f"('dashenv up {name}' here makes one), or act from {found.owner}",
        )
    if found.unknown:
        raise GuardRefused(
            f"refusing to {what}: compose project {project} has volumes but no containers, "
            "and nothing says which checkout they belong to",
            hint=f"start {name} from the checkout it belongs to ('dashenv up {name}') and act "
            f"from there, or remove the volumes by hand ('docker volume ls --filter "
            f"label=com.docker.compose.project={project}')",
        )
