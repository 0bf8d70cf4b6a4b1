"""The run context and the environments it resolves: what the root options selected, and
each environment resolved once into an ``Environment`` object.

Workflows receive the objects (tox's ``State`` hands out its ``ToxEnv``s the same way); the
CLI builds the context from its options and asks it for the environments a command names.
It imports nothing heavy: settings, adapters and pydantic load on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.adapters.docker import Docker
    from dashenv.adapters.postgres import Postgres
    from dashenv.adapters.redis import Redis
    from dashenv.facts import ComposeModel
    from dashenv.plan.networks import NetworkRepair
    from dashenv.settings.model import EnvironmentSettings
    from dashenv.settings.project import ProjectConfig
    from dashenv.settings.sources import Layout, ResolvedEnvironment

Extra = tuple[tuple[str, str], ...]
# progress of a long step (a database copy): (what, total bytes) -> a context whose value is
# the callback the step calls with the bytes done, or None where nothing is shown
Progress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None] | None]]
DEFAULT_TIMEOUT = 5.0  # seconds to connect to a server; observers (status, doctor, gc) ask less


@contextmanager
def no_progress(what: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """The null progress (hatch's null status): nothing shown."""
    yield None


class Environment:
    """One environment of the project, resolved once: its settings through every layer
    reconciled with its compose files (``resolved``), its compose target (``docker``, bound
    to its project, files and env file), and the engine it runs on (``engine``), each made
    on first use and kept, as are its PostgreSQL and Redis clients (``postgres``, ``redis``).

    What changes an environment (a lease, a created env file) gives a new object
    (``renewed``) that the run context hands out from then on; this one stays as it was.
    """

    def __init__(self, ctx: RunContext, name: str, extra: Extra = (), lenient: bool = False):
        self.ctx = ctx
        self.name = name
        self.extra = extra
        # for listing and teardown: a missing env file is reported, not fatal
        self.lenient = lenient
        self._views: dict[tuple[bool, bool], ResolvedEnvironment] = {}
        self._docker: Docker | None = None
        self._postgres: dict[tuple[float, bool, str], Postgres] = {}

    def __repr__(self) -> str:
        return f"Environment({self.name!r})"

    # -- what it is --------------------------------------------------------------------

    def view(self, *, read_env: bool = True, base: bool = False) -> ResolvedEnvironment:
        """Resolved through every layer, reconciled with what its compose files say, as this
        checkout's instance runs it (``base``: as the owner of its default project does;
        ``read_env=False``: without reading its env file)."""
        if self.lenient:  # the same views as the strict object's, resolved once for both
            return self.ctx.environment(self.name, dict(self.extra)).view(
                read_env=read_env, base=base
            )
        key = (read_env, base)
        if key not in self._views:
            if base:
                self._views[key] = self._resolve_owned(read_env)
            else:
                from dashenv.observe.layouts import Instance

                owned = self.view(read_env=read_env, base=True)
                self._views[key] = Instance(self.ctx.instance).apply(
                    owned, verbose=self.ctx.verbose
                )
        return self._views[key]

    @property
    def resolved(self) -> ResolvedEnvironment:
        """Every layer, the env file's included (for a lenient object, only where the file
        exists)."""
        if self.lenient and not self.has_env_file:
            return self.bare
        return self.view()

    env = resolved  # the name the steps read it by (``t.env.settings``)

    @property
    def bare(self) -> ResolvedEnvironment:
        """Every layer but the env file (for what must work before it exists)."""
        return self.view(read_env=False)

    @property
    def owned(self) -> ResolvedEnvironment:
        """As the owner of its default project runs it (no instance)."""
        return self.view(base=True)

    @property
    def layout(self) -> Layout:
        """How it is laid out (``observe.layouts``): which files, project, override, services
        and leased ports, as a strategy answers them."""
        layout = self.bare.layout
        assert layout is not None  # the views are resolved through a layout
        return layout

    @property
    def has_env_file(self) -> bool:
        bare = self.bare
        return (
            bare.path(bare.settings.env_file).is_file() or bare.settings.env_file in bare.generated
        )

    @property
    def settings(self) -> EnvironmentSettings:
        return self.resolved.settings

    @property
    def project_name(self) -> str:
        return self.resolved.settings.project_name

    @property
    def context(self) -> str | None:
        """The Docker context it runs on: --context, else its ``context`` setting, else the
        default engine (None)."""
        return self.ctx.context or self.bare.settings.context

    # -- what it runs on ---------------------------------------------------------------

    @property
    def engine(self) -> Docker:
        """The engine it runs on, unbound to any compose project."""
        return self.ctx.docker(self.context)

    @property
    def docker(self) -> Docker:
        """A Docker adapter bound to its compose project: files, project name, env file
        (written where dashenv generates them; an empty env file for a lenient object whose
        file is missing, so that 'down' and 'logs' still work)."""
        if self._docker is None:
            self._docker = self._bind()
        return self._docker

    def postgres(
        self, *, timeout: float = DEFAULT_TIMEOUT, observer: bool = False, home: str = "postgres"
    ) -> Postgres:
        """A client of its PostgreSQL as the host reaches it (``host`` and the published
        ``postgres_port``), as the role its DATABASE_URL names (``postgres`` where it names
        none); made on first use and kept for the command (closing it closes its connections,
        the next use opens new ones). An ``observer`` (status) keeps one connection per
        database it reads; ``home`` is the database of its maintenance connection (an
        observer's may be the one it reads anyway: one connection instead of two). Raises
        ConfigError where the environment cannot have one; callers that can say why in their
        own words check ``app.database()`` and the port first."""
        key = (timeout, observer, home)
        if key not in self._postgres:
            from dashenv.adapters.postgres import Postgres

            env = self.resolved
            s, db = env.settings, env.app.database()
            if db is None or s.postgres_port is None:
                why = f"no DATABASE_URL in {s.env_file}" if db is None else "no published port"
                raise ConfigError(
                    f"{self.name} has no PostgreSQL dashenv can reach ({why})",
                    hint=f"set DATABASE_URL in {s.env_file} and postgres_port for {self.name}",
                )
            self._postgres[key] = Postgres(
                s.host,
                s.postgres_port,
                db.user or "postgres",
                db.password,
                timeout=timeout,
                keep=observer,
                home=home,
            )
        return self._postgres[key]

    def redis(self, index: int | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> Redis:
        """A client of its Redis as the host reaches it (``host`` and the published
        ``redis_port``), on ``index`` (its first index where none is given). Raises
        ConfigError where it publishes no Redis."""
        from dashenv.adapters.redis import Redis

        env = self.resolved
        s = env.settings
        if s.redis_port is None:
            raise ConfigError(
                f"{self.name} has no Redis dashenv can reach (no published port)",
                hint=f"set redis_port for {self.name}",
            )
        chosen = env.redis_indexes[0] if index is None else index
        return Redis(s.host, s.redis_port, chosen, timeout=timeout)

    def compose_model(self) -> ComposeModel:
        """The resolved compose model: the files layer's (cached by the files' content), or
        asked of Compose now where that layer could not (Compose's error then surfaces)."""
        if self.resolved.files is not None:
            return self.resolved.files.model
        return self.docker.compose_model()

    def network_repair(self, compose: ComposeModel) -> NetworkRepair:
        """What the project's networks need before Compose can use them: a network the files
        fix that exists twice loses the copies no container uses (``plan.networks``), from
        the engine's listing now (up repairs it, doctor reports it)."""
        from dashenv.plan.networks import repair

        fixed = frozenset(compose.fixed_networks.values())
        return repair(self.docker.networks(self.project_name, fixed))

    # -- the others --------------------------------------------------------------------

    def other(self, name: str) -> Environment:
        """Another environment of the same project, as this run resolves it."""
        return self.ctx.environment(name)

    def leniently(self) -> Environment:
        """The same environment for listing and teardown: a missing env file is reported, not
        fatal."""
        return self.ctx.environment(self.name, dict(self.extra), lenient=True)

    def renewed(self) -> Environment:
        """This environment resolved again (after its leases, instance or env file changed):
        a new object, which the run context hands out from now on."""
        return self.ctx.renew(self)

    # -- resolving ---------------------------------------------------------------------

    def _resolve_owned(self, read_env: bool) -> ResolvedEnvironment:
        """As its layout (``observe.layouts``) lays it out, for the owner of its project."""
        from dashenv.observe import layouts
        from dashenv.observe.compose import with_compose_files
        from dashenv.settings.sources import derived_from, resolve_environment

        project = self.ctx.project()
        cli = {**self.ctx.overrides, **dict(self.extra)}
        verbose = self.ctx.verbose
        if derived_from(project, self.name) is not None:
            derived = layouts.choose(project, self.name, None)
            assert isinstance(derived, layouts.Derived) and derived.source is not None
            derived.check(project)
            from_env = self.other(derived.source)
            origin = from_env.view(read_env=False, base=True)
            if origin.path(origin.settings.env_file).is_file():
                origin = from_env.view(base=True)
            layered = resolve_environment(
                project, self.name, cli, read_env=False, derived=derived.defaults(origin)
            )
            return derived.apply(layered, origin, verbose=verbose)
        layered = resolve_environment(project, self.name, cli, read_env=read_env)
        layout = layouts.choose(project, self.name, layered)
        found = replace(with_compose_files(layered, verbose=verbose), layout=layout)
        if isinstance(layout, layouts.Isolated):
            others = [self.other(o).view(read_env=False, base=True) for o in layout.beside(project)]
            return layout.apply(found, others, verbose=verbose)
        return found

    def _bind(self) -> Docker:
        from dashenv.adapters.docker import Docker
        from dashenv.plan.compose import compose_invocation

        env = self.resolved
        _write_generated(env)
        _require_compose_files(env)
        inv = compose_invocation(
            env.settings,
            env.project.root,
            env.name,
            self.context,
            pass_project=env.files.pass_project if env.files else True,
        )
        if self.lenient and not inv.env_file.is_file():
            # compose insists on the env files existing; an empty one keeps 'down' and 'logs'
            # working
            empty = Path("/dev/null")
            inv = replace(
                inv, env_file=empty, variables={**inv.variables, "DASHENV_ENV_FILE": str(empty)}
            )
        return Docker(inv, verbose=self.ctx.verbose)


@dataclass
class RunContext:
    project_dir: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    context: str | None = None  # a Docker context (a remote engine)
    verbose: bool = False
    instance: str | None = None  # --instance / DASHENV_INSTANCE: this run's instance name
    # how a long step shows its progress (the CLI shows it on a terminal; the API nothing)
    progress: Progress = field(default=no_progress, repr=False)
    _project: ProjectConfig | None = field(default=None, repr=False)
    _environments: dict[tuple[str, Extra, bool], Environment] = field(
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

    def environment(
        self, name: str, extra: dict[str, str] | None = None, *, lenient: bool = False
    ) -> Environment:
        """The environment ``name`` (with this command's ``extra`` flags), made once per run;
        ``lenient``: for listing and teardown, where a missing env file is reported, not
        fatal. Resolving waits for first use."""
        key = (name, tuple(sorted((extra or {}).items())), lenient)
        if key not in self._environments:
            self._environments[key] = Environment(self, name, key[1], lenient)
        return self._environments[key]

    def reread_project(self) -> None:
        """Read the project again (its dashenv.toml was just written): every environment is
        resolved anew from it."""
        self._project = None
        self._environments.clear()

    def environments(self, *, lenient: bool = False) -> list[Environment]:
        """Every environment of the project, in the order the project lists them."""
        return [self.environment(n, lenient=lenient) for n in self.environment_names()]

    def renew(self, old: Environment) -> Environment:
        """A new object for ``old``'s environment, handed out from now on in place of every
        object of that name (and of the environments derived from it)."""
        from dashenv.settings.sources import derived_from

        names = {old.name}
        for other in self.environment_names():
            if derived_from(self.project(), other) == old.name:
                names.add(other)
        for key in [k for k in self._environments if k[0] in names]:
            self._environments[key] = Environment(self, key[0], key[1], key[2])
        return self.environment(old.name, dict(old.extra), lenient=old.lenient)

    def environment_names(self) -> list[str]:
        return self.project().environment_names()

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


def _require_compose_files(env: ResolvedEnvironment) -> None:
    """A compose file that does not exist is a configuration error (exit 2), named with the
    layer that configured it, before Compose is asked anything."""
    for relative in env.settings.compose_files:
        if not env.path(relative).is_file():
            raise env.missing_path(
                "compose_files",
                relative,
                "create it, or point compose_files at the environment's compose files",
                what="compose file",
            )


def _write_generated(env: ResolvedEnvironment) -> None:
    """Write the compose files dashenv generates for ``env`` (an instance's override), where
    they are missing or differ: the Compose line about to run (or be printed) names them."""
    for relative, text in env.generated.items():
        path = env.project.root / relative
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if env.generated:
        marker = env.project.root / ".dashenv" / ".gitignore"
        if not marker.is_file():  # .dashenv/ keeps itself out of git
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("# written by dashenv: nothing here belongs in version control\n*\n")
