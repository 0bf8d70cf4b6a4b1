"""Instances: naming from checkout paths, the port allocator, the override file, and the
registry's lock (pure logic, and the registry file on a temporary directory)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from dashenv.errors import ConfigError, OperationFailed
from dashenv.facts import ComposeModel, ComposeService
from dashenv.plan.allocation import (
    InstanceSpec,
    Lease,
    allocate,
    instance_name,
    override_file,
    port_range,
    valid_instance,
)
from dashenv.plan.override import Override, load, renamed


def test_instance_names_from_worktree_paths() -> None:
    assert instance_name("/home/me/dashtam-feature", set()) == "dashtam-feature"
    assert instance_name("/w/Feature_Branch (copy)", set()) == "feature-branch-copy"
    odd = instance_name("/w/###", set())
    assert odd.startswith("i") and valid_instance(odd)
    long = instance_name("/w/" + "a-very-long-worktree-name-for-a-hotfix-branch", set())
    assert len(long) <= 24 and valid_instance(long)
    # two checkouts with one directory name get distinct, stable names
    first = instance_name("/a/feature", set())
    second = instance_name("/b/feature", {first})
    assert first == "feature" and second != first and second.startswith("feature-")
    assert second == instance_name("/b/feature", {first})
    assert all(
        valid_instance(instance_name(p, set())) for p in ("/x/Ünïcödé", "/x/-lead", "/x/a.b.c")
    )


def test_valid_instance_names() -> None:
    assert valid_instance("feat-1") and not valid_instance("Feat") and not valid_instance("-x")


def test_allocation_is_stable_skips_busy_and_leased_ports() -> None:
    taken = [Lease(20000, "/other", "test", "other", "postgres:5432")]
    busy_ports = {20001}
    ports, new = allocate(
        taken, "/me", "test", "me", ["postgres:5432", "redis:6379"], busy_ports.__contains__
    )
    assert ports == {"postgres:5432": 20002, "redis:6379": 20003}
    assert [(x.port, x.slot) for x in new] == [(20002, "postgres:5432"), (20003, "redis:6379")]
    # the next start keeps its leases, whatever is busy now
    again, more = allocate(
        taken + new, "/me", "test", "me", ["postgres:5432", "redis:6379"], lambda p: True
    )
    assert again == ports and more == []


def test_allocation_runs_out_with_a_hint() -> None:
    with pytest.raises(OperationFailed) as err:
        allocate([], "/me", "test", "me", ["a:1", "b:2"], lambda p: False, (30000, 30000))
    assert "no free port left in 30000-30000" in err.value.message
    assert "dashenv gc" in (err.value.hint or "")


def test_port_range_setting() -> None:
    assert port_range(None) == (20000, 29999)
    assert port_range("5433-5600") == (5433, 5600)
    for bad in ("abc", "10-5", "80-90"):
        with pytest.raises(ConfigError):
            port_range(bad)


def test_the_override_renames_and_moves_what_the_files_fix() -> None:
    model = ComposeModel(
        {
            "postgres": ComposeService(
                "postgres", "dashtam-api-test-postgres", [("127.0.0.1", 15433, 5432)], "postgres:17"
            ),
            "api": ComposeService("api", None, [], "registry:5000/dashtam-api", has_build=True),
        },
        fixed_networks={"default": "dashtam-api-test-network"},
        fixed_volumes={"pgdata": "shared-pgdata"},
    )
    spec = InstanceSpec(
        "test", "feat", "dashtam-api-test", "dashtam-api-test-feat", "/w/feat",
        {"postgres:5432": 20002},
    )  # fmt: skip
    doc = load(override_file(model, spec))
    postgres = doc["services"]["postgres"]
    assert postgres["container_name"] == "dashtam-api-test-feat-postgres"
    assert postgres["ports"] == Override(["127.0.0.1:20002:5432"])
    # a registry port is no tag
    assert doc["services"]["api"]["image"] == "registry:5000/dashtam-api:feat"
    assert doc["networks"] == {"default": {"name": "dashtam-api-test-feat-network"}}
    assert doc["volumes"] == {"pgdata": {"name": "dashtam-api-test-feat-shared-pgdata"}}
    assert postgres["labels"]["dev.dashenv.checkout"] == "/w/feat"
    # the owner with a lease only moves the port
    owner = InstanceSpec("test", "", "p", "p", "/w/main", {"postgres:5432": 20010})
    doc = load(override_file(model, owner))
    assert doc["services"]["postgres"] == {"ports": Override(["127.0.0.1:20010:5432"])}
    assert all(s == {} for n, s in doc["services"].items() if n != "postgres")
    assert set(doc) == {"services"}
    assert renamed("dashtam-test-redis", "dashtam-test", "dashtam-test-x") == "dashtam-test-x-redis"


def _claim_ports(args: tuple[str, str]) -> dict[str, int]:
    """One process taking leases under the registry lock, as a concurrent 'up' would."""
    directory, checkout = args
    from dashenv.adapters.registry import Registry

    registry = Registry(Path(directory))
    with registry.change() as data:
        ports, new = allocate(
            data.leases, checkout, "test", checkout.rsplit("/", 1)[-1],
            ["app:8000", "postgres:5432", "redis:6379"], lambda p: False,
        )  # fmt: skip
        data.leases += new
    return ports


def test_concurrent_claims_under_the_lock_never_share_a_port(tmp_path: Path) -> None:
    checkouts = [(str(tmp_path), f"/w/checkout{i}") for i in range(8)]
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.map(_claim_ports, checkouts)
    ports = [p for r in results for p in r.values()]
    assert len(ports) == 24 and len(set(ports)) == 24

    from dashenv.adapters.registry import Registry

    data = Registry(tmp_path).read()
    assert len(data.leases) == 24
