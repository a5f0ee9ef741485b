"""The shared stores the tests run against: a SQLite file in the test's temporary folder, and the
Redis on 127.0.0.1:6379 under a key prefix of the test's own (deleted afterwards).

Redis is never skipped: if it does not answer, the test fails and says how to start it.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from ssrauth import Clock, RedisCoordinator, SqliteCoordinator, SqliteStore
from ssrauth._coordination.redis import RedisStore
from ssrauth._coordination.shared import SharedCoordinator
from ssrauth._coordination.store import Answer, Op, Store, StoreUnavailable
from tests.doc_examples import extending_doc_blocks, extending_doc_module

REDIS_URL = os.environ.get("SSRAUTH_TEST_REDIS", "redis://127.0.0.1:6379/0")
STORES = ("sqlite", "redis")


def documented_store() -> types.ModuleType:
    """docs/extending.md's store (``MemoryStore``) and its wiring (``manager_over``), run as one
    module exactly as the page shows them."""
    return extending_doc_module(extending_doc_blocks("## A store"))


@dataclass(frozen=True)
class StoreSpec:
    """Where one test's shared store lives; picklable, so worker processes build the same."""

    kind: str
    location: str  # the SQLite file, or the Redis URL
    prefix: str = ""
    options: tuple[tuple[str, Any], ...] = ()  # coordinator options (hashable, picklable)
    #: A file whose existence makes every process's store fail (see :class:`SwitchedStore`).
    outage_switch: str = ""

    def coordinator(self, clock: Clock, **options: Any) -> SharedCoordinator:
        options = {**dict(self.options), **options}
        if self.outage_switch:
            return SharedCoordinator(SwitchedStore(self.store(), self.outage_switch),
                                     clock=clock, **options)
        if self.kind == "sqlite":
            return SqliteCoordinator(self.location, clock=clock, **options)
        return RedisCoordinator(self.location, clock=clock, prefix=self.prefix, **options)

    def store(self) -> Store:
        """The bare store (no coordinator, no feed thread), e.g. to look at what it holds."""
        if self.kind == "sqlite":
            return SqliteStore(self.location)
        return RedisStore(self.location, prefix=self.prefix)

    def with_options(self, **options: Any) -> StoreSpec:
        merged = {**dict(self.options), **options}
        return StoreSpec(self.kind, self.location, self.prefix, tuple(sorted(merged.items())),
                         self.outage_switch)

    def with_outage_switch(self, path: str) -> StoreSpec:
        return StoreSpec(self.kind, self.location, self.prefix, self.options, path)


class SwitchedStore:
    """A real store that fails like a dead one (``StoreUnavailable``) while the file ``switch``
    exists: an outage the test turns on and off for every worker process at once."""

    def __init__(self, inner: Store, switch: str) -> None:
        self.inner = inner
        self.switch = switch

    def _check(self, op: Op) -> None:
        if os.path.exists(self.switch):
            raise StoreUnavailable(f"outage switched on by the test ({type(op).__name__})")

    def run(self, op: Op) -> Answer:
        self._check(op)
        return self.inner.run(op)

    async def arun(self, op: Op) -> Answer:
        self._check(op)
        return await self.inner.arun(op)

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()


def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({error}); start it with "
                    "`redis-server --daemonize yes --port 6379` (.ci/run does)")
    return client


def raw_entries(spec: StoreSpec) -> list[bytes]:
    """Every byte the store holds for this test (keys and values), for scanning."""
    if spec.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(spec.location) as db:
            rows = db.execute("SELECT * FROM ssrauth_marks").fetchall()
            rows += db.execute("SELECT * FROM ssrauth_revocations").fetchall()
        return [v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row]
    client = redis_client()
    found: list[bytes] = []
    for key in client.scan_iter(match=spec.prefix + "*"):
        found.append(key)
        kind = client.type(key)
        if kind == b"hash":
            for name, value in client.hgetall(key).items():
                found += [name, value]
        elif kind == b"stream":  # the feed of sign-outs
            for entry_id, fields in client.xrange(key):
                found += [entry_id, *(v for pair in fields.items() for v in pair)]
        else:
            found.append(client.get(key) or b"")
    return found
