"""The run context: what the root options selected, and each environment resolved once.

Workflows receive it (tox's ``State`` shape); the CLI builds it from its options. It
imports nothing heavy: settings, adapters and pydantic load on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.settings.project import ProjectConfig
    from dashenv.settings.sources import ResolvedEnvironment


@dataclass
class RunContext:
    project_dir: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    context: str | None = None  # a Docker context (a remote engine)
    verbose: bool = False
    instance: str | None = None  # --instance / DASHENV_INSTANCE: this run's instance name
    _project: ProjectConfig | None = field(default=None, repr=False)
    _envs: dict[tuple[str, tuple[tuple[str, str], ...], bool, bool], ResolvedEnvironment] = field(
        default_factory=dict, repr=False
    )
    _dockers: dict[str | None, Docker] = field(default_factory=dict, repr=False)

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
        self,
        name: str,
        extra: dict[str, str] | None = None,
        *,
        read_env: bool = True,
        base: bool = False,
    ) -> ResolvedEnvironment:
        """``name`` resolved through every layer, reconciled with what its compose files say,
        as this checkout's instance runs it (``base``: as the owner of its default project
        does), once per run (and per ``extra`` flags)."""
        from dashenv.observe.compose import with_compose_files
        from dashenv.observe.instance import with_instance
        from dashenv.settings.sources import derived_from, resolve_environment

        key = (name, tuple(sorted((extra or {}).items())), read_env, base)
        if key not in self._envs:
            if base:
                cli = {**self.overrides, **(extra or {})}
                source = derived_from(self.project(), name)
                if source is not None:
                    self._envs[key] = self._derived(name, source, cli)
                else:
                    layered = resolve_environment(self.project(), name, cli, read_env=read_env)
                    found = with_compose_files(layered, verbose=self.verbose)
                    if found.settings.isolated:
                        found = self._isolated(found)
                    self._envs[key] = found
            else:
                owned = self.env(name, extra, read_env=read_env, base=True)
                self._envs[key] = with_instance(owned, self.instance, verbose=self.verbose)
        return self._envs[key]

    def _derived(self, name: str, source: str, cli: dict[str, str]) -> ResolvedEnvironment:
        """``name``, derived from ``source``'s compose files (its env file is generated)."""
        from dashenv.observe.derived import derived_defaults, with_derivation
        from dashenv.settings.sources import derived_from, resolve_environment

        project = self.project()
        if source == name or source not in project.environment_names():
            known = ", ".join(n for n in project.environment_names() if n != name)
            raise ConfigError(
                f"{name}: derived_from names {source!r}, which is not another environment",
                hint=f"derive it from one of: {known or 'none'}",
            )
        if derived_from(project, source) is not None:
            raise ConfigError(
                f"{name}: derived_from names {source!r}, itself derived",
                hint=f"derive {name} from the environment {source} is derived from",
            )
        origin = self.env(source, read_env=False, base=True)
        if origin.path(origin.settings.env_file).is_file():
            origin = self.env(source, base=True)
        layered = resolve_environment(
            project, name, cli, read_env=False, derived=derived_defaults(origin, name)
        )
        return with_derivation(layered, origin, verbose=self.verbose)

    def _isolated(self, env: ResolvedEnvironment) -> ResolvedEnvironment:
        """``env`` made its own beside the project's other environments with files of their
        own (``isolated``)."""
        from dashenv.observe.derived import with_isolation
        from dashenv.settings.sources import derived_from

        project = self.project()
        others = []
        for other in project.environment_names():
            if other == env.name or derived_from(project, other) is not None:
                continue
            if project.environments.get(other, {}).get("isolated"):
                continue
            others.append(self.env(other, read_env=False, base=True))
        return with_isolation(env, others, verbose=self.verbose)

    def forget(self, name: str) -> None:
        """Resolve ``name`` again on next use (after its instance or leases changed)."""
        for key in [k for k in self._envs if k[0] == name]:
            del self._envs[key]

    def env_lenient(self, name: str) -> tuple[ResolvedEnvironment, bool]:
        """``name`` for listing and teardown: a missing env file is reported, not fatal."""
        bare = self.env(name, read_env=False)
        present = (
            bare.path(bare.settings.env_file).is_file() or bare.settings.env_file in bare.generated
        )
        return (self.env(name) if present else bare), present

    def environment_names(self) -> list[str]:
        return self.project().environment_names()

    def engine_of(self, name: str) -> str | None:
        """The Docker context ENV runs on: --context, else its ``context`` setting, else the
        default engine (None)."""
        return self.context or self.env(name, read_env=False).settings.context

    def docker(self, context: str | None = None) -> Docker:
        """An engine, unbound to any compose project (listing containers, pinging); the
        default one (or --context's) unless ``context`` is given."""
        from dashenv.adapters.docker import Docker

        key = context or self.context
        if key not in self._dockers:
            self._dockers[key] = Docker(context=key, verbose=self.verbose)
        return self._dockers[key]

    def audit_path(self) -> Path:
        project = self.project()
        return project.path_of(project.options.audit_log)

    def certs_dir(self) -> Path:
        project = self.project()
        return project.path_of(project.options.certs_dir)
