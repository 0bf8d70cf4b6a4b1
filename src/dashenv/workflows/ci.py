"""dashenv ci run: the ci environment up, the test command in its app container, and the
environment always taken down with its volumes, after a failure or Ctrl-C too."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dashenv.steps.test_command import require_test_role, run_tests
from dashenv.workflows import lifecycle, reset

if TYPE_CHECKING:
    from dashenv.context import Environment, RunContext
    from dashenv.steps.targets import Reporter


def ci_run(
    e: Environment,
    args: list[str],
    *,
    build: bool = False,
    reporter: Reporter | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> int:
    """``name`` up, its tests, and always down with its volumes. In GitHub Actions
    (GITHUB_ACTIONS=true) the phases are grouped (``::group::``); where GITHUB_STEP_SUMMARY
    names a file, a pytest run's counts and failures are appended to it; on failure, the
    logs of the services that are not healthy are printed before the environment goes."""

    name = e.name
    from dashenv.steps.environment_lock import environment_lock

    require_test_role(e, "ci run")
    with environment_lock(e, f"ci run {name}", say=say):
        return _ci_run(e, args, build, reporter, say)


def _ci_run(
    e: Environment,
    args: list[str],
    build: bool,
    reporter: Reporter | None,
    say: Callable[[str], None],
) -> int:
    ctx, name = e.ctx, e.name
    import os

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    code = 1
    try:
        with _group(f"Starting {name}"):
            e = lifecycle.up(e, [], build=build, reporter=reporter).environment or e
            if reporter is not None:
                reporter.close()  # the test command's output follows
        settings = e.bare.settings
        report = _report_path(ctx, settings.test_runner) if summary else None
        pytest_args = list(args)
        if report is not None and "pytest" in settings.test_command:
            pytest_args.append(f"--junitxml={report}")
        if settings.test_runner == "host":
            # the app on the host (an infrastructure-only project): no app container migrates
            # the database, so the guarded reset does (on the host, by the project's
            # command), and the tests run there on the ports leased to the environment
            reset.reset(e, say=say)
        code = run_tests(e, pytest_args)
        if summary and report is not None:
            _write_summary(e, settings.test_runner, report, summary, code)
        return code
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # teardown must finish
        try:
            if code != 0:
                _unhealthy_logs(e, say)
            with _group(f"Taking {name} down"):
                say(f"Taking {name} down with its volumes")
                lifecycle.down(e.leniently(), volumes=True, yes=True, ask=None)
        finally:
            signal.signal(signal.SIGINT, previous)


CONTAINER_REPORT = "/tmp/dashenv-junit.xml"


def _report_path(ctx: RunContext, runner: str) -> str:
    if runner == "container":
        return CONTAINER_REPORT
    path = ctx.project().root / ".dashenv" / "cache" / "ci-junit.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return str(path)


def _write_summary(e: Environment, runner: str, report: str, summary: str, code: int) -> None:
    """pytest's JUnit report, from the app container or the host, as the job summary."""
    name = e.name
    from dashenv.plan.github import junit_summary

    xml: str | None = None
    if runner == "container":
        t = e
        status, out = t.docker.exec_capture(t.settings.app_service, ["cat", report])
        xml = out if status == 0 else None
    elif Path(report).is_file():
        xml = Path(report).read_text(errors="replace")
    with open(summary, "a", encoding="utf-8") as f:
        f.write(junit_summary(xml, name, code))


def _unhealthy_logs(e: Environment, say: Callable[[str], None]) -> None:
    """The logs of every service of ``name`` that is not running healthy (a one-shot job
    that exited 0 is done, not unhealthy), each in a group of its own."""
    name = e.name
    from dashenv.errors import DashenvError

    try:
        t = e
        containers = t.docker.project_containers(t.project_name)
        model = t.compose_model()
        one_shot = {n for n, svc in model.services.items() if svc.one_shot}
        sick = [
            c for c in containers
            if c.service and not c.ready
            and not (c.service in one_shot and c.state == "exited" and c.exit_code == 0)
        ]  # fmt: skip
        for c in sick:
            state = c.state + (f", {c.health}" if c.health else "")
            with _group(f"Logs of {c.service} ({state})"):
                say(f"Logs of {name}'s {c.service} ({state}):")
                service = c.service or ""
                argv = t.docker.compose_argv("logs", "--no-color", "--tail", "200", service)
                t.docker.run_attached(argv)
    except DashenvError as exc:  # the failure itself is what matters; say why, go on
        say(f"note: could not read {name}'s logs: {exc.message}")


class _group:
    """A GitHub Actions log group around a phase (a no-op outside GitHub Actions)."""

    def __init__(self, title: str) -> None:
        import os

        self.title = title
        self.on = os.environ.get("GITHUB_ACTIONS") == "true"

    def __enter__(self) -> None:
        if self.on:
            _workflow_command(f"::group::{self.title}")

    def __exit__(self, *exc: object) -> None:
        if self.on:
            _workflow_command("::endgroup::")


def _workflow_command(line: str) -> None:
    import sys

    sys.stderr.flush()
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class GithubResult:
    path: Path
    written: bool  # false: it existed and was left as it is
    notes: list[str] = field(default_factory=list)


def github(e: Environment, shards: int, *, force: bool = False) -> GithubResult:
    """Write the GitHub Actions workflow that runs ``name`` as ``ci run`` does here, made
    from what the project has: its runner, its Python, the compose files that build images;
    an existing workflow is left as it is unless ``force``."""
    ctx, name = e.ctx, e.name
    import dashenv
    from dashenv.plan.github import (
        WORKFLOW_PATH,
        WorkflowSpec,
        mentions_dashenv,
        project_runner,
        python_version,
        workflow,
    )
    from dashenv.steps.targets import host_dir

    require_test_role(e, "ci github")
    root = ctx.project().root
    path = root / WORKFLOW_PATH
    if path.exists() and not force:
        return GithubResult(path, False)
    env = e.env
    s = env.settings
    host_tests = s.test_runner == "host"
    directory = host_dir(env) if host_tests else root
    names = {p.name for p in directory.iterdir()}

    def text(p: Path) -> str:
        return p.read_text(errors="replace") if p.is_file() else ""

    pyproject = text(directory / "pyproject.toml")
    requirement_files = sorted(p for p in directory.glob("requirements*.txt"))
    requirements = "\n".join(text(p) for p in requirement_files)
    model = env.files.model if env.files is not None else None
    built = [svc for svc in (model.services.values() if model else []) if svc.has_build]
    build_files = [f for f in s.compose_files if not f.startswith(".dashenv/")] if built else []
    notes: list[str] = []
    if shards > 1:
        # pytest-split must be where pytest runs: the project (host) or the images it builds
        places = [pyproject, requirements]
        for svc in built:
            context = Path(svc.build_context or "")
            places += [text(context / "pyproject.toml")]
            places += [text(p) for p in sorted(context.glob("requirements*.txt"))]
        if not any("pytest-split" in t or "pytest_split" in t for t in places):
            where = "the project's dev dependencies" if host_tests else "the app image"
            notes.append(
                f"note: --shards needs pytest-split where the tests run; add it to {where}"
            )
    runner = project_runner(names, pyproject)
    pip_requirements = next(
        (p.name for p in requirement_files if "dev" in p.name or "test" in p.name),
        requirement_files[0].name if requirement_files else None,
    )
    spec = WorkflowSpec(
        environment=name,
        shards=shards,
        runner=runner,
        python=python_version(text(directory / ".python-version") or None, pyproject),
        install_dir=str(directory.relative_to(root)) if directory != root else ".",
        host_tests=host_tests,
        dashenv_in_project=mentions_dashenv(pyproject, requirements),
        dashenv_requirement=f"dashenv=={dashenv.__version__}",
        build_files=build_files,
        requirements=pip_requirements,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(workflow(spec, dashenv.__version__))
    return GithubResult(path, True, notes)
