"""Layouts: what each way of laying an environment out means, in one place.

One strategy per layout, each answering the same questions for the environment it lays out:

- ``resolve``: which compose files and which project name (its settings through every layer,
  with the override dashenv generates for it), reconciled with what the files say;
- ``override``: the compose override dashenv generates for it, if any;
- ``running``: which services run;
- ``leased``: which host ports (slots, ``<service>:<container port>``) are leased for it when
  it starts.

The layouts:

- ``Own``: compose files of its own (the seed's per-environment files, or any project's own
  files, dev's included);
- ``Overlay``: files of its own that share a server with another environment
  (``exclusive_with``: the seed's older base file plus a test overlay, one PostgreSQL);
- ``Derived``: made from another environment's compose files (``derived_from``) by a
  generated override and env file (``dashenv.plan.derive``);
- ``Isolated``: files of its own that clash with another's (container names, host ports),
  made to run beside it by a generated override (``isolated``);
- ``Instance``: any of the above as a checkout other than the owner of its default project
  runs it (a worktree, a second clone, ``--instance``): its own project, names and leased
  ports, by a generated override under ``.dashenv/instances/``.

Detection (``dashenv.plan.detect``) proposes a layout by the keys it writes to dashenv.toml;
``choose`` reads them back (``derived_from`` from dashenv.toml, ``isolated`` and
``exclusive_with`` through every layer). The rest of the code asks the strategy, which the
resolved environment carries (``ResolvedEnvironment.layout``).

Which checkout owns which project, each checkout's instance name and the port leases come
from the machine-wide registry (``dashenv.adapters.registry``); ``steps.leases.claim``
records them when an environment is started.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from dashenv.errors import ConfigError

if TYPE_CHECKING:
    from dashenv.adapters.registry import RegistryData
    from dashenv.plan.derive import DeriveSpec
    from dashenv.settings.project import ProjectConfig
    from dashenv.settings.sources import ResolvedEnvironment

KINDS = ("own", "overlay", "derived", "isolated")  # what detection may propose

DERIVED_DIR = ".dashenv/derived"
STAMP_PATH = f"{DERIVED_DIR}/dashenv-stamp.sh"  # mounted into a derived PostgreSQL's initdb
# mounted as a derived PostgreSQL's whole initdb directory where the project mounts its own
STAMP_DIR = f"{DERIVED_DIR}/initdb"


def stamp_files() -> dict[str, str]:
    """dashenv's init files of a derived PostgreSQL (relative path -> text)."""
    from dashenv.plan.derive import PROJECT_INITDB_SCRIPT, STAMP_SCRIPT

    return {
        STAMP_PATH: STAMP_SCRIPT,
        f"{STAMP_DIR}/00-dashenv-stamp.sh": STAMP_SCRIPT,
        f"{STAMP_DIR}/01-dashenv-project-initdb.sh": PROJECT_INITDB_SCRIPT,
    }


# what a derived environment takes from its source, unless a layer sets it
INHERITED = (
    "app_service", "callback_service", "postgres_service", "redis_service", "host",
    "migration_command", "migrations_dir", "alembic_config", "alembic_command",
    "test_command", "test_runner", "health_path", "up_timeout", "context", "redis_indexes",
    "host_dir", "app_scheme", "profiles",
)  # fmt: skip
MOVABLE = ("default", "compose files")  # the layers an allocated port stands above


def choose(project: ProjectConfig, name: str, layered: ResolvedEnvironment | None) -> Layout:
    """The layout of ``name``: ``Derived`` where dashenv.toml derives it (``layered`` is then
    None: its defaults come from its source), else by its layered settings."""
    from dashenv.settings.sources import derived_from

    source = derived_from(project, name)
    if source is not None:
        return Derived(name, source)
    assert layered is not None
    if layered.settings.isolated:
        return Isolated(name)
    if layered.settings.exclusive_with:
        return Overlay(name)
    return Own(name)


class Layout:
    """What every layout answers; ``Own`` answers as plain compose files do."""

    kind: ClassVar[str] = "own"
    source: str | None = None  # the environment whose compose files it is made from

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def override(self) -> str | None:
        """The compose override dashenv generates for it (relative to the project)."""
        return None

    def running(self, env: ResolvedEnvironment) -> list[str]:
        """The services that run (all its files declare, where nothing is planned)."""
        if env.derivation is not None:
            return list(env.derivation.running)
        return list(env.files.services) if env.files is not None else []

    def leased(self, env: ResolvedEnvironment) -> list[str]:
        """The slots leased for it when it starts (none: its files' ports hold)."""
        return []

    @property
    def generates_env_file(self) -> bool:
        """Its env file is generated on every run (from its source's), not kept."""
        return False


class Own(Layout):
    """Compose files of its own: its project and ports are what its layers and files say."""

    kind = "own"


class Overlay(Own):
    """Files of its own sharing a server with ``exclusive_with`` (one PostgreSQL, one compose
    project): starting one stops the other first; the guards allow only what the sharing
    declares."""

    kind = "overlay"


class _Planned(Layout):
    """A layout whose override ``dashenv.plan.derive`` plans: its PostgreSQL and Redis
    publish leased host ports."""

    def override(self) -> str | None:
        return f"{DERIVED_DIR}/{self.name}.yml"

    def leased(self, env: ResolvedEnvironment) -> list[str]:
        running = set(self.running(env))
        return [slot for slot in _server_slots(env) if slot.split(":")[0] in running]

    @staticmethod
    def spec(env: ResolvedEnvironment, source: ResolvedEnvironment, **extra: Any) -> DeriveSpec:
        """What ``plan.derive`` needs to plan ``env``'s override from ``source``'s files."""
        from dashenv.plan.derive import DeriveSpec

        s = env.settings
        return DeriveSpec(
            environment=env.name,
            source=source.name,
            project=s.project_name,
            source_project=source.settings.project_name,
            postgres_service=s.postgres_service,
            redis_service=s.redis_service,
            app_service=s.app_service,
            ports=_leases_for(env),
            host=s.host,
            stamp_script=str(env.path(STAMP_PATH)),
            stamp_dir=str(env.path(STAMP_DIR)),
            postgres_images=tuple(env.project.options.postgres_images),
            **extra,
        )


class Isolated(_Planned):
    """Files of its own that clash with another environment's, made to run beside it: the
    names its files share made its own, its PostgreSQL and Redis on leased ports, the host
    ports it shares not published, its data on tmpfs (a test role only)."""

    kind = "isolated"

    def beside(self, project: ProjectConfig) -> list[str]:
        """The environments it runs beside: the others with files of their own, neither
        derived nor isolated themselves (as dashenv.toml declares them)."""
        from dashenv.settings.sources import derived_from

        return [
            other
            for other in project.environment_names()
            if other != self.name
            and derived_from(project, other) is None
            and not project.environments.get(other, {}).get("isolated")
        ]

    def apply(
        self, env: ResolvedEnvironment, others: list[ResolvedEnvironment], *, verbose: bool = False
    ) -> ResolvedEnvironment:
        """``env`` (its files read) made to run beside ``others``."""
        from dashenv.guards import RESET_ROLES
        from dashenv.observe.compose import with_compose_files
        from dashenv.plan.derive import clashing_ports, derive
        from dashenv.settings.layers import Origin

        s = env.settings
        if env.files is None:
            return replace(env, layout=self)
        if s.protected or s.role not in RESET_ROLES:
            raise ConfigError(
                f"{env.name}: isolated puts its data on tmpfs, and {env.name} is "
                f"{'protected' if s.protected else 'a ' + s.role + ' environment'}",
                hint=f"set isolated only on a test environment (role testing or ci), or "
                f"remove it from {env.name}",
            )
        model = env.files.model
        clashing: frozenset[int] = frozenset()
        for other in others:
            if other.files is not None:
                clashing |= clashing_ports(model, other.files.model)
        derivation = derive(model, self.spec(env, env, isolate=True, clashing=clashing))
        rel = self.override()
        assert rel is not None
        generated = {**env.generated, rel: derivation.override, **stamp_files()}
        # what the files alone said is asked of them again, override included
        provenance = {
            k: Origin("default", k) if o.layer == "compose files" else o
            for k, o in env.provenance.items()
        }
        provenance["compose_files"] = Origin("derived", "compose_files", path=f"isolated: + {rel}")
        isolated = replace(
            env,
            settings=s.model_copy(update={"compose_files": [*s.compose_files, rel]}),
            provenance=provenance,
            files=None,
            generated=generated,
            derivation=derivation,
            layout=self,
        )
        return with_compose_files(isolated, verbose=verbose)


class Derived(_Planned):
    """Made from ``source``'s compose files: their services plus a generated override (its
    own project, names and volumes, its servers on leased ports, the services it does not
    need off) and an env file generated from the source's."""

    kind = "derived"

    def __init__(self, name: str, source: str):
        super().__init__(name)
        self.source = source

    @property
    def generates_env_file(self) -> bool:
        return True

    def env_file(self) -> str:
        return f"{DERIVED_DIR}/{self.name}.env"

    def check(self, project: ProjectConfig) -> None:
        """Its source is another environment, itself not derived."""
        from dashenv.settings.sources import derived_from

        name, source = self.name, self.source
        assert source is not None
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

    def defaults(self, source: ResolvedEnvironment) -> dict[str, Any]:
        """Its defaults, from its source's: the source's files plus the override, the
        generated env file, a project of its own, a test role."""
        s = source.settings
        found: dict[str, Any] = {k: getattr(s, k) for k in INHERITED}
        found.update(
            role="ci" if self.name == "ci" else "testing",
            protected=False,
            compose_files=[*s.compose_files, self.override()],
            env_file=self.env_file(),
            project_name=f"{s.project_name}-{self.name}",
            app_http=False,
        )
        return found

    def apply(
        self, env: ResolvedEnvironment, source: ResolvedEnvironment, *, verbose: bool = False
    ) -> ResolvedEnvironment:
        """``env`` (resolved with ``defaults``) with its override and env file generated from
        ``source``'s compose model and env file, then reconciled with the result."""
        from dashenv.observe.compose import with_compose_files
        from dashenv.plan.derive import account_of, derive, env_text
        from dashenv.settings.envfile import parse_env_text

        if source.files is None:
            # Compose could not read the source's files: the commands say why
            return replace(env, layout=self)
        s = env.settings
        model = source.files.model
        spec = self.spec(
            env,
            source,
            markers=s.markers_given,
            wanted=tuple(s.profiles),
            host_runner=s.test_runner == "host",
        )
        derivation = derive(model, spec)
        pg = model.services.get(s.postgres_service)
        entries = _source_entries(source)
        shown = source.settings.env_file if entries is not None else None
        text = env_text(
            {k: e.value for k, e in (entries or {}).items() if not k.startswith("DASHENV_")},
            derivation,
            account_of(pg) if pg is not None else None,
            s.postgres_service,
            shown,
        )
        override = self.override()
        assert override is not None
        generated = {
            **env.generated,
            override: derivation.override,
            self.env_file(): text,
            **stamp_files(),
        }
        derived = replace(
            env,
            generated=generated,
            env_entries=parse_env_text(text, s.env_file),
            derivation=derivation,
            layout=self,
        )
        return with_compose_files(derived, verbose=verbose)


class Instance:
    """Any layout as this checkout runs it. The owner of the default compose project keeps
    its names and ports (unchanged, unless it holds leases); any other checkout, or one
    given ``--instance``, runs its own instance."""

    def __init__(self, explicit: str | None):
        self.explicit = explicit  # --instance / DASHENV_INSTANCE

    def current(self, env: ResolvedEnvironment, data: RegistryData) -> str:
        """This checkout's instance of ``env``: the one asked for, else none ("") where this
        checkout owns the default project or nobody does yet, else the checkout's instance
        name (from its directory)."""
        from dashenv.plan.allocation import instance_name

        if self.explicit is not None:
            return self.explicit
        checkout = checkout_of(env)
        owner = data.owners.get(env.settings.project_name)
        if owner is None or owner == checkout:
            return ""
        taken = {v for k, v in data.names.items() if k != checkout}
        return data.names.get(checkout) or instance_name(checkout, taken)

    @staticmethod
    def override(env_name: str, instance: str) -> str:
        return f".dashenv/instances/{env_name}{'-' + instance if instance else ''}.yml"

    @staticmethod
    def leased(env: ResolvedEnvironment) -> list[str]:
        """An instance leases every port its files publish, but those a layer sets."""
        from dashenv.plan.allocation import slots_of

        if env.files is None:
            return []
        fixed = fixed_slots(env)
        return [slot for slot, _, _, _ in slots_of(env.files.model) if slot not in fixed]

    def apply(self, env: ResolvedEnvironment, *, verbose: bool = False) -> ResolvedEnvironment:
        """``env`` as this checkout's instance runs it (unchanged for the owner without
        leases)."""
        from dashenv.adapters.registry import Registry
        from dashenv.observe.compose import with_compose_files
        from dashenv.plan.allocation import InstanceSpec, override_file
        from dashenv.settings.layers import Origin

        if env.files is None:
            return env  # Compose could not be asked: nothing to make an instance of
        data = Registry().read()
        instance = self.current(env, data)
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
        rel = self.override(env.name, instance)
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


def checkout_of(env: ResolvedEnvironment) -> str:
    return str(env.project.root.resolve())


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


def _server_slots(env: ResolvedEnvironment) -> list[str]:
    """The slots a planned layout publishes on leased ports: its PostgreSQL and Redis."""
    s = env.settings
    return [f"{s.postgres_service}:5432", f"{s.redis_service}:6379"]


def _leases_for(env: ResolvedEnvironment) -> dict[str, int]:
    """The host ports leased to ``env``'s servers in this checkout (slot -> port)."""
    from dashenv.adapters.registry import Registry

    checkout = checkout_of(env)
    wanted = _server_slots(env)
    return {
        lease.slot: lease.port
        for lease in Registry().read().leases
        if (lease.checkout, lease.environment, lease.instance) == (checkout, env.name, "")
        and lease.slot in wanted
    }


def _source_entries(source: ResolvedEnvironment) -> Any:
    """The source's env file entries, or None without one."""
    from dashenv.settings.envfile import read_env_file

    if source.env_entries is not None:
        return source.env_entries
    path = source.path(source.settings.env_file)
    if not path.is_file():
        return None
    try:
        return read_env_file(path, source.settings.env_file)
    except ConfigError:
        return None
