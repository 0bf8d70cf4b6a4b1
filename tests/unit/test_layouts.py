"""Layouts in one place: detection proposes a layout by the keys it writes, and the strategy
dashenv chooses from the dashenv.toml it wrote is the one proposed; each strategy answers the
same questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashenv.facts import ComposeModel, ComposeService
from dashenv.observe import layouts
from dashenv.plan.detect import Detection, detect, find_environments, render_toml
from dashenv.settings.project import load_project
from dashenv.settings.sources import resolve_environment


def _stack(db: str) -> ComposeModel:
    return ComposeModel(
        {
            "db": ComposeService(
                "db", "shop-db", [("127.0.0.1", 5432, 5432)], image="postgres:17",
                environment={"POSTGRES_DB": db},
            ),
            "api": ComposeService("api", None, [("127.0.0.1", 8000, 8000)], has_build=True),
        },
        name="shop",
    )  # fmt: skip


def _per_environment() -> Detection:
    files = {"docker-compose.dev.yml": "name: shop\n", "docker-compose.test.yml": "name: t\n",
             ".env.dev": "", ".env.test": ""}  # fmt: skip
    return Detection(find_environments(list(files), files.__getitem__)[0])


def _overlay() -> Detection:
    files = {"docker-compose.yml": "", "docker-compose.test.yml": "", ".env": "",
             ".env.test": ""}  # fmt: skip
    return Detection(find_environments(list(files), files.__getitem__)[0])


def _derived() -> Detection:
    files = {"compose.yml": "", ".env": "POSTGRES_DB=app\n"}
    return Detection(find_environments(list(files), files.__getitem__)[0])


def _isolated() -> Detection:
    files = {"docker-compose.dev.yml": "", "docker-compose.test.yml": "name: shop-test\n",
             ".env.dev": "", ".env.test": ""}  # fmt: skip
    models: dict[str, ComposeModel | None] = {"dev": _stack("shop"), "test": _stack("shop_test")}
    return detect(list(files), files.__getitem__, models, {})


@pytest.mark.parametrize(
    ("found", "kinds"),
    [
        (_per_environment, {"dev": "own", "test": "own"}),
        (_overlay, {"dev": "overlay", "test": "overlay"}),
        (_derived, {"dev": "own", "test": "derived", "ci": "derived"}),
        (_isolated, {"dev": "own", "test": "isolated"}),
    ],
    ids=["per-environment", "overlay", "derived", "isolated"],
)
def test_the_layout_detection_proposes_is_the_one_chosen(
    tmp_path: Path, found: object, kinds: dict[str, str]
) -> None:
    detection = found()  # type: ignore[operator]
    assert {e.name: e.layout for e in detection.environments} == kinds
    assert set(kinds.values()) <= set(layouts.KINDS)
    (tmp_path / "dashenv.toml").write_text(render_toml(detection))
    project = load_project(tmp_path)
    for name, kind in kinds.items():
        layered = None
        if kind != "derived":
            layered = resolve_environment(project, name, {}, {}, read_env=False)
        assert layouts.choose(project, name, layered).kind == kind


def test_each_strategy_answers_which_override_and_which_env_file() -> None:
    assert layouts.Own("dev").override() is None
    assert layouts.Overlay("test").override() is None
    assert layouts.Isolated("test").override() == ".dashenv/derived/test.yml"
    derived = layouts.Derived("ci", "dev")
    assert derived.source == "dev" and derived.override() == ".dashenv/derived/ci.yml"
    assert derived.generates_env_file and derived.env_file() == ".dashenv/derived/ci.env"
    assert not layouts.Own("dev").generates_env_file
    assert layouts.Instance.override("test", "") == ".dashenv/instances/test.yml"
    assert layouts.Instance.override("test", "wt2") == ".dashenv/instances/test-wt2.yml"


def test_a_derived_environment_must_come_from_another_that_is_not_derived(
    tmp_path: Path,
) -> None:
    from dashenv.errors import ConfigError

    (tmp_path / "dashenv.toml").write_text(
        "builtins = false\n[environments.dev]\ncompose_files = ['c.yml']\nenv_file = '.env'\n"
        "[environments.test]\nderived_from = 'dev'\n[environments.ci]\nderived_from = 'test'\n"
    )
    project = load_project(tmp_path)
    layouts.Derived("test", "dev").check(project)
    with pytest.raises(ConfigError, match="itself derived"):
        layouts.Derived("ci", "test").check(project)
    with pytest.raises(ConfigError, match="not another environment"):
        layouts.Derived("test", "test").check(project)
