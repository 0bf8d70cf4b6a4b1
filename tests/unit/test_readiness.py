"""When a started environment is ready without healthchecks, and when waiting cannot help."""

from __future__ import annotations

from dashenv.facts import Container
from dashenv.plan.readiness import Readiness, failure_hint, missing_variable


def c(service: str, state: str = "running", health: str | None = None, **kw: object) -> Container:
    return Container(f"id-{service}", f"p-{service}-1", "p", service, state, health, **kw)  # type: ignore[arg-type]


def test_a_service_without_healthcheck_is_ready_after_the_settle_window() -> None:
    wait = Readiness("p", ["worker"], settle=2.0)
    first = wait.step([c("worker")], 10.0)
    assert not first.done and first.pending == ["worker"]
    assert not wait.step([c("worker")], 11.9).done
    done = wait.step([c("worker")], 12.0)
    assert done.done and done.plain == ["worker"]


def test_a_role_service_is_ready_when_it_answers_not_when_it_runs() -> None:
    wait = Readiness("p", ["db", "cache"], probed=frozenset({"db"}), settle=0.5)
    both = [c("db"), c("cache")]
    assert wait.to_probe(both) == ["db"]
    assert wait.step(both, 0.0).pending == ["db", "cache"]
    assert wait.step(both, 100.0).pending == ["db"]  # running for ever, never answered
    wait.answered.add("db")
    assert wait.to_probe(both) == []
    done = wait.step(both, 100.0)
    assert done.done and done.plain == ["db", "cache"]


def test_a_healthcheck_is_the_answer_where_there_is_one() -> None:
    wait = Readiness("p", ["db"], probed=frozenset({"db"}))
    assert wait.to_probe([c("db", health="starting")]) == []
    assert wait.step([c("db", health="starting")], 0.0).pending == ["db"]
    assert wait.step([c("db", health="healthy")], 0.0).done
    assert wait.step([c("db", health="unhealthy")], 0.0).failed == {"db": "unhealthy"}


def test_exits_and_restarts_fail_at_once() -> None:
    wait = Readiness("p", ["db"])
    exited = wait.step([c("db", state="exited", exit_code=1)], 0.0)
    assert exited.failed == {"db": "exited with code 1"}
    looping = Readiness("p", ["db"]).step([c("db", state="restarting")], 0.0)
    assert looping.failed == {"db": "restarting: it keeps exiting"}
    # caught running between two restarts: its restart count gives it away
    wait = Readiness("p", ["db"], settle=5.0)
    assert wait.step([c("db", restart_count=3)], 0.0).pending == ["db"]
    again = wait.step([c("db", restart_count=4)], 1.0)
    assert again.failed == {"db": "restarted 1 time(s) while starting"}
    # another project's container is not this wait's
    other = Container("x", "q-db-1", "q", "db", "exited", None, exit_code=1)
    assert Readiness("p", ["db"]).step([other], 0.0).pending == ["db"]


def test_the_missing_variable_is_named_from_the_last_lines() -> None:
    official = (
        "Error: Database is uninitialized and superuser password is not specified.\n"
        "       You must specify POSTGRES_PASSWORD to a non-empty value for the\n"
        '       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".'
    )
    assert missing_variable(official) == "POSTGRES_PASSWORD"
    assert missing_variable("KeyError: 'DATABASE_URL'") == "DATABASE_URL"
    assert missing_variable("sh: SECRET_KEY: parameter null or not set") == "SECRET_KEY"
    assert missing_variable("environment variable REDIS_URL is not set") == "REDIS_URL"
    assert missing_variable("listening on 0.0.0.0:8000") is None
    hint = failure_hint("dev", "db", "exited with code 1", official, "env/.env.dev")
    assert "db needs POSTGRES_PASSWORD: set it in env/.env.dev" in hint
    assert "waiting longer will not help" in hint
    other = failure_hint("dev", "db", "restarting: it keeps exiting", "panic", "env/.env.dev")
    assert "does not stay up" in other and "dashenv logs dev db" in other
