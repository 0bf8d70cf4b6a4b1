"""The run context the root options select, handed to every command through ``ctx.obj``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import typer

from dashenv.context import RunContext


def from_options(
    project_dir: str | None,
    sets: list[str],
    context: str | None,
    verbose: bool,
    instance: str | None = None,
) -> RunContext:
    overrides = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        overrides[key.strip()] = value
    if instance is not None:
        from dashenv.plan.allocation import valid_instance

        if not valid_instance(instance):
            raise typer.BadParameter(
                f"{instance!r} is not an instance name: lower-case letters, digits and dashes",
                param_hint="--instance",
            )
    return RunContext(
        project_dir, overrides, context, verbose, instance or None, progress=_copy_progress
    )


def _copy_progress(
    what: str, total: int | None
) -> AbstractContextManager[Callable[[int], None] | None]:
    """A database copy's progress on stderr, on a terminal (``render.copy_progress``)."""
    from dashenv import render

    return render.copy_progress(what, total)


def state(ctx: typer.Context) -> RunContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, RunContext)
    return obj
