"""Configuration commands: envs, config show, config compose, init."""

from typing import TYPE_CHECKING, Annotated

import typer

from dashenv.cli.params import EnvArg, JsonOpt
from dashenv.cli.state import state

if TYPE_CHECKING:
    from dashenv.context import Environment, RunContext


def register(app: typer.Typer) -> None:
    from dashenv.cli import new_app

    config_app = new_app("config", help="Show the resolved configuration and where it comes from.")
    app.add_typer(config_app)
    app.command("envs")(envs)
    app.command("init")(init)
    config_app.command("show")(show)
    config_app.command("compose")(compose)


def envs(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List the environments: role, compose files, env file, project and host ports."""
    from dashenv import render
    from dashenv.workflows.config import environments_document

    doc = environments_document(state(ctx))
    render.print_json(doc) if json else render.environments(doc)


def show(
    ctx: typer.Context,
    env: EnvArg,
    json: JsonOpt = False,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show secrets unmasked.")] = False,
) -> None:
    """Every resolved value of ENV with the layer it came from (file and line for files).

    Layers, highest first: --set flags, process environment (DASHENV_*), the env file,
    dashenv.toml, built-in defaults. Secrets are masked unless --reveal.
    """
    from dashenv import render
    from dashenv.workflows.config import config_document

    e = state(ctx).environment(env)
    doc = config_document(e.resolved, reveal)
    if json:
        render.print_json(doc)
        return
    render.config(doc)
    _rewrites(e, reveal)


def _rewrites(e: "Environment", reveal: bool) -> None:
    """What a test-side environment's processes are handed in place of the values its files
    give: in its containers (a derived override) and on the host."""
    from dashenv.settings.secrets import mask_url
    from dashenv.steps.isolation import is_test_side
    from dashenv.steps.targets import handed_on_host

    name, resolved = e.name, e.resolved
    if not is_test_side(resolved):
        return
    rewrites = resolved.derivation.rewrites if resolved.derivation is not None else []
    # the files as written, where Compose could not read them yet (an env file to be made):
    # what they hold is known once it exists
    rewrites = [r for r in rewrites if "${" not in r[2]]
    shown = (lambda v: v) if reveal else mask_url
    if rewrites:
        source = resolved.settings.derived_from or name
        typer.echo(f"\nRewritten for {name} (the values {source}'s files give its services):")
        for service, key, what in rewrites:
            typer.echo(f"  {service}: {key}: {shown(what)}")
    on_host = handed_on_host(e)
    if on_host:
        typer.echo(f"\nHanded to {name}'s processes on the host in place of its env file's:")
        for key, old, new in on_host:
            typer.echo(f"  {key}: {shown(old)} -> {shown(new)}")


def compose(
    ctx: typer.Context,
    env: EnvArg,
    args: Annotated[
        list[str] | None, typer.Argument(help="Compose arguments to append (default: config).")
    ] = None,
) -> None:
    """Print the exact docker compose command line dashenv runs for ENV."""
    bound = state(ctx).environment(env)
    inv = bound.docker.invocation
    assert inv is not None
    typer.echo(inv.shell(*(args or ["config"]), relative_to=bound.env.project.root))


def init(
    ctx: typer.Context,
    env: Annotated[
        str | None, typer.Argument(help="Environment to initialise (default: all).")
    ] = None,
    detect: Annotated[
        bool,
        typer.Option(
            "--detect",
            help="First write dashenv.toml from the project's own files (compose and env file "
            "pairs, roles, services, Alembic, uv, pytest), printing each guess and its evidence.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --detect: rewrite an existing dashenv.toml.")
    ] = False,
    from_owner: Annotated[
        bool | None,
        typer.Option(
            "--from-owner/--fresh",
            help="In a worktree or second clone: copy missing env files and certificates from "
            "the checkout that owns the environments (default: ask on a terminal, else fresh).",
        ),
    ] = None,
) -> None:
    """Create missing env files from their examples, generating secrets.

    Never overwrites a value that is set; running it twice changes nothing. With --detect, an
    existing project is adopted first: its dashenv.toml is written from what its files say
    (kept as it is when one exists, unless --force).
    """
    from dashenv.workflows.config import init_environment

    st = state(ctx)
    if detect:
        _detect(st, force)
    names = [env] if env else st.environment_names()
    for name in names:
        bare = st.environment(name).bare
        if bare.settings.derived_from is not None:
            typer.echo(
                f"{name}: derived from {bare.settings.derived_from}; its env file "
                f"{bare.settings.env_file} is generated on each run"
            )
            continue
        if _copy_from_owner(st.environment(name), from_owner):
            continue
        result = init_environment(bare)
        if result.action == "created":
            extra = f", generated {', '.join(result.generated)}" if result.generated else ""
            typer.echo(f"{name}: created {result.env_file}{extra}")
        elif result.action == "updated":
            typer.echo(f"{name}: added {', '.join(result.added)} to {result.env_file}")
        else:
            typer.echo(f"{name}: {result.env_file} is complete")


def _detect(st: "RunContext", force: bool) -> None:
    from contextlib import suppress
    from pathlib import Path

    from dashenv.errors import ConfigError, DashenvError
    from dashenv.settings.project import find_project_dir
    from dashenv.workflows.config import init_detect

    if st.project_dir is not None:
        root = Path(st.project_dir)
    else:
        try:
            root = find_project_dir(Path.cwd())
        except ConfigError:
            root = Path.cwd()
    result = init_detect(root.resolve(), force=force, verbose=st.verbose)
    if result.action == "kept":
        typer.echo(f"{result.path.name} exists; left as it is (--force rewrites it)")
    else:
        for env in result.detection.environments:
            if env.derived_from is not None:
                typer.echo(f"{env.name}: derived from {env.derived_from}'s compose files")
                shown = env.guesses
            else:
                files = " + ".join(env.compose_files)
                typer.echo(f"{env.name}: {files} with {env.env_file or 'no env file'}")
                shown = [g for g in env.guesses if g.key not in ("compose_files", "env_file")]
            for g in shown:
                typer.echo(f"  {g.key} = {g.value!r}  ({g.evidence})")
        for note in result.detection.notes:
            typer.echo(f"note: {note}")
    if st.project_dir is None:
        st.project_dir = str(root)
    st.reread_project()  # with its new dashenv.toml
    if result.action != "kept":
        for env in result.detection.environments:
            # an env file still to be made, no engine: 'config show' says it later
            with suppress(DashenvError):
                _rewrites(st.environment(env.name), reveal=False)
        typer.echo(f"Wrote {result.path.name}; check it, then run 'dashenv doctor'")


def _copy_from_owner(e: "Environment", wanted: bool | None) -> bool:
    """A new worktree lacks the git-ignored files: copy ``name``'s env file (and the
    certificates) from the owner checkout when asked (or when the user says yes)."""
    from dashenv.cli.params import asker
    from dashenv.workflows.instances import copy_from_owner, owner_copy_source

    if wanted is False:
        return False
    name = e.name
    found = owner_copy_source(e)
    if found is None:
        return False
    owner, env_file = found
    if wanted is None:
        ask = asker()
        if ask is None or not ask.confirm(f"{name}: copy {env_file} from {owner}?"):
            return False
    for line in copy_from_owner(e, owner):
        typer.echo(line)
    return True
