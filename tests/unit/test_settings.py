"""The settings layers: each overrides the one below it, and provenance says which won."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashenv.errors import ConfigError
from dashenv.settings.app import DatabaseURL
from dashenv.settings.project import load_project
from dashenv.settings.sources import load_app_settings, resolve_environment


def resolve(root: Path, name: str = "dev", cli=None, environ=None):
    return resolve_environment(load_project(root), name, cli or {}, environ or {})


def write_toml(root: Path, text: str) -> None:
    (root / "dashenv.toml").write_text(text)


def add_env_line(root: Path, line: str, env_file: str = "env/.env.dev") -> int:
    path = root / env_file
    lines = path.read_text().splitlines()
    lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def test_defaults(project: Path) -> None:
    env = resolve(project)
    assert env.settings.app_port == 8000
    assert env.settings.project_name == "dashtam-dev"
    assert env.settings.protected is True
    assert env.provenance["app_port"].layer == "default"
    assert env.provenance["app_port"].describe() == "default"


def test_toml_overrides_default(project: Path) -> None:
    write_toml(project, "[environments.dev]\n# ports\napp_port = 9000\n")
    env = resolve(project)
    assert env.settings.app_port == 9000
    origin = env.provenance["app_port"]
    assert (origin.layer, origin.path, origin.line) == ("dashenv.toml", "dashenv.toml", 3)
    assert origin.describe() == "dashenv.toml:3 (environments.dev.app_port)"


def test_env_file_overrides_toml(project: Path) -> None:
    write_toml(project, "[environments.dev]\napp_port = 9000\n")
    line = add_env_line(project, "DASHENV_APP_PORT=9100")
    env = resolve(project)
    assert env.settings.app_port == 9100
    origin = env.provenance["app_port"]
    assert (origin.layer, origin.path, origin.line) == ("env file", "env/.env.dev", line)


def test_process_env_overrides_env_file(project: Path) -> None:
    add_env_line(project, "DASHENV_APP_PORT=9100")
    env = resolve(project, environ={"DASHENV_APP_PORT": "9200"})
    assert env.settings.app_port == 9200
    assert env.provenance["app_port"].describe() == "process env (DASHENV_APP_PORT)"


def test_cli_overrides_process_env(project: Path) -> None:
    env = resolve(project, cli={"app_port": "9300"}, environ={"DASHENV_APP_PORT": "9200"})
    assert env.settings.app_port == 9300
    assert env.provenance["app_port"].layer == "cli"


def test_untouched_fields_keep_their_layer(project: Path) -> None:
    env = resolve(project, cli={"app_port": "9300"})
    assert env.provenance["redis_port"].layer == "default"
    assert env.settings.redis_port == 6379


def test_env_file_location_from_toml(project: Path) -> None:
    (project / "env" / "custom.env").write_text("ENVIRONMENT=development\nDASHENV_REDIS_INDEX=3\n")
    write_toml(project, '[environments.dev]\nenv_file = "env/custom.env"\n')
    env = resolve(project)
    assert env.settings.redis_index == 3
    assert env.provenance["redis_index"].path == "env/custom.env"


def test_lists_from_strings(project: Path) -> None:
    env = resolve(project, cli={"profiles": "a, b", "exclusive_with": '["test"]'})
    assert env.settings.profiles == ["a", "b"]
    assert env.settings.exclusive_with == ["test"]


def test_port_none(project: Path) -> None:
    env = resolve(project, cli={"app_port": "none"})
    assert env.settings.app_port is None
    assert "app" not in env.settings.published_ports()


def test_declared_environment(project: Path) -> None:
    write_toml(
        project,
        "[environments.staging]\n"
        'compose_files = ["compose/docker-compose.dev.yml"]\n'
        'env_file = "env/.env.dev"\n'
        'project_name = "dashtam-staging"\n'
        "app_port = 8100\n",
    )
    env = resolve(project, "staging")
    assert env.settings.role == "development"
    assert env.settings.app_port == 8100
    assert "staging" in load_project(project).environment_names()


def test_builtins_off(project: Path) -> None:
    write_toml(project, "builtins = false\n")
    assert load_project(project).environment_names() == []


@pytest.mark.parametrize(
    ("cli", "expected"),
    [
        ({"app_port": "70000"}, "--set app_port: Input should be less than or equal to 65535"),
        ({"role": "prod"}, "--set role: Input should be 'development', 'testing' or 'ci'"),
        ({"redis_index": "x"}, "--set redis_index: Input should be a valid integer"),
    ],
)
def test_invalid_value_names_layer_and_key(project: Path, cli, expected) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(project, cli=cli)
    assert info.value.message.startswith(expected)
    assert info.value.exit_code == 2


def test_invalid_value_in_env_file_names_file_and_line(project: Path) -> None:
    line = add_env_line(project, "DASHENV_POSTGRES_PORT=abc")
    with pytest.raises(ConfigError) as info:
        resolve(project)
    assert info.value.message.startswith(f"env/.env.dev:{line}: DASHENV_POSTGRES_PORT: ")
    assert "(got 'abc')" in info.value.message


def test_invalid_value_in_toml_names_line(project: Path) -> None:
    write_toml(project, "[environments.dev]\n\nredis_index = -3\n")
    with pytest.raises(ConfigError) as info:
        resolve(project)
    assert info.value.message.startswith("dashenv.toml:3: environments.dev.redis_index: ")


def test_several_invalid_values_one_line_each(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(project, cli={"app_port": "0", "redis_index": "-1"})
    assert info.value.message.startswith("2 invalid settings:")
    assert info.value.details is not None and len(info.value.details.splitlines()) == 1


def test_unknown_toml_setting(project: Path) -> None:
    write_toml(project, "[environments.dev]\napp_prot = 1\n")
    with pytest.raises(ConfigError, match=r"dashenv.toml:2: unknown setting 'app_prot'"):
        resolve(project)


def test_unknown_cli_setting(project: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        resolve(project, cli={"nope": "1"})


def test_bad_toml(project: Path) -> None:
    write_toml(project, "[environments.dev\n")
    with pytest.raises(ConfigError, match=r"dashenv\.toml is not valid TOML"):
        load_project(project)


def test_pyproject_tool_table(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.dashenv.environments.dev]\napp_port = 8888\n"
    )
    env = resolve(project)
    assert env.settings.app_port == 8888
    assert env.provenance["app_port"].describe() == "pyproject.toml:5 (environments.dev.app_port)"


def test_unknown_environment(project: Path) -> None:
    with pytest.raises(ConfigError, match="unknown environment 'prod'"):
        resolve(project, "prod")


def test_missing_env_file(project: Path) -> None:
    (project / "env" / ".env.dev").unlink()
    with pytest.raises(ConfigError, match=r"env file env/\.env\.dev does not exist") as info:
        resolve(project)
    assert info.value.hint is not None and "dashenv init dev" in info.value.hint


def test_app_settings_with_lines(project: Path) -> None:
    app = load_app_settings(resolve(project, "test"))
    assert app.settings.ENVIRONMENT == "testing"
    assert app.settings.TESTING is True
    assert app.provenance["TESTING"].path == "env/.env.test"
    assert app.provenance["TESTING"].line == 3
    db = app.database()
    assert db is not None and db.database == "dashtam_test" and db.user == "dashtam_test_user"
    assert app.redis_index() == 1


def test_app_settings_invalid_bool(project: Path) -> None:
    add_env_line(project, "TESTING=maybe", "env/.env.test")
    with pytest.raises(ConfigError, match=r"env/.env.test:\d+: TESTING: Input should be a valid"):
        load_app_settings(resolve(project, "test"))


def test_database_url_parsing() -> None:
    db = DatabaseURL.parse("postgresql+asyncpg://u:test_password@postgres:5432/dashtam")
    assert (db.user, db.password, db.host, db.port, db.database) == (
        "u",
        "test_password",
        "postgres",
        5432,
        "dashtam",
    )
    with pytest.raises(ValueError, match="no database name"):
        DatabaseURL.parse("postgresql://u@h:5432/")
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        DatabaseURL.parse("mysql://u@h/db")


def test_redis_index_comes_from_redis_url(project: Path) -> None:
    env = resolve(project, "test")
    assert env.settings.redis_index is None  # nothing set: REDIS_URL speaks
    assert env.redis_indexes == (1,) and env.redis_index == 1
    add_env_line(project, "REDIS_URL=redis://redis:6379", "env/.env.test")
    assert resolve(project, "test").redis_indexes == (0,)  # a URL naming no index: 0


def test_redis_index_disagreeing_with_redis_url_is_an_error(project: Path) -> None:
    write_toml(project, "[environments.test]\n\nredis_index = 3\n")
    with pytest.raises(ConfigError) as info:
        resolve(project, "test").redis_indexes  # noqa: B018
    assert info.value.exit_code == 2
    assert info.value.message == (
        "test: redis_index is 3 (dashenv.toml:3 (environments.test.redis_index)) "
        "but REDIS_URL names index 1 (env/.env.test:11)"
    )
    write_toml(project, "[environments.test]\nredis_index = 1\n")  # agreeing is fine
    assert resolve(project, "test").redis_indexes == (1,)


def test_further_redis_indexes_follow_the_main_one(project: Path) -> None:
    env = resolve(project, "test", cli={"redis_indexes": "4, 1, 5"})
    assert env.redis_indexes == (1, 4, 5)
    env = resolve(project, "test", environ={"DASHENV_REDIS_INDEXES": "[2]"})
    assert env.redis_indexes == (1, 2)
    with pytest.raises(ConfigError):
        resolve(project, "test", cli={"redis_indexes": "-1"})


def test_without_redis_url_the_setting_or_zero(project: Path) -> None:
    path = project / "env" / ".env.test"
    path.write_text("\n".join(ln for ln in path.read_text().splitlines() if "REDIS_URL" not in ln))
    assert resolve(project, "test").redis_indexes == (0,)
    assert resolve(project, "test", cli={"redis_index": "7"}).redis_indexes == (7,)


def test_project_options_are_typed(project: Path) -> None:
    write_toml(project, 'certs_dir = "tls"\nhost_names = ["a.local"]\n')
    options = load_project(project).options
    assert options.certs_dir == "tls" and options.host_names == ["a.local"]
    assert options.audit_log == ".dashenv/audit.log" and options.builtins
    write_toml(project, "builtins = 3\n")
    with pytest.raises(ConfigError) as info:
        load_project(project)
    assert info.value.message.startswith("dashenv.toml: builtins: Input should be a valid boolean")


@pytest.mark.parametrize(
    ("url", "database", "host", "port", "user"),
    [
        ("postgresql://u:p@h:5432/dashtam_test?dbname=dashtam", "dashtam", "h", 5432, "u"),
        ("postgresql+asyncpg://u:p@h/dashtam_test?database=dashtam", "dashtam", "h", None, "u"),
        (
            "postgresql://u:p@h/db?host=/run/postgresql&port=6543",
            "db",
            "/run/postgresql",
            6543,
            "u",
        ),
        ("postgresql://u:p@h/db?user=other", "db", "h", None, "other"),
        ("postgresql://u:p@h:5432/db?sslmode=disable", "db", "h", 5432, "u"),
    ],
)
def test_a_database_url_is_read_as_its_driver_reads_it(
    url: str, database: str, host: str, port: int | None, user: str
) -> None:
    db = DatabaseURL.parse(url)
    assert (db.database, db.host, db.port, db.user) == (database, host, port, user)
    assert bool(db.overrides) == ("sslmode" not in url)


def test_the_name_guard_sees_the_database_the_driver_reaches() -> None:
    from dashenv.guards import Intent, guard_database_name

    db = DatabaseURL.parse("postgresql://u:p@h:5432/dashtam_test?dbname=dashtam")
    intent = Intent("test", "testing", False, "testing", True, db.database, "dashtam-test")
    assert not guard_database_name(intent).passed


def test_a_scoped_process_variable_is_one_environments_own(project: Path) -> None:
    """DASHENV_<ENV>__<SETTING> (pydantic-settings' nesting delimiter) wins over the unscoped
    DASHENV_<SETTING>, which every environment reads; the origin names the variable."""
    environ = {"DASHENV_PROJECT_NAME": "shared", "DASHENV_TEST__PROJECT_NAME": "mine-test"}
    test, dev = resolve(project, "test", environ=environ), resolve(project, "dev", environ=environ)
    assert test.settings.project_name == "mine-test"
    assert test.provenance["project_name"].describe() == "process env (DASHENV_TEST__PROJECT_NAME)"
    assert dev.settings.project_name == "shared"
    assert dev.provenance["project_name"].describe() == "process env (DASHENV_PROJECT_NAME)"
    # another environment's scoped variable is not this one's
    ci = resolve(project, "ci", environ={"DASHENV_TEST__APP_PORT": "9100"})
    assert ci.provenance["app_port"].layer != "process env"


def test_doctor_warns_when_one_unscoped_variable_gives_two_environments_one_project() -> None:
    from dashenv.workflows.doctor import unscoped_sharing_checks

    shared = ("DASHENV_PROJECT_NAME", "x")
    (check,) = unscoped_sharing_checks(
        {"dev": {"project_name": shared}, "test": {"project_name": shared}, "ci": {}}
    )
    assert check.level == "warn" and "dev and test share one project name" in check.detail
    assert "DASHENV_DEV__PROJECT_NAME, DASHENV_TEST__PROJECT_NAME" in check.fix
    scoped = {"dev": {"project_name": shared}, "test": {"project_name": ("DASHENV_TEST__X", "x")}}
    assert unscoped_sharing_checks(scoped) == []
