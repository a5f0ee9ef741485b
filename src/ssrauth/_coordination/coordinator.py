"""Refresh coordination: one provider call per refresh token, its result kept for late requests,
and sign-out tombstones that no in-flight refresh can outrun.

:class:`RefreshCoordinator` is the contract; :class:`LocalCoordinator` keeps everything in this
process (threads and asyncio tasks); ``shared`` holds the cross-process one (SQLite, Redis).
Entries are keyed by the SHA-256 digest of the *old* refresh token, never the token; ``refresh``
takes the token itself because a shared store's results are sealed with a key derived from it.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from .._core.clock import Clock
from .._core.errors import ProviderRejected, SignedOut
from .._core.tokens import TokenSet, token_digest
from .singleflight import SingleFlight

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "Closeable",
    "ConfirmsRevocation",
    "LocalCoordinator",
    "RefreshCoordinator",
    "RefreshSource",
    "Refreshed",
    "SessionRevoked",
]

#: Cognito keeps a rotated refresh token usable for at most 60 s (RetryGracePeriodSeconds); a tab
#: that missed the Set-Cookie comes back within that window in practice, so we keep results as long.
DEFAULT_GRACE_PERIOD = 60.0
#: A sign-out tombstone must outlive any refresh still in flight and any stale copy of the cookies
#: still on its way; a day is far beyond both and costs ~100 bytes per sign-out.
DEFAULT_TOMBSTONE_TTL = 86_400.0
#: How long a rotated-away refresh token is remembered. Its refusal then deletes nothing: the
#: browser holds the newer cookies (a stale tab's request must not end that session). Bounded,
#: because if the response carrying the new cookies was lost (the app failed after the refresh)
#: the browser has only the dead token, and after this long its cookies are cleared, letting the
#: user sign in again instead of staying anonymous with cookies nobody can use.
DEFAULT_SUPERSEDED_TTL = 600.0
#: Followers wait this long for the leader's provider call (the provider timeout is 5 s).
DEFAULT_WAIT_TIMEOUT = 10.0


class RefreshSource(enum.Enum):
    PROVIDER = "provider"  # this request made the provider call
    COALESCED = "coalesced"  # another request was making it; we waited for its result
    GRACE = "grace"  # it was already made; we reused the stored result


@dataclass(frozen=True, slots=True)
class Refreshed:
    tokens: TokenSet
    source: RefreshSource
    #: When the provider's answer arrived (the clockDrift Amplify computes is relative to it).
    received_at: float


#: The former name of :class:`~ssrauth.SignedOut`, kept for existing callers.
SessionRevoked = SignedOut


@runtime_checkable
class Closeable(Protocol):
    """A coordinator or provider that holds connections (the shared coordinators, the built-in
    providers' HTTP clients): ``SessionManager.close`` closes it. Optional, so that one of your
    own needs only :class:`RefreshCoordinator` or :class:`~ssrauth.Provider`."""

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ConfirmsRevocation(Protocol):
    """A coordinator whose :meth:`RefreshCoordinator.is_revoked` may answer from a copy that
    lags (the shared ones: their feed of sign-outs, up to ``propagation_delay`` behind) and that
    can ask its store itself. The manager asks this before a response writes cookies, so a
    sign-out in another process a moment ago turns the writes into a clear."""

    def confirm_revoked(self, key: bytes) -> bool: ...

    async def aconfirm_revoked(self, key: bytes) -> bool: ...


class RefreshCoordinator(Protocol):
    def refresh(self, refresh_token: str, call: Callable[[], TokenSet]) -> Refreshed:
        """Run ``call`` unless another request did or does for this refresh token (keyed by its
        digest); share its outcome.

        Raises :class:`ProviderRejected` (shared and remembered for the grace window),
        :class:`SignedOut` after a sign-out, or ``ProviderUnavailable`` (shared, not kept).
        """
        ...

    async def arefresh(
        self, refresh_token: str, call: Callable[[], Awaitable[TokenSet]]
    ) -> Refreshed:
        ...

    def revoke(self, key: bytes) -> None:
        """Tombstone ``key``: stored and in-flight results for it are thrown away."""
        ...

    async def arevoke(self, key: bytes) -> None:
        ...

    def is_revoked(self, key: bytes) -> bool:
        """Whether ``key`` was signed out (checked before any response re-writes a session)."""
        ...

    async def ais_revoked(self, key: bytes) -> bool:
        """:meth:`is_revoked` for event loops: asked on every request that carries a session,
        so a store behind it must not hold the loop while it answers."""
        ...

    def is_superseded(self, key: bytes) -> bool:
        """Whether ``key``'s refresh gave a *different* refresh token (rotation): a later "no"
        for the old token then comes from a stale copy, not from the end of the session."""
        ...

    async def ais_superseded(self, key: bytes) -> bool:
        ...


class LocalCoordinator:
    """Single flight + grace window + tombstones for one process."""

    def __init__(
        self,
        *,
        clock: Clock,
        grace_period: float = DEFAULT_GRACE_PERIOD,
        tombstone_ttl: float = DEFAULT_TOMBSTONE_TTL,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        superseded_ttl: float = DEFAULT_SUPERSEDED_TTL,
    ) -> None:
        self._clock = clock
        self.grace_period = grace_period
        self.tombstone_ttl = tombstone_ttl
        self.superseded_ttl = superseded_ttl
        self._flights: SingleFlight[Refreshed] = SingleFlight(wait_timeout)
        self._lock = threading.Lock()
        # Insertion order is expiry order (one TTL per dict), so purging pops from the front.
        self._settled: dict[bytes, tuple[float, Refreshed | ProviderRejected]] = {}
        self._tombstones: dict[bytes, tuple[float, None]] = {}
        # Old refresh tokens a rotation replaced (see DEFAULT_SUPERSEDED_TTL).
        self._superseded: dict[bytes, tuple[float, None]] = {}

    def refresh(self, refresh_token: str, call: Callable[[], TokenSet]) -> Refreshed:
        key = token_digest(refresh_token)

        def lead() -> Refreshed:
            stored = self._recall(key)
            if stored is not None:
                return stored
            try:
                tokens = call()
            except ProviderRejected as error:
                raise self._settle(key, error) from None
            return self._settle_tokens(key, tokens)

        return followed(*self._flights.run(key, lead))

    async def arefresh(
        self, refresh_token: str, call: Callable[[], Awaitable[TokenSet]]
    ) -> Refreshed:
        key = token_digest(refresh_token)

        async def lead() -> Refreshed:
            stored = self._recall(key)
            if stored is not None:
                return stored
            try:
                tokens = await call()
            except ProviderRejected as error:
                raise self._settle(key, error) from None
            return self._settle_tokens(key, tokens)

        return followed(*await self._flights.arun(key, lead))

    def revoke(self, key: bytes) -> None:
        now = self._clock.now()
        with self._lock:
            self._settled.pop(key, None)
            self._tombstones.pop(key, None)
            self._tombstones[key] = (now + self.tombstone_ttl, None)
            _purge(self._tombstones, now)

    async def arevoke(self, key: bytes) -> None:
        self.revoke(key)

    def is_revoked(self, key: bytes) -> bool:
        return self._tombstones.get(key, _NEVER)[0] > self._clock.now()

    async def ais_revoked(self, key: bytes) -> bool:
        return self.is_revoked(key)

    def is_superseded(self, key: bytes) -> bool:
        return self._superseded.get(key, _NEVER)[0] > self._clock.now()

    async def ais_superseded(self, key: bytes) -> bool:
        return self.is_superseded(key)

    def _recall(self, key: bytes) -> Refreshed | None:
        now = self._clock.now()
        with self._lock:
            if self._tombstones.get(key, _NEVER)[0] > now:
                raise SignedOut()
            entry = self._settled.get(key)
        if entry is None or entry[0] <= now:
            return None
        if isinstance(entry[1], ProviderRejected):
            raise entry[1]
        return Refreshed(entry[1].tokens, RefreshSource.GRACE, entry[1].received_at)

    def _settle(self, key: bytes, outcome: ProviderRejected) -> ProviderRejected:
        self._store(key, outcome)
        return outcome

    def _settle_tokens(self, key: bytes, tokens: TokenSet) -> Refreshed:
        refreshed = Refreshed(tokens, RefreshSource.PROVIDER, self._clock.now())
        self._store(key, refreshed)
        if token_digest(tokens.refresh_token) != key:
            now = self._clock.now()
            with self._lock:
                self._superseded[key] = (now + self.superseded_ttl, None)
                _purge(self._superseded, now)
        return refreshed

    def _store(self, key: bytes, outcome: Refreshed | ProviderRejected) -> None:
        now = self._clock.now()
        with self._lock:
            if self._tombstones.get(key, _NEVER)[0] > now:
                # Signed out while the provider call was in flight: its tokens must not be used.
                raise SignedOut()
            self._settled.pop(key, None)
            self._settled[key] = (now + self.grace_period, outcome)
            _purge(self._settled, now)


def followed(result: Refreshed, ran: bool) -> Refreshed:
    """A single-flight outcome as this caller sees it: its own call, or a coalesced wait."""
    if ran:
        return result
    return Refreshed(result.tokens, RefreshSource.COALESCED, result.received_at)


_NEVER = (0.0, None)
_Payload = TypeVar("_Payload")


def _purge(entries: dict[bytes, tuple[float, _Payload]], now: float) -> None:
    """Drop expired entries from the front (insertion order is expiry order)."""
    while entries:
        first = next(iter(entries))
        if entries[first][0] > now:
            return
        del entries[first]
