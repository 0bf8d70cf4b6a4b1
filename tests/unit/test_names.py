"""The naming authority: no two operations can pick, recognise or sweep each other's databases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dashenv.plan import names

DATABASES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
TOKENS = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)


def families(database: str, token: str, digest: str) -> dict[str, str]:
    reset = names.ResetNames(database, digest)
    new, old = reset.scratch(token)
    return {
        "template": reset.template,
        "build": reset.build,
        "reset new": new,
        "reset old": old,
        "snapshot": names.snapshot_database(database, token),
        "restore": names.restore_scratch(database, token),
        "worker": names.worker_databases(database, 3)[2],
        "fresh": names.fresh_database(database, token),
    }


def recognisers(database: str, digest: str) -> dict[str, object]:
    reset = names.ResetNames(database, digest)
    return {
        "reset leftovers": lambda n: n in reset.leftovers([n]) or n == reset.template,
        "snapshot": lambda n: n.startswith(names.snapshot_database(database, "")),
        "restore": lambda n: n.startswith(names.restore_prefix(database)),
        "run": lambda n: names.is_run_database(n, database),
    }


OWNER = {
    "template": "reset leftovers",
    "build": "reset leftovers",
    "reset new": "reset leftovers",
    "reset old": "reset leftovers",
    "snapshot": "snapshot",
    "restore": "restore",
    "worker": "run",
    "fresh": "run",
}


@given(DATABASES, TOKENS, st.from_regex(r"[0-9a-f]{12,40}", fullmatch=True))
def test_each_name_is_recognised_by_its_own_operation_only(
    database: str, token: str, digest: str
) -> None:
    made = families(database, token, digest)
    sweeps = recognisers(database, digest)
    for family, name in made.items():
        assert names.named_after(database, name) or family in ("worker", "fresh")
        claimed = {op for op, sees in sweeps.items() if sees(name)}  # type: ignore[operator]
        assert claimed == {OWNER[family]}, (family, name, claimed)


@given(DATABASES, TOKENS)
def test_the_names_are_distinct(database: str, token: str) -> None:
    made = families(database, token, "0" * 40)
    assert len(set(made.values())) == len(made)
