"""The shared coordinator across hosts: Redis (redis-py, sync and asyncio clients).

Keys are ``<prefix><kind>:<hex digest>``. Claim, settle and release are Lua scripts, so each
is one atomic step in Redis (a claim reads the tombstone and the stored result before it takes
the lease, a settle stores nothing over a tombstone). Every key carries a ``PX`` expiry, so Redis
purges what lapsed; the expiry that decides is the coordinator-clock time stored in the value and
compared with the ``now`` each operation carries, so processes on one time line agree even when
a test moves its clock.

Every sign-out is also appended to a stream (``<prefix>revocations``), trimmed to the tombstone
lifetime: the feed each process follows with ``XREAD BLOCK`` (resuming from the last entry id it
read, so entries written while its connection was down are read when it reconnects).

Requires the ``redis`` extra (``pip install ssrauth[redis]``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, Unpack

import redis
import redis.asyncio

from .._core.clock import Clock
from .loops import PerLoop
from .shared import SharedCoordinator, SharedOptions
from .store import (
    Answer,
    Claim,
    Claimed,
    IsMarked,
    Mark,
    Op,
    Release,
    Renew,
    Revocations,
    Revoke,
    RevokedSince,
    Settle,
    StoreUnavailable,
)

__all__ = ["RedisCoordinator", "RedisStore"]

#: Seconds a client made from a URL waits to connect or for an answer: a dead Redis must cost a
#: request little (and the coordinator then leaves it alone for a while).
DEFAULT_SOCKET_TIMEOUT = 1.0

# KEYS: tombstone, result, lease. ARGV: now, lease_until, owner, lease_ms.
_CLAIM = """
local now = tonumber(ARGV[1])
local tomb = redis.call('GET', KEYS[1])
if tomb and tonumber(tomb) > now then return {'revoked'} end
local res = redis.call('HMGET', KEYS[2], 'expires', 'sealed')
if res[1] and tonumber(res[1]) > now then return {'found', res[2]} end
local lease = redis.call('HGET', KEYS[3], 'expires')
if lease and tonumber(lease) > now then return {'busy'} end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'expires', ARGV[2], 'owner', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {'leader'}
"""

# KEYS: tombstone, result, lease, superseded.
# ARGV: now, owner, sealed, has_tokens (1/0), until, result_ms, superseded_until or '', sup_ms.
_SETTLE = """
local now = tonumber(ARGV[1])
if redis.call('HGET', KEYS[3], 'owner') == ARGV[2] then redis.call('DEL', KEYS[3]) end
local tomb = redis.call('GET', KEYS[1])
if tomb and tonumber(tomb) > now then return {'revoked'} end
local res = redis.call('HMGET', KEYS[2], 'expires', 'has_tokens', 'sealed')
if res[1] and tonumber(res[1]) > now and (res[2] == '1' or ARGV[4] == '0') then
  return {'found', res[3]}
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'expires', ARGV[5], 'has_tokens', ARGV[4], 'sealed', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8]) end
return {'found', ARGV[3]}
"""

# KEYS: lease. ARGV: owner.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lease. ARGV: owner, lease_until, lease_ms.
_RENEW = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'expires', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 0
"""

# KEYS: tombstone, result, revocations stream. ARGV: until, tombstone_ms, key.
# Stream ids are the server's milliseconds: entries older than a tombstone's lifetime are
# trimmed (MINID ~ lets Redis trim whole nodes only, so it may keep a few more).
_REVOKE = """
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
local oldest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2])
redis.call('XADD', KEYS[3], 'MINID', '~', tostring(math.max(0, oldest)), '*',
           'key', ARGV[3], 'until', ARGV[1])
return 0
"""


class RedisStore:
    def __init__(
        self,
        url_or_client: str | redis.Redis,
        *,
        prefix: str = "ssrauth:",
        async_client: redis.asyncio.Redis | None = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    ) -> None:
        self.prefix = prefix
        self._url = url_or_client if isinstance(url_or_client, str) else None
        self.socket_timeout = socket_timeout
        self._client = (redis.Redis.from_url(url_or_client, socket_timeout=socket_timeout,
                                             socket_connect_timeout=socket_timeout)
                        if isinstance(url_or_client, str) else url_or_client)
        self._async_client = async_client
        # redis.asyncio connections belong to one event loop; keep a client per loop we serve,
        # closed on that loop when it shuts down (asyncio.run per request, asgiref's
        # async_to_sync) or when the store closes. Not weakly keyed: a client's connections
        # hold their loop, so the key never died and every closed loop kept its socket.
        self._loop_clients: PerLoop[redis.asyncio.Redis] = PerLoop(
            lambda: redis.asyncio.Redis.from_url(_url(url_or_client), socket_timeout=socket_timeout,
                                                 socket_connect_timeout=socket_timeout),
            redis.asyncio.Redis.aclose)

    def run(self, op: Op) -> Answer:
        command, parse = self._command(op)
        try:
            return parse(self._client.execute_command(*command))  # type: ignore[no-untyped-call]
        except (redis.RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis store: {error.__class__.__name__}: {error}") from None

    async def arun(self, op: Op) -> Answer:
        client = self._async_client or self._loop_client()
        if client is None:  # a sync client was given and no async one: run it in a thread
            return await asyncio.to_thread(self.run, op)
        command, parse = self._command(op)
        try:
            return parse(await client.execute_command(*command))  # type: ignore[no-untyped-call]
        except (redis.RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis store: {error.__class__.__name__}: {error}") from None

    def _loop_client(self) -> redis.asyncio.Redis | None:
        return None if self._url is None else self._loop_clients.get()

    def close(self) -> None:
        """Close the clients made from the URL (a client passed in is its owner's to close)."""
        if self._url is not None:
            self._client.close()
        self._loop_clients.close()

    async def aclose(self) -> None:
        if self._url is not None:
            self._client.close()
        await self._loop_clients.aclose()

    @property
    def _revocations(self) -> str:
        return f"{self.prefix}revocations"

    def _key(self, kind: str, key: bytes) -> str:
        return f"{self.prefix}{kind}:{key.hex()}"

    def _command(self, op: Op) -> tuple[list[Any], Callable[[Any], Answer]]:
        """The Redis command for ``op`` and the function that reads its reply."""
        if isinstance(op, RevokedSince):  # the feed: a blocking read of the stream
            since = op
            # Blocked no longer than half the socket timeout, or the client gives up on it.
            block = min(op.wait, self.socket_timeout / 2)
            return ["XREAD", "COUNT", op.limit, "BLOCK", _ms(block), "STREAMS",
                    self._revocations, op.cursor or "0-0"], lambda reply: _revocations(
                        reply, since.cursor, since.now, since.limit)
        tombstone = self._key(Mark.TOMBSTONE.value, op.key)
        result, lease = self._key("result", op.key), self._key("lease", op.key)
        match op:
            case IsMarked(mark, key, now):
                return ["GET", self._key(mark.value, key)], lambda reply: (
                    reply is not None and float(reply) > now)
            case Claim(_, owner, now, lease_until):
                return ["EVAL", _CLAIM, 3, tombstone, result, lease, repr(now),
                        repr(lease_until), owner, _ms(lease_until - now)], _claimed
            case Settle(key, owner, now, sealed, has_tokens, until, superseded_until):
                marked = "" if superseded_until is None else repr(superseded_until)
                return ["EVAL", _SETTLE, 4, tombstone, result, lease,
                        self._key(Mark.SUPERSEDED.value, key), repr(now), owner, sealed,
                        int(has_tokens), repr(until), _ms(until - now), marked,
                        _ms((superseded_until or now) - now)], _claimed
            case Release(_, owner):
                return ["EVAL", _RELEASE, 1, lease, owner], _nothing
            case Renew(_, owner, now, lease_until):
                return ["EVAL", _RENEW, 1, lease, owner, repr(lease_until),
                        _ms(lease_until - now)], _nothing
            case Revoke(key, now, until):
                return ["EVAL", _REVOKE, 3, tombstone, result, self._revocations, repr(until),
                        _ms(until - now), key], _nothing


def _url(url_or_client: str | redis.Redis) -> str:
    assert isinstance(url_or_client, str)  # clients per loop are made from a URL only
    return url_or_client


def _ms(seconds: float) -> int:
    """A PX argument: Redis purges the key this long after writing it (at least 1 ms)."""
    return max(1, math.ceil(seconds * 1000))


def _claimed(reply: list[bytes]) -> Answer:
    word = reply[0].decode()
    if word == "found":
        return bytes(reply[1])
    return Claimed(word)


def _revocations(reply: Any, cursor: str | None, now: float, limit: int) -> Revocations:
    """An ``XREAD`` reply as redis-py gives it: ``[[stream, [(id, {field: value})]]]``, or
    nothing when the block time ran out."""
    read: list[tuple[bytes, dict[bytes, bytes]]] = reply[0][1] if reply else []
    entries = tuple((bytes(fields[b"key"]), float(fields[b"until"])) for _, fields in read)
    return Revocations(tuple(entry for entry in entries if entry[1] > now),
                       read[-1][0].decode() if read else cursor, len(read) < limit)


def _nothing(_reply: object) -> None:
    return None


class RedisCoordinator(SharedCoordinator):
    """Refresh coordination across hosts through Redis.

    ``url_or_client``: a URL (``redis://host:6379/0``; clients for both faces are made from it,
    with ``socket_timeout`` for connecting and answering) or a ``redis.Redis`` whose replies are
    bytes (the default, not ``decode_responses=True``); with a client, pass ``async_client`` too
    or the async face runs the blocking client in a thread. Give every process the same
    ``prefix``. Options are :class:`SharedCoordinator`'s.
    """

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        *,
        clock: Clock,
        prefix: str = "ssrauth:",
        async_client: redis.asyncio.Redis | None = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
        **options: Unpack[SharedOptions],
    ) -> None:
        store = RedisStore(url_or_client, prefix=prefix, async_client=async_client,
                           socket_timeout=socket_timeout)
        super().__init__(store, clock=clock, **options)
