"""The Redis adapter against a real server: FLUSHDB touches one index only."""

from __future__ import annotations

from typing import Any

import pytest

from dashenv.adapters.redis import Redis
from dashenv.errors import Unreachable
from tests.integration.conftest import REDIS_PORT

pytestmark = pytest.mark.services


def test_flushdb_empties_only_its_index(redis_index0: Any, redis_index1: Any) -> None:
    redis_index0.set("dev:token", "keep")
    redis_index1.set("test:a", "1")
    redis_index1.set("test:b", "2")
    assert Redis("127.0.0.1", REDIS_PORT, 1).flushdb() == 2
    assert redis_index1.dbsize() == 0
    assert redis_index0.get("dev:token") == b"keep"


def test_info(redis_index1: Any) -> None:
    redis_index1.set("k", "v")
    info = Redis("127.0.0.1", REDIS_PORT, 1).info()
    assert info.keys == 1 and info.version.startswith("8.")


def test_unreachable() -> None:
    with pytest.raises(Unreachable, match=r"cannot reach Redis at 127\.0\.0\.1:1"):
        Redis("127.0.0.1", 1, 0, timeout=1).info()
