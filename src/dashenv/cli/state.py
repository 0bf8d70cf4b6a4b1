"""What the root options select, shared by every command through ``ctx.obj``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.settings.project import ProjectConfig
    from dashenv.settings.sources import ResolvedEnvironment


@dataclass
class State:
    project_dir: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    context: str | None = None
    verbose: bool = False
    _project: ProjectConfig | None = None

    @classmethod
    def from_options(
        cls, project_dir: str | None, sets: list[str], context: str | None, verbose: bool
    ) -> State:
        overrides = {}
        for item in sets:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
            overrides[key.strip()] = value
        return cls(project_dir, overrides, context, verbose)

    def project(self) -> ProjectConfig:
        from dashenv.settings.project import find_project_dir, load_project

        if self._project is None:
            if self.project_dir is not None:
                root = Path(self.project_dir)
                if not root.is_dir():
                    raise ConfigError(
                        f"project directory {self.project_dir} does not exist",
                        hint="check the path given to -C/--project-dir",
                    )
            else:
                root = find_project_dir(Path.cwd())
            self._project = load_project(root)
        return self._project

    def env(
        self, name: str, extra: dict[str, str] | None = None, *, read_env: bool = True
    ) -> ResolvedEnvironment:
        from dashenv.settings.sources import resolve_environment

        cli = {**self.overrides, **(extra or {})}
        return resolve_environment(self.project(), name, cli, read_env=read_env)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj
