"""What a shared coordinator asks of its store, as operations both stores (SQLite, Redis) answer.

Each operation is one atomic step in the store, so the algorithm in ``shared`` never holds a
lock across a provider call: claiming (tombstone? stored result? live lease? else take the
lease), settling (tombstone? keep a stored result? else store ours, mark the old token
superseded, drop our lease), releasing a lease, revoking, and asking for a mark. Expiries are
times on the coordinator's clock, compared by the store with the ``now`` each operation carries,
so every process (and a test's ``ManualClock``) decides on the same time line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from .._core.errors import StoreUnavailable

__all__ = [
    "Answer",
    "Claim",
    "Claimed",
    "IsMarked",
    "Mark",
    "Op",
    "Release",
    "Renew",
    "Revocations",
    "Revoke",
    "RevokedSince",
    "Settle",
    "Store",
    "StoreUnavailable",
]


class Claimed(enum.Enum):
    LEADER = "leader"  # the lease is ours: call the provider
    BUSY = "busy"  # another process holds a live lease: wait and claim again
    REVOKED = "revoked"  # signed out: no refresh, no stored result


class Mark(enum.Enum):
    TOMBSTONE = "tombstone"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Claim:
    """Answers :class:`Claimed`, or the sealed outcome stored for ``key`` (bytes)."""

    key: bytes
    owner: str
    now: float
    lease_until: float


@dataclass(frozen=True, slots=True)
class Settle:
    """Store ``sealed`` unless the key is tombstoned (answers ``Claimed.REVOKED``) or a result is
    already stored that ours must not replace (tokens are never replaced, a rejection only by
    tokens); answers the sealed outcome that stands. Drops ``owner``'s lease either way."""

    key: bytes
    owner: str
    now: float
    sealed: bytes
    has_tokens: bool
    until: float
    #: Set when the refresh rotated the refresh token: mark the old one superseded until then.
    superseded_until: float | None


@dataclass(frozen=True, slots=True)
class Release:
    """Drop the lease if ``owner`` still holds it (the call failed or was cancelled)."""

    key: bytes
    owner: str


@dataclass(frozen=True, slots=True)
class Renew:
    """Move ``owner``'s lease on to ``lease_until`` if ``owner`` still holds it (the provider
    call is still running: the lease must not lapse under a live leader)."""

    key: bytes
    owner: str
    now: float
    lease_until: float


@dataclass(frozen=True, slots=True)
class Revoke:
    """Tombstone ``key`` until ``until`` and drop any stored result."""

    key: bytes
    now: float
    until: float


@dataclass(frozen=True, slots=True)
class IsMarked:
    mark: Mark
    key: bytes
    now: float


@dataclass(frozen=True, slots=True)
class RevokedSince:
    """The tombstones written after ``cursor`` (``None``: every live one), oldest first, at most
    ``limit`` of them: the feed that lets every process answer "signed out?" from memory.

    The store may hold its answer up to ``wait`` seconds for a tombstone to arrive (Redis
    ``XREAD BLOCK``); one that cannot wait answers at once. A store without a feed answers
    ``None`` (what a ``match`` without this case gives): the coordinator then asks
    :class:`IsMarked` on every request, as before there was a feed.
    """

    cursor: str | None
    now: float
    wait: float
    limit: int


@dataclass(frozen=True, slots=True)
class Revocations:
    """What :class:`RevokedSince` answers: ``(key, until)`` pairs in write order, the cursor to
    ask from next, and whether nothing newer existed when the store read them (fewer than
    ``limit`` entries)."""

    entries: tuple[tuple[bytes, float], ...]
    cursor: str | None
    complete: bool


Op = Claim | Settle | Release | Renew | Revoke | IsMarked | RevokedSince
#: What an operation answers: Claim → Claimed | bytes, Settle → Claimed.REVOKED | bytes,
#: IsMarked → bool, RevokedSince → Revocations (None without a feed), Release, Renew and
#: Revoke → None.
Answer = Claimed | bytes | bool | Revocations | None


class Store(Protocol):
    """Runs operations atomically; raises :class:`StoreUnavailable` for any failure of its own.

    What a store must answer, per operation (``now`` and every expiry are times on the
    coordinator's clock: compare them, never the store's own clock):

    - :class:`Claim`: ``Claimed.REVOKED`` if a live tombstone is on the key; else the stored
      sealed outcome (bytes) if a live one is; else ``Claimed.BUSY`` if another owner's lease
      is live; else record ``owner``'s lease until ``lease_until`` and answer
      ``Claimed.LEADER``. All of it one atomic step across every process sharing the store.
    - :class:`Settle`: drop ``owner``'s lease; ``Claimed.REVOKED`` on a live tombstone; the
      stored outcome if one is live and holds tokens (or ours does not); else store ``sealed``
      until ``until``, mark the key ``SUPERSEDED`` until ``superseded_until`` when given, and
      answer ``sealed``.
    - :class:`Renew`: move ``owner``'s lease to ``lease_until`` if ``owner`` holds it.
    - :class:`Release`: drop the lease if ``owner`` holds it.
    - :class:`Revoke`: drop the stored outcome, tombstone the key until ``until``.
    - :class:`IsMarked`: whether a live mark of that kind is on the key.
    - :class:`RevokedSince` (optional): the tombstones :class:`Revoke` wrote after a cursor, in
      write order (a store that answers ``None`` has no feed and is asked per request).

    ``close`` / ``aclose`` release what the store opened (connections, clients; not a client
    its caller passed in), at shutdown; an operation after them may open anew.
    """

    def run(self, op: Op) -> Answer:
        ...

    async def arun(self, op: Op) -> Answer:
        ...

    def close(self) -> None:
        ...

    async def aclose(self) -> None:
        ...
