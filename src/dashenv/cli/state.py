"""The run context the root options select, handed to every command through ``ctx.obj``."""

from __future__ import annotations

import typer

from dashenv.context import RunContext


def from_options(
    project_dir: str | None, sets: list[str], context: str | None, verbose: bool
) -> RunContext:
    overrides = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        overrides[key.strip()] = value
    return RunContext(project_dir, overrides, context, verbose)


def state(ctx: typer.Context) -> RunContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, RunContext)
    return obj
