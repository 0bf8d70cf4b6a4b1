"""An environment's Alembic configuration and revision graph, read from its files (the reset's
template key, status and doctor)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.errors import DashenvError

if TYPE_CHECKING:
    from dashenv.plan.migrations import Graph
    from dashenv.settings.sources import ResolvedEnvironment


def alembic_ini(env: ResolvedEnvironment) -> Path | None:
    """The environment's alembic.ini; None without Alembic; a configured file that does
    not exist is a configuration error naming the layer that set it."""
    s = env.settings
    if not s.alembic_config:
        return None
    path = env.path(s.alembic_config)
    if not path.is_file():
        raise env.missing_path(
            "alembic_config",
            s.alembic_config,
            "point alembic_config at alembic.ini, or set it to none without Alembic",
        )
    return path


def alembic_graph(env: ResolvedEnvironment) -> Graph | None:
    """The code's revision graph, read from the files; None when the environment has no
    alembic_config (a project migrating with another tool)."""
    from dashenv.plan.migrations import read_config, read_graph

    path = alembic_ini(env)
    if path is None:
        return None
    return read_graph(read_config(path, str(env.settings.alembic_config)))


def graph_reading(env: ResolvedEnvironment) -> Graph | str | None:
    """``alembic_graph``, with a configuration error as its message: what ``migrations_part``
    takes (read beforehand where that overlaps with waiting on the database)."""
    try:
        return alembic_graph(env)
    except DashenvError as exc:
        return exc.message


def migrations_part(current: tuple[str, ...] | None, graph: Graph | str | None) -> dict[str, Any]:
    """Where the database stands against the code's Alembic heads (``graph_reading``)."""
    from dashenv.plan.migrations import MigrationState, database_state

    if isinstance(graph, str):
        return MigrationState("unknown", current or (), reason=graph).as_dict()
    if graph is None:
        reason = "no alembic_config: dashenv cannot know where this database stands"
        return MigrationState("unknown", current or (), reason=reason).as_dict()
    return database_state(graph, current).as_dict()
