"""The GitHub Actions workflow of ``dashenv ci github``: the ci environment run in CI as
``dashenv ci run`` runs it here. Pure: what the project is made of comes in as facts, the
workflow's text goes out.

The workflow checks out, sets up Python, installs what runs the tests through the project's
own runner (uv, poetry, pip), builds the images with BuildKit's GitHub cache, and runs
``dashenv ci run``, which groups its output, writes the test summary into the job summary
and prints the logs of unhealthy services on failure. ``shards`` splits the suite across a
matrix of jobs with pytest-split (by the durations in ``.test_durations`` where the project
stores them, by count otherwise), each job with a ci environment of its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

WORKFLOW_PATH = ".github/workflows/dashenv.yml"


@dataclass(frozen=True)
class WorkflowSpec:
    environment: str = "ci"
    shards: int = 1
    runner: str = "pip"  # the project's: uv, poetry or pip
    python: str = "3.12"
    install_dir: str = "."  # where the project's Python project is (the app on the host's)
    host_tests: bool = False  # the tests run on the host: the project itself is installed
    dashenv_in_project: bool = False  # dashenv is among the project's own dependencies
    dashenv_requirement: str = "dashenv"
    build_files: list[str] = field(default_factory=list)  # compose files that build images
    requirements: str | None = None  # pip: the requirements file, where there is one


def project_runner(names: set[str], pyproject: str) -> str:
    """The project's runner from the files beside its pyproject.toml: uv (uv.lock or
    [tool.uv]), poetry (poetry.lock or [tool.poetry]), else pip."""
    if "uv.lock" in names or "[tool.uv" in pyproject:
        return "uv"
    if "poetry.lock" in names or "[tool.poetry" in pyproject:
        return "poetry"
    return "pip"


def python_version(python_version_file: str | None, pyproject: str) -> str:
    """The Python to set up: ``.python-version``'s, else the lowest requires-python allows."""
    if python_version_file and python_version_file.strip():
        return python_version_file.strip().splitlines()[0].strip()
    found = re.search(r'requires-python\s*=\s*"[^"]*?>=\s*(3\.\d+)', pyproject)
    return found.group(1) if found else "3.12"


def mentions_dashenv(pyproject: str, requirements: str) -> bool:
    """Whether the project's own dependencies name dashenv."""
    pattern = r"""(^|["'\s\[,])dashenv\s*([<>=~!\[;"',]|$)"""
    return any(re.search(pattern, text, re.M) for text in (pyproject, requirements))


def _q(value: str) -> str:
    return json.dumps(value)  # a YAML double-quoted scalar


def _in(directory: str, command: str) -> str:
    return command if directory in ("", ".") else f"cd {_q(directory)} && {command}"


def workflow(spec: WorkflowSpec, version: str) -> str:
    """The workflow's text (YAML), commented where a team may want to change it."""
    env = spec.environment
    shard = spec.shards > 1
    run = "dashenv"
    if spec.host_tests or spec.dashenv_in_project:  # in the project's own environment
        run = {"uv": "uv run dashenv", "poetry": "poetry run dashenv", "pip": "dashenv"}[
            spec.runner
        ]
    lines = [
        f"# Written by 'dashenv ci github' (dashenv {version}): the {env} environment in",
        f"# GitHub Actions, as 'dashenv ci run --env {env}' runs it on a laptop. Edit freely;",
        "# 'dashenv ci github --force' writes it anew.",
        "name: dashenv",
        "",
        "on:",
        "  push:",
        "    branches: [main]",
        "  pull_request:",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "",
        "concurrency:",
        "  group: dashenv-${{ github.ref }}",
        "  cancel-in-progress: true",
        "",
        "jobs:",
        "  tests:",
    ]
    if shard:
        lines += ["    name: tests (${{ matrix.shard }}/" + f"{spec.shards})"]
    else:
        lines += ["    name: tests"]
    lines += ["    runs-on: ubuntu-latest", "    timeout-minutes: 30"]
    if shard:
        shards = ", ".join(str(i) for i in range(1, spec.shards + 1))
        lines += [
            "    strategy:",
            "      fail-fast: false",
            "      matrix:",
            f"        # one job per shard, each with a {env} environment of its own",
            f"        shard: [{shards}]",
        ]
    lines += [
        "    steps:",
        "      - uses: actions/checkout@v4",
        "      - uses: actions/setup-python@v5",
        "        with:",
        f"          python-version: {_q(spec.python)}",
    ]
    lines += _install(spec)
    if spec.build_files:
        files = "\n".join(f"            {f}" for f in spec.build_files)
        lines += [
            "      - uses: docker/setup-buildx-action@v3",
            "      - name: Build the images (BuildKit's layers cached in GitHub's cache)",
            "        uses: docker/bake-action@v6",
            "        with:",
            "          source: .",
            "          files: |",
            files,
            "          load: true",
            "          set: |",
            f"            *.cache-from=type=gha,scope=dashenv-{env}",
            f"            *.cache-to=type=gha,mode=max,scope=dashenv-{env}",
        ]
    where = spec.install_dir if spec.host_tests else "."
    lines += [
        "      - name: Env files from their examples, secrets generated",
        "        run: " + _in(where, f"{run} init"),
    ]
    test = f"{run} ci run --env {env}"
    if shard:
        test += f" -- --splits {spec.shards} --group ${{{{ matrix.shard }}}}"
    lines += [
        f"      - name: Tests in the {env} environment",
        # ci run groups its output, writes the summary into GITHUB_STEP_SUMMARY and prints
        # the logs of unhealthy services on failure, before it takes the environment down
        "        run: " + _in(where, test),
        "",
    ]
    return "\n".join(lines)


def _install(spec: WorkflowSpec) -> list[str]:
    """Install what runs the tests: the project through its runner where the tests run on
    the host or dashenv is one of its dependencies, and dashenv where it is not."""
    steps: list[str] = []
    project = spec.host_tests or spec.dashenv_in_project
    if spec.runner == "uv":
        steps += ["      - uses: astral-sh/setup-uv@v6"]
    elif spec.runner == "poetry":
        steps += ["      - name: Install Poetry", "        run: pipx install poetry"]
    if project:
        command = {
            "uv": "uv sync",
            "poetry": "poetry install --no-interaction",
            "pip": f"pip install -r {spec.requirements}" if spec.requirements else "pip install .",
        }[spec.runner]
        steps += [
            "      - name: Install the project",
            "        run: " + _in(spec.install_dir, command),
        ]
    if not spec.dashenv_in_project:
        requirement = _q(spec.dashenv_requirement)
        if spec.host_tests:  # beside the project, in its environment
            command = {
                "uv": f"uv pip install {requirement}",
                "poetry": f"poetry run pip install {requirement}",
                "pip": f"pip install {requirement}",
            }[spec.runner]
            command = _in(spec.install_dir, command)
        else:
            command = f"pip install {requirement}"
        steps += ["      - name: Install dashenv", "        run: " + command]
    return steps


def junit_summary(xml_text: str | None, environment: str, code: int) -> str:
    """The job summary (Markdown) of one ci run from pytest's JUnit XML: the counts, the
    failed tests with the first line of their message, the exit code."""
    from xml.etree import ElementTree

    lines = [f"### dashenv ci run: {environment}", ""]
    cases: list[ElementTree.Element] = []
    if xml_text:
        try:
            cases = list(ElementTree.fromstring(xml_text).iter("testcase"))
        except ElementTree.ParseError:
            cases = []
    if cases:
        failed = [c for c in cases if c.find("failure") is not None]
        errors = [c for c in cases if c.find("error") is not None]
        skipped = [c for c in cases if c.find("skipped") is not None]
        passed = len(cases) - len(failed) - len(errors) - len(skipped)
        seconds = sum(float(c.get("time") or 0) for c in cases)
        lines += [
            "| tests | passed | failed | errors | skipped | time |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {len(cases)} | {passed} | {len(failed)} | {len(errors)} | {len(skipped)} "
            f"| {seconds:.1f} s |",
            "",
        ]
        for case in (failed + errors)[:30]:
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            message = (problem.get("message") if problem is not None else "") or ""
            test = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
            first = message.strip().splitlines()[0][:200] if message.strip() else ""
            lines.append(f"- `{test}`" + (f": {first}" if first else ""))
        if failed or errors:
            lines.append("")
    else:
        lines += ["No test report (the test command wrote no JUnit XML).", ""]
    verdict = "passed" if code == 0 else f"failed (exit {code})"
    lines.append(f"The run {verdict}.")
    return "\n".join(lines) + "\n"
