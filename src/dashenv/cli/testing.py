"""Test commands: test setup | run | clean, and ci run."""

from typing import Annotated, Any

import typer

from dashenv.cli.params import CiEnv, JsonOpt, TestEnv
from dashenv.cli.state import state
from dashenv.errors import PassThrough


def register(app: typer.Typer) -> None:
    from dashenv.cli import new_app

    test_app = new_app("test", help="The test workflow: setup, run, clean.")
    app.add_typer(test_app)
    test_app.command("setup")(setup)
    test_app.command(
        "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
    )(run)
    test_app.command("clean")(clean)
    ci_app = new_app("ci", help="The CI workflow: one throwaway run of the test suite.")
    app.add_typer(ci_app)
    ci_app.command(
        "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
    )(ci_run)
    ci_app.command("github")(ci_github)


def setup(ctx: typer.Context, env: TestEnv = "test", as_json: JsonOpt = False) -> None:
    """Start the test environment beside dev (dev untouched), wait until healthy, reset its
    database through every guard, and print the endpoints. Idempotent; quick when up."""
    from dashenv import render
    from dashenv.steps.tripwire import watching
    from dashenv.workflows.testing import setup as do_setup

    st = state(ctx)
    done: list[Any] = []

    def document(tripwire: dict[str, Any]) -> None:  # after its reading, before a leak's exit
        if as_json and done:
            render.print_json({**render.setup_document(done[0]), "tripwire": tripwire})

    with watching(st.environment(env), f"'dashenv test setup {env}'", report=document):
        with render.live_progress(f"starting {env}") as reporter:
            done.append(do_setup(st.environment(env), reporter))
        if not as_json:
            render.setup_result(done[0])


def run(
    ctx: typer.Context,
    env: TestEnv = "test",
    skip_setup: Annotated[
        bool, typer.Option("--no-setup", help="Do not run 'test setup' first.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Fail at once (exit 1) when another run holds the environment's reset or "
            "its worker databases, instead of waiting for it.",
        ),
    ] = False,
) -> None:
    """Ensure setup, then run the test command (in the app container or on the host, by the
    test_runner setting); arguments after -- go to it. Its exit code is dashenv's. In the
    container, pytest-xdist workers (-n N, or -n in the pytest configuration's addopts) each
    get a database and a Redis index of their own first."""
    from dashenv import render
    from dashenv.steps.environment_lock import environment_lock
    from dashenv.steps.tripwire import watching
    from dashenv.workflows.testing import run_tests
    from dashenv.workflows.testing import setup as do_setup

    st = state(ctx)
    err = render.console(stderr=True)
    # the environment is held for the whole run: another run's reset waits for these tests
    with (
        environment_lock(st.environment(env), f"test run {env}", wait=not no_wait, say=err.print),
        watching(st.environment(env), f"'dashenv test run {env}'"),
    ):
        if not skip_setup:
            with render.live_progress(f"starting {env}") as reporter:
                result = do_setup(st.environment(env), reporter, wait=not no_wait)
            render.console(stderr=True).print(
                f"Test database initialized successfully ({result.reset.database}, "
                f"{result.reset.seconds:.2f}s)"
            )
        code = run_tests(st.environment(env), list(ctx.args), wait=not no_wait)
        if code != 0:
            raise PassThrough(code)


def clean(ctx: typer.Context, env: TestEnv = "test") -> None:
    """Take the test environment down; its tmpfs data is gone, dev is untouched."""
    from dashenv.workflows.testing import clean as do_clean

    for note in do_clean(state(ctx).environment(env)):
        typer.echo(note)


def ci_run(
    ctx: typer.Context,
    env: CiEnv = "ci",
    build: Annotated[bool, typer.Option("--build", help="Rebuild images first.")] = False,
) -> None:
    """Bring the ci environment up (tmpfs, nothing of dev's), run the test command in its
    app container with its output streamed (on the host, migrated first, for an app that
    runs on the host), and always take the environment down with its volumes, after a
    failure or Ctrl-C too. Arguments after -- go to the test command; its exit code is
    dashenv's."""
    from dashenv import render
    from dashenv.steps.tripwire import watching
    from dashenv.workflows.ci import ci_run as run_ci

    err = render.console(stderr=True)
    st = state(ctx)
    with watching(st.environment(env), f"'dashenv ci run {env}'"):
        with render.live_progress(f"starting {env}") as reporter:
            code = run_ci(
                st.environment(env), list(ctx.args), build=build, reporter=reporter, say=err.print
            )
        if code != 0:
            raise PassThrough(code)


def ci_github(
    ctx: typer.Context,
    env: CiEnv = "ci",
    shards: Annotated[
        int,
        typer.Option(
            "--shards",
            min=1,
            max=64,
            metavar="N",
            help="Split the suite across N jobs of a matrix (pytest-split, by durations where "
            ".test_durations has them), each with its own ci environment.",
        ),
    ] = 1,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing workflow file.")
    ] = False,
) -> None:
    """Write a GitHub Actions workflow (.github/workflows/dashenv.yml) that runs the ci
    environment as 'dashenv ci run' does here: checkout, Python, the project installed through
    its runner (uv, poetry, pip), images built with BuildKit's GitHub cache, output grouped,
    the test summary in the job summary and unhealthy services' logs on failure."""
    from dashenv.workflows.ci import github

    result = github(state(ctx).environment(env), shards, force=force)
    shown = result.path.relative_to(state(ctx).project().root)
    if not result.written:
        typer.echo(f"{shown} exists; left as it is (--force rewrites it)")
        return
    typer.echo(f"Wrote {shown}")
    for note in result.notes:
        typer.echo(note, err=True)
