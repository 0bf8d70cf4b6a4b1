"""Networks of one name, twice: which copies go, and when the name is stuck."""

from dashenv.facts import Network
from dashenv.plan.networks import repair


def net(net_id: str, name: str, containers: int) -> Network:
    return Network(net_id, name, "shop", containers)


def test_each_name_once_needs_nothing() -> None:
    found = repair([net("a", "shop_default", 3), net("b", "shop_back", 0)])
    assert not found.needed and found.remove == [] and found.stuck == {}


def test_the_unused_copies_go_and_the_one_in_use_stays() -> None:
    found = repair(
        [net("a", "shop_default", 0), net("b", "shop_default", 2), net("c", "shop_default", 0)]
    )
    assert [n.id for n in found.remove] == ["a", "c"] and found.stuck == {}


def test_copies_none_uses_all_go_so_compose_makes_it_again() -> None:
    found = repair([net("a", "shop_default", 0), net("b", "shop_default", 0)])
    assert [n.id for n in found.remove] == ["a", "b"] and not found.stuck


def test_two_copies_in_use_are_stuck() -> None:
    found = repair(
        [net("a", "shop_default", 1), net("b", "shop_default", 1), net("c", "shop_default", 0)]
    )
    assert [n.id for n in found.remove] == ["c"]
    assert [n.id for n in found.stuck["shop_default"]] == ["a", "b"]
