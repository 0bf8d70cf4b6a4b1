"""Redis, through redis-py. The only module importing redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashenv.errors import OperationFailed, Unreachable


@dataclass(frozen=True)
class RedisInfo:
    version: str
    keys: int
    used_memory_human: str


class Redis:
    def __init__(
        self, host: str, port: int, index: int, password: str | None = None, timeout: float = 5
    ):
        self.host, self.port, self.index, self.password = host, port, index, password
        self.timeout = timeout

    def _client(self) -> Any:
        import redis

        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.index,
            password=self.password,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )

    def _call(self, what: str, fn: Any) -> Any:
        import redis

        try:
            return fn(self._client())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise Unreachable(
                f"cannot reach Redis at {self.host}:{self.port}: {exc}",
                hint="is the environment up? 'dashenv status' shows it",
            ) from None
        except redis.RedisError as exc:
            raise OperationFailed(
                f"Redis at {self.host}:{self.port} index {self.index}: {what} failed: {exc}",
                hint="check the index against the server's 'databases' setting",
            ) from None

    def answers(self) -> bool:
        """Whether the server answers ``PING`` (one that wants a password still answers;
        one loading its dataset does not)."""
        import redis

        try:
            self._client().ping()
        except (redis.AuthenticationError, redis.exceptions.NoPermissionError):
            return True
        except redis.BusyLoadingError:
            return False
        except redis.ResponseError as exc:
            return "NOAUTH" in str(exc)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        return True

    def info(self) -> RedisInfo:
        def read(c: Any) -> RedisInfo:
            server = c.info("server")
            memory = c.info("memory")
            return RedisInfo(
                str(server.get("redis_version", "?")),
                int(c.dbsize()),
                str(memory.get("used_memory_human", "?")),
            )

        result: RedisInfo = self._call("info", read)
        return result

    def databases(self) -> int:
        """How many indexes the server has ('databases'; 16 when CONFIG is not allowed)."""

        def ask(c: Any) -> int:
            try:
                return int(c.config_get("databases").get("databases", 16))
            except Exception:  # CONFIG renamed or disabled: Redis's default
                return 16

        found: int = self._call("config get", ask)
        return found

    def keyspace(self) -> dict[int, int]:
        """Keys per index, every index in one INFO keyspace (empty indexes absent)."""

        def read(c: Any) -> dict[int, int]:
            info = c.info("keyspace")
            return {int(k[2:]): int(v.get("keys", 0)) for k, v in info.items() if k[:2] == "db"}

        found: dict[int, int] = self._call("info keyspace", read)
        return found

    def flushdb(self) -> int:
        """Empty this index only (FLUSHDB); the number of keys it held. Never FLUSHALL."""

        def flush(c: Any) -> int:
            keys = int(c.dbsize())
            c.flushdb()
            return keys

        flushed: int = self._call("flushdb", flush)
        return flushed


def library_client(url: str) -> Any:
    """A redis-py client on ``url``: the one library object dashenv hands out, on purpose
    (the pytest plugin's ``dashenv_redis`` fixture gives tests the client they already use)."""
    import redis

    return redis.Redis.from_url(url)
