"""PostgreSQL 18's data layout, checked before anything starts: a mount at the pre-18 path
on an 18+ image (the official image refuses it and exits; with a restart policy it loops).

The major version comes from the image's tag (``postgres:18``, ``pgvector/pgvector:pg18``),
else from the local image's environment (``PG_MAJOR``, its ``PATH``, 18's ``PGDATA``: ``latest``,
untagged and a project's own images), else, for the
official ``postgres`` image with no tag or ``latest``, 18 (what ``latest`` is now)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError, DashenvError
from dashenv.plan.compose_files import split_image
from dashenv.plan.derive import (
    OLD_DATA_PATH,
    OldDataMount,
    image_major,
    line_of,
    old_data_mount,
    postgres_major,
)

if TYPE_CHECKING:
    from dashenv.context import Environment
    from dashenv.facts import ComposeModel

LATEST_MAJOR = 18  # what postgres:latest is now


@dataclass(frozen=True)
class DataPathProblem:
    found: OldDataMount
    where: str  # file:line, or the compose files where the line was not found

    @property
    def message(self) -> str:
        f = self.found
        return (
            f"{f.service} runs PostgreSQL {f.major} ({f.image}) with its data mounted at the "
            f"pre-18 path {OLD_DATA_PATH} ({self.where}): from 18 on the official image keeps "
            f"its data under /var/lib/postgresql/{f.major}/docker and refuses that mount at "
            "start (with a restart policy it loops)"
        )

    @property
    def hint(self) -> str:
        f = self.found
        older = split_image(f.image)[0] + ":17"
        return (
            f"mount {f.source} at /var/lib/postgresql instead, or pin the old major "
            f"({older}); a volume that already holds data needs pg_upgrade, or a dump on the "
            "old major restored into the new layout ('dashenv db snapshot' keeps a copy first)"
        )


def is_floating(image: str) -> bool:
    """An image of the official PostgreSQL with no major in its tag (latest, none)."""
    name, tag = split_image(image)
    official = name.removeprefix("docker.io/").removeprefix("library/") == "postgres"
    return official and tag in ("", "latest")


def major_of(t: Environment, image: str) -> int | None:
    """The PostgreSQL major version an image runs (see the module's note)."""
    major = postgres_major(image)
    if major is not None:
        return major
    try:
        found = image_major(t.docker.image_env(image) or {})
    except DashenvError:
        found = None
    if found is not None:
        return found
    return LATEST_MAJOR if is_floating(image) else None


def data_path_problem(t: Environment, compose: ComposeModel) -> DataPathProblem | None:
    """The old mount path on an 18+ image of the environment's PostgreSQL, where found."""
    from dashenv.plan.compose_files import official_contract, postgres_image

    known = tuple(t.resolved.project.options.postgres_images)
    svc = compose.services.get(t.settings.postgres_service)
    image = postgres_image(svc, known) if svc else None
    if svc is None or image is None or not official_contract(image, known):
        return None  # Bitnami's keeps a layout of its own
    found = old_data_mount(svc, major_of(t, image))
    if found is None:
        return None
    texts = t.resolved.compose_texts()
    at = line_of(texts, svc.name, OLD_DATA_PATH)
    where = f"{at[0]}:{at[1]}" if at else ", ".join(texts)
    return DataPathProblem(found, where)


def refuse_old_data_path(t: Environment, compose: ComposeModel) -> None:
    """Before 'up' starts anything: the old mount path on 18+ is a configuration error."""
    problem = data_path_problem(t, compose)
    if problem is not None:
        raise ConfigError(problem.message, hint=problem.hint)
