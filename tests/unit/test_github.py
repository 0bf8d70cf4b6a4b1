"""The GitHub Actions workflow of 'dashenv ci github' (pure), each variant through actionlint."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dashenv.plan.github import (
    WorkflowSpec,
    junit_summary,
    mentions_dashenv,
    project_runner,
    python_version,
    workflow,
)
from tests.actionlint import assert_clean

VARIANTS = {
    "container, pip, one job": WorkflowSpec(build_files=["compose/docker-compose.ci.yml"]),
    "container, sharded": WorkflowSpec(shards=3, build_files=["compose.yml"]),
    "host, uv": WorkflowSpec(runner="uv", host_tests=True, install_dir="service"),
    "host, poetry, sharded": WorkflowSpec(
        runner="poetry", host_tests=True, install_dir="backend", shards=2
    ),
    "host, pip with requirements": WorkflowSpec(
        host_tests=True, install_dir="app dir", requirements="requirements-dev.txt"
    ),
    "dashenv in the project's uv dependencies": WorkflowSpec(
        runner="uv", dashenv_in_project=True, build_files=["compose.yml", "compose.override.yml"]
    ),
}


def steps(text: str) -> list[dict[str, object]]:
    doc = yaml.safe_load(text)
    return list(doc["jobs"]["tests"]["steps"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_passes_actionlint(variant: str, tmp_path: Path) -> None:
    path = tmp_path / ".github" / "workflows" / "dashenv.yml"
    path.parent.mkdir(parents=True)
    path.write_text(workflow(VARIANTS[variant], "0.3.0"))
    assert_clean(path)


def test_sharded_jobs_split_the_suite_with_pytest_split() -> None:
    text = workflow(WorkflowSpec(shards=3, build_files=["compose.yml"]), "0.3.0")
    doc = yaml.safe_load(text)
    job = doc["jobs"]["tests"]
    assert job["strategy"] == {"fail-fast": False, "matrix": {"shard": [1, 2, 3]}}
    last = steps(text)[-1]
    assert last["run"] == "dashenv ci run --env ci -- --splits 3 --group ${{ matrix.shard }}"


def test_one_job_without_shards_and_the_images_built_with_the_github_cache() -> None:
    text = workflow(WorkflowSpec(build_files=["compose/docker-compose.ci.yml"]), "0.3.0")
    doc = yaml.safe_load(text)
    assert "strategy" not in doc["jobs"]["tests"]
    bake = next(s for s in steps(text) if s.get("uses") == "docker/bake-action@v6")
    assert bake["with"]["files"].split() == ["compose/docker-compose.ci.yml"]  # type: ignore[index]
    assert "type=gha" in bake["with"]["set"]  # type: ignore[index]
    assert steps(text)[-1]["run"] == "dashenv ci run --env ci"
    assert {"run": 'pip install "dashenv"', "name": "Install dashenv"} in steps(text)


def test_an_app_on_the_host_is_installed_and_tested_through_its_runner() -> None:
    text = workflow(WorkflowSpec(runner="uv", host_tests=True, install_dir="service"), "0.3.0")
    runs = [s.get("run") for s in steps(text)]
    assert 'cd "service" && uv sync' in runs
    assert 'cd "service" && uv pip install "dashenv"' in runs
    assert runs[-1] == 'cd "service" && uv run dashenv ci run --env ci'
    assert not any(s.get("uses") == "docker/bake-action@v6" for s in steps(text))  # no build


def test_what_the_project_has() -> None:
    assert project_runner({"uv.lock", "pyproject.toml"}, "") == "uv"
    assert project_runner({"pyproject.toml"}, "[tool.poetry]\nname = 'x'\n") == "poetry"
    assert project_runner({"requirements.txt"}, "") == "pip"
    assert python_version("3.13\n", "") == "3.13"
    assert python_version(None, 'requires-python = ">=3.11,<4"') == "3.11"
    assert python_version(None, "") == "3.12"
    assert mentions_dashenv('dev = ["pytest", "dashenv>=0.3"]', "")
    assert mentions_dashenv("", "dashenv==0.3.0\n")
    assert not mentions_dashenv('dependencies = ["dashenv-extras"]', "")


def test_the_job_summary_from_junit() -> None:
    xml = """<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="3">
      <testcase classname="tests.test_a" name="test_ok" time="0.5"/>
      <testcase classname="tests.test_a" name="test_bad" time="1.0">
        <failure message="assert 1 == 2&#10;more">trace</failure></testcase>
      <testcase classname="tests.test_b" name="test_skip" time="0"><skipped message="x"/></testcase>
    </testsuite></testsuites>"""
    assert junit_summary(xml, "ci", 1) == (
        "### dashenv ci run: ci\n\n"
        "| tests | passed | failed | errors | skipped | time |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| 3 | 1 | 1 | 0 | 1 | 1.5 s |\n\n"
        "- `tests.test_a::test_bad`: assert 1 == 2\n\n"
        "The run failed (exit 1).\n"
    )
    assert "No test report" in junit_summary(None, "ci", 0)
    assert junit_summary("<not xml", "ci", 0).endswith("The run passed.\n")
