"""Instances across checkouts: claiming an environment when it starts (owner or instance,
and the instance's leased host ports), releasing it, listing every instance the engine runs,
and garbage collection of what removed checkouts and killed runs left behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashenv.guards import RESET_ROLES

if TYPE_CHECKING:
    from dashenv.context import Environment, RunContext
    from dashenv.facts import Container


@dataclass
class InstanceRow:
    project: str
    environment: str | None
    instance: str  # "" for an owner
    checkout: str | None
    checkout_exists: bool
    containers: int
    running: int
    ports: list[int] = field(default_factory=list)
    protected: bool | None = None
    images: list[str] = field(default_factory=list)  # the instance's own image tags

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_instances(ctx: RunContext) -> list[InstanceRow]:
    """Every dashenv instance the default engine runs (its containers' dashenv labels), and
    every project the registry knows an owner of, with the checkout and its ports."""
    from dashenv.adapters.registry import Registry

    data = Registry().read()
    mine: dict[str, str] = {}  # this checkout's environments by their default project
    for e in ctx.environments():
        try:
            mine[e.view(read_env=False, base=True).settings.project_name] = e.name
        except Exception:  # an environment this checkout cannot resolve: listed without
            continue
    by_project: dict[str, list[Container]] = {}
    for c in ctx.docker().all_containers():
        if c.project:
            by_project.setdefault(c.project, []).append(c)
    rows = []
    for project, containers in sorted(by_project.items()):
        labelled = next((c for c in containers if c.instance), None)
        if labelled is not None:
            checkout = labelled.checkout
            instance = labelled.instance or ""
        elif project in data.owners:
            checkout, instance = data.owners[project], ""
        else:
            continue
        env = next((c.environment for c in containers if c.environment), mine.get(project))
        protected = next((c.protected for c in containers if c.protected is not None), None)
        rows.append(
            InstanceRow(
                project=project,
                environment=env,
                instance=instance,
                checkout=checkout,
                checkout_exists=checkout is not None and Path(checkout).is_dir(),
                containers=len(containers),
                running=sum(c.state == "running" for c in containers),
                ports=sorted({p.host_port for c in containers for p in c.ports}),
                protected=protected,
                images=sorted(
                    {c.image for c in containers if instance and c.image.endswith(f":{instance}")}
                ),
            )
        )
    return rows


@dataclass
class Garbage:
    kind: str  # instance, lease, database, snapshot
    what: str
    size_bytes: int | None
    why: str
    remove: Callable[[], None] = field(repr=False, default=lambda: None)
    skipped: str | None = None  # why it stays (a protected instance's volumes)


def collect(
    ctx: RunContext, *, include_protected: bool, say: Callable[[str], None]
) -> list[Garbage]:
    """What gc would remove: instances whose checkout is gone (containers, networks, and
    volumes unless protected), expired leases and registry entries, and in this checkout's
    running test environments the reset's scratch databases, stale templates and worker
    databases no run holds, and automatic snapshots beyond snapshot_keep. An environment
    whose compose project another checkout started is left alone, and ``say`` names it."""
    from dashenv.adapters.registry import Registry

    found: list[Garbage] = []
    docker = ctx.docker()
    sizes = docker.volume_sizes()
    for row in list_instances(ctx):
        if row.checkout_exists:
            continue
        volumes = docker.project_volumes(row.project)
        keep = bool(row.protected is not False) and not include_protected
        size = sum(sizes.get(v, 0) for v in volumes) if volumes else 0
        found.append(
            Garbage(
                "instance",
                f"{row.project} ({row.containers} containers, {len(volumes)} volumes, "
                f"{len(row.images)} images)",
                None if keep else size,
                f"its checkout {row.checkout} no longer exists",
                remove=partial(
                    docker.remove_project, row.project, volumes=not keep, images=row.images
                ),
                skipped="its volumes stay (protected or unknown: --include-protected)"
                if keep and volumes
                else None,
            )
        )
    data = Registry().read()
    gone = {c for c in {*data.owners.values(), *data.names, *(x.checkout for x in data.leases)}}
    gone = {c for c in gone if not Path(c).is_dir()}
    for lease in data.leases:
        if lease.checkout in gone:
            found.append(
                Garbage(
                    "lease",
                    f"port {lease.port} ({lease.environment} {lease.instance or ''}"
                    f" {lease.slot})".replace("  ", " "),
                    None,
                    f"its checkout {lease.checkout} no longer exists",
                )
            )
    if gone:
        found.append(
            Garbage(
                "registry",
                f"{len(gone)} removed checkouts",
                None,
                "owners and instance names of checkouts that no longer exist",
                remove=partial(_forget_checkouts, gone),
            )
        )
    found += _database_garbage(ctx, say)
    return found


def _forget_checkouts(gone: set[str]) -> None:
    from dashenv.adapters.registry import Registry

    with Registry().change() as data:
        data.owners = {p: c for p, c in data.owners.items() if c not in gone}
        data.names = {c: n for c, n in data.names.items() if c not in gone}
        data.leases = [lease for lease in data.leases if lease.checkout not in gone]


def _database_garbage(ctx: RunContext, say: Callable[[str], None]) -> list[Garbage]:
    """Scratch databases of this checkout's running environments (test roles only), and
    automatic snapshots beyond snapshot_keep (any role: they are dashenv's own copies)."""
    from dashenv.adapters.locks import is_held
    from dashenv.errors import DashenvError
    from dashenv.plan.names import ResetNames, is_run_database
    from dashenv.steps.database_lock import is_database_locked
    from dashenv.steps.ownership import ownership
    from dashenv.steps.resetting import reset_names
    from dashenv.steps.snapshots import drop_under_lock, parse_listing
    from dashenv.steps.workers import lock_path

    found: list[Garbage] = []
    for e in ctx.environments():
        name = e.name
        try:
            env = e.env
            db = env.app.database()
            s = env.settings
            if db is None or s.postgres_port is None:
                continue
            pg = e.postgres(timeout=3)
            sizes = {d.name: d.size_bytes for d in pg.databases()}
        except DashenvError:
            continue  # not running, or not reachable: nothing to collect there
        database = db.database
        other = ownership(e).owner
        if other is not None:
            say(
                f"left {name}: compose project {s.project_name} runs from another checkout, "
                f"{other}; gc acts only on this checkout's"
            )
            continue
        if is_database_locked(e):
            continue  # a reset, restore or snapshot is at work on it: its copies are its own
        if s.role in RESET_ROLES and not s.protected:
            try:
                current = reset_names(env, database)
            except DashenvError:  # no migrations to key a template by: every one is stale
                current = ResetNames(database, "")
            left = set(current.leftovers(list(sizes)))
            run_going = is_held(lock_path(env.project.root, name))
            for other in sorted(sizes):
                why = None
                if other in left and current.is_template(other):
                    why = "a template of migrations this checkout no longer has"
                elif other in left:
                    why = "a reset's scratch database, left by one that did not end"
                elif is_run_database(other, database) and not run_going:
                    why = "a worker database no running test run holds"
                if why:
                    found.append(
                        Garbage(
                            "database",
                            f"{name}: {other}",
                            sizes[other],
                            why,
                            remove=partial(pg.drop_database, other),
                        )
                    )
        autos = [x for x in parse_listing(pg, database) if x.auto]
        for extra in sorted(autos, key=lambda x: x.taken_at, reverse=True)[s.snapshot_keep :]:
            found.append(
                Garbage(
                    "snapshot",
                    f"{name}: {extra.name}",
                    extra.size_bytes,
                    f"an automatic snapshot beyond snapshot_keep = {s.snapshot_keep}",
                    remove=partial(drop_under_lock, e, pg, extra.database),
                )
            )
    return found


def owner_checkout(e: Environment) -> Path | None:
    """Where the git-ignored files of this checkout's ``name`` can be copied from: the
    checkout that owns its default project (the registry), else the main worktree of a
    linked git worktree; None where this checkout is that one."""
    from dashenv.adapters.git import main_worktree
    from dashenv.adapters.registry import Registry
    from dashenv.observe.layouts import checkout_of

    base = e.view(read_env=False, base=True)
    here = checkout_of(base)
    owner = Registry().read().owners.get(base.settings.project_name)
    if owner and owner != here and Path(owner).is_dir():
        return Path(owner)
    return main_worktree(Path(here))


def owner_copy_source(e: Environment) -> tuple[Path, str] | None:
    """Where ``name``'s missing env file can be copied from: (the owner checkout, the env
    file's path); None when the file exists here or the owner has none."""
    bare = e.view(read_env=False, base=True)
    env_file = bare.settings.env_file
    if bare.path(env_file).exists():
        return None
    owner = owner_checkout(e)
    if owner is None or not (owner / env_file).is_file():
        return None
    return owner, env_file


def copy_from_owner(e: Environment, owner: Path) -> list[str]:
    """Copy ``name``'s env file (private) and, when missing here, the certificates from the
    owner checkout; what was copied, a line each."""
    ctx, name = e.ctx, e.name
    import shutil

    bare = e.view(read_env=False, base=True)
    env_file = bare.settings.env_file
    target = bare.path(env_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(owner / env_file, target)
    target.chmod(0o600)
    done = [f"{name}: copied {env_file} from {owner}"]
    root = ctx.project().root
    certs = ctx.certs_dir()
    if certs.is_relative_to(root) and not certs.exists():
        relative = certs.relative_to(root)
        if (owner / relative).is_dir():
            shutil.copytree(owner / relative, certs)
            done.append(f"copied {relative}/ from {owner}")
    return done
