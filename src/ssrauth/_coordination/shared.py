"""The cross-process refresh coordinator, written once over a
:class:`~ssrauth._coordination.store.Store`.

One refresh token, any number of processes (and of threads and tasks in each):

1. In-process single flight first, so one process sends one waiter to the store.
2. That waiter claims the key in the store, atomically: a tombstone answers "signed out", a
   stored result answers itself (the grace window), a live lease answers "busy" (poll again
   with a short, growing pause until the wait timeout), and otherwise the lease is ours.
3. The leader calls the provider and settles: the store keeps the sealed outcome (new tokens,
   or the provider's "no") for the grace window unless a sign-out tombstoned the key meanwhile,
   in which case the tokens are thrown away. A leader that died leaves a lease that lapses;
   the next claim after that takes over.

Sign-outs reach every process through the store's feed of tombstones (``revocations``): a
signed-in request asks nothing of the store while that feed is fresh (at most
``propagation_delay`` seconds behind), and a request about to write cookies asks the store itself
(:meth:`SharedCoordinator.confirm_revoked`), so no response re-creates a session signed out a
moment before. A sign-out the store could not take is queued and written when it answers again.

Results are sealed with a key derived from the old refresh token (``seal``). If the store fails,
the request is coordinated in this process only (an embedded :class:`LocalCoordinator`), a
``store_unavailable`` event is emitted, the store is left alone for ``retry_store_after``
seconds, and a refusal from the provider keeps the cookies: another process may have rotated
the token, and nothing may log a user out because our own store is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypedDict

from .._core.clock import Clock
from .._core.errors import ProviderRejected, ProviderUnavailable, SignedOut, StoreUnavailable
from .._core.events import Event, Events
from .._core.steps import Handlers, Step, Steps, adrive, ask, drive
from .._core.tokens import TokenSet, token_digest
from .coordinator import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_SUPERSEDED_TTL,
    DEFAULT_TOMBSTONE_TTL,
    DEFAULT_WAIT_TIMEOUT,
    LocalCoordinator,
    Refreshed,
    RefreshSource,
    followed,
)
from .revocations import DEFAULT_PROPAGATION_DELAY, RevocationFeed
from .seal import open_outcome, seal_outcome
from .singleflight import SingleFlight
from .store import (
    Answer,
    Claim,
    Claimed,
    IsMarked,
    Mark,
    Op,
    Release,
    Renew,
    Revoke,
    Settle,
    Store,
)

__all__ = ["DEFAULT_LEASE_TTL", "SharedCoordinator", "SharedOptions"]

#: A leader's lease: longer than a provider call takes (5 s timeout per phase in practice), and
#: shorter than the wait timeout, so a follower outlives a dead leader's lease and takes over.
DEFAULT_LEASE_TTL = 8.0
#: After the store failed, coordinate in-process for this long before asking it again, so a dead
#: Redis host does not cost every request a connect timeout.
DEFAULT_STORE_RETRY = 5.0
#: Followers poll the store with pauses growing from the first to the last value.
_FIRST_PAUSE = 0.005
_LAST_PAUSE = 0.1


class SharedOptions(TypedDict, total=False):
    """The keyword options every shared coordinator takes (see :class:`SharedCoordinator`)."""

    grace_period: float
    tombstone_ttl: float
    superseded_ttl: float
    wait_timeout: float
    lease_ttl: float
    retry_store_after: float
    propagation_delay: float
    events: Events | None


@dataclass(frozen=True, slots=True)
class _Stored(Step[Answer]):
    """One atomic store operation (see ``_store``)."""

    op: Op


@dataclass(frozen=True, slots=True)
class _Pause(Step[None]):
    """A follower's wait before it claims again."""

    seconds: float


@dataclass(frozen=True, slots=True)
class _CallProvider(Step[TokenSet]):
    """The provider call, made by the leader only, while its lease is kept renewed."""


@dataclass(frozen=True, slots=True)
class _KeepLocally(Step[Refreshed]):
    """The store failed after the provider answered: that answer is kept in this process (its
    local coordinator), and the provider is never asked again for it."""

    refresh_token: str
    outcome: Refreshed | ProviderRejected


@dataclass(slots=True)
class _Lease:
    """The lease a flow holds, so the face running it can release it however the flow ends."""

    key: bytes
    owner: str | None = None


class SharedCoordinator:
    """Single flight + grace window + tombstones + superseded marks across processes.

    Build it through :class:`~ssrauth.SqliteCoordinator` or :class:`~ssrauth.RedisCoordinator`,
    or over a :class:`~ssrauth.Store` of your own (docs/extending.md).
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        grace_period: float = DEFAULT_GRACE_PERIOD,
        tombstone_ttl: float = DEFAULT_TOMBSTONE_TTL,
        superseded_ttl: float = DEFAULT_SUPERSEDED_TTL,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        retry_store_after: float = DEFAULT_STORE_RETRY,
        propagation_delay: float = DEFAULT_PROPAGATION_DELAY,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self.grace_period = grace_period
        self.tombstone_ttl = tombstone_ttl
        self.superseded_ttl = superseded_ttl
        self.wait_timeout = wait_timeout
        self.lease_ttl = lease_ttl
        self.retry_store_after = retry_store_after
        #: Where ``store_unavailable`` is counted; pass the manager's to see it in its snapshot.
        self.events = events or Events()
        # This process's own sign-outs (answered even while the store is down) and the
        # coordination used while it is.
        self._local = LocalCoordinator(clock=clock, grace_period=grace_period,
                                       tombstone_ttl=tombstone_ttl, wait_timeout=wait_timeout,
                                       superseded_ttl=superseded_ttl)
        # An in-process follower waits for its leader's whole flow: a wait, then a call.
        self._flights: SingleFlight[Refreshed] = SingleFlight(wait_timeout + lease_ttl)
        self._store_down_until = 0.0
        #: The tombstones this process knows, kept current by a thread following the store.
        self.revocations = RevocationFeed(store, clock, propagation_delay, self.events)
        weakref.finalize(self, self.revocations.stop)

    # -- the protocol --------------------------------------------------------------------------

    def refresh(self, refresh_token: str, call: Callable[[], TokenSet]) -> Refreshed:
        if self._store_is_down():
            return self._refresh_locally(refresh_token, call)
        lease = _Lease(token_digest(refresh_token))

        def lead() -> Refreshed:
            try:
                return drive(self._flow(refresh_token, lease), self._handlers(lease, call, None))
            finally:
                if lease.owner is not None:
                    self._run(Release(lease.key, lease.owner), None)

        try:
            return followed(*self._flights.run(lease.key, lead))
        except StoreUnavailable as error:
            self._store_failed(error)
            return self._refresh_locally(refresh_token, call)

    async def arefresh(
        self, refresh_token: str, call: Callable[[], Awaitable[TokenSet]]
    ) -> Refreshed:
        if self._store_is_down():
            return await self._arefresh_locally(refresh_token, call)
        lease = _Lease(token_digest(refresh_token))

        async def lead() -> Refreshed:
            try:
                return await adrive(self._flow(refresh_token, lease),
                                    self._handlers(lease, None, call))
            finally:
                if lease.owner is not None:
                    await self._arun(Release(lease.key, lease.owner), None)

        try:
            return followed(*await self._flights.arun(lease.key, lead))
        except StoreUnavailable as error:
            self._store_failed(error)
            return await self._arefresh_locally(refresh_token, call)

    def _handlers(
        self,
        lease: _Lease,
        call: Callable[[], TokenSet] | None,
        acall: Callable[[], Awaitable[TokenSet]] | None,
    ) -> Handlers:
        """Both faces of every step of one leader's flow (the face running it passes its own
        provider call; the other is None and never asked)."""

        def stored(step: _Stored) -> Answer:
            return self.store.run(step.op)

        async def astored(step: _Stored) -> Answer:
            return await self.store.arun(step.op)

        def pause(step: _Pause) -> None:
            time.sleep(step.seconds)

        async def apause(step: _Pause) -> None:
            await asyncio.sleep(step.seconds)

        def provider(_: _CallProvider) -> TokenSet:
            assert call is not None
            with self._renewing(lease):
                return call()

        async def aprovider(_: _CallProvider) -> TokenSet:
            assert acall is not None
            renewing = asyncio.create_task(self._arenew(lease))
            try:
                return await acall()
            finally:
                renewing.cancel()

        def keep(step: _KeepLocally) -> Refreshed:
            return self._local.refresh(step.refresh_token, lambda: _tokens_of(step.outcome))

        async def akeep(step: _KeepLocally) -> Refreshed:
            async def answered() -> TokenSet:
                return _tokens_of(step.outcome)

            return await self._local.arefresh(step.refresh_token, answered)

        return (Handlers().on(_Stored, stored, astored).on(_Pause, pause, apause)
                .on(_CallProvider, provider, aprovider).on(_KeepLocally, keep, akeep))

    def revoke(self, key: bytes) -> None:
        revoke = self._revoke(key)
        if self._run(revoke, False) is False:  # Revoke answers None when the store took it
            self.revocations.queue(revoke)

    async def arevoke(self, key: bytes) -> None:
        revoke = self._revoke(key)
        if await self._arun(revoke, False) is False:
            self.revocations.queue(revoke)

    def is_revoked(self, key: bytes) -> bool:
        """From memory while the feed is fresh (no store round trip on a signed-in request);
        from the store otherwise (:meth:`confirm_revoked`)."""
        if self._knows_revoked(key):
            return True
        return not self.revocations.is_fresh() and self.confirm_revoked(key)

    async def ais_revoked(self, key: bytes) -> bool:
        if self._knows_revoked(key):
            return True
        return not self.revocations.is_fresh() and await self.aconfirm_revoked(key)

    def confirm_revoked(self, key: bytes) -> bool:
        """Asked of the store itself, before a response writes cookies: a sign-out a moment ago
        in another process (not yet in this one's feed) must turn those writes into a clear.
        With the store down, the tombstones known here answer."""
        return self._knows_revoked(key) or self._learned(key, self._run(
            IsMarked(Mark.TOMBSTONE, key, self._clock.now()), False))

    async def aconfirm_revoked(self, key: bytes) -> bool:
        return self._knows_revoked(key) or self._learned(key, await self._arun(
            IsMarked(Mark.TOMBSTONE, key, self._clock.now()), False))

    def _knows_revoked(self, key: bytes) -> bool:
        return self._local.is_revoked(key) or self.revocations.knows_revoked(key)

    def _learned(self, key: bytes, answer: Answer) -> bool:
        """Keep a tombstone the store answered (in force here through a later outage; its real
        expiry is not told, a full TTL from now outlasts it and is harmless on a dead token)."""
        if answer is not True:
            return False
        self.revocations.learn(key, self._clock.now() + self.tombstone_ttl)
        return True

    def is_superseded(self, key: bytes) -> bool:
        return self._local.is_superseded(key) or self._run(
            IsMarked(Mark.SUPERSEDED, key, self._clock.now()), False) is True

    async def ais_superseded(self, key: bytes) -> bool:
        return self._local.is_superseded(key) or await self._arun(
            IsMarked(Mark.SUPERSEDED, key, self._clock.now()), False) is True

    def close(self) -> None:
        """Stop following the feed and close the store (its connections and clients), at
        shutdown. Sign-outs still queued for a store that is down are lost with the process."""
        self.revocations.close()
        self.store.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.revocations.close)
        await self.store.aclose()

    # -- the algorithm (once, for both faces) --------------------------------------------------

    def _flow(self, refresh_token: str, lease: _Lease) -> Steps[Refreshed]:
        key, owner = lease.key, secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_timeout
        pause, waited = _FIRST_PAUSE, False
        while True:
            now = self._clock.now()
            # Ours before the store answers: a request cancelled (or a reply lost) after the
            # store took the lease must still release it, or every other process waits a whole
            # lease_ttl. Releasing a lease someone else holds does nothing (owner differs).
            lease.owner = owner
            try:
                claimed = yield from ask(_Stored(Claim(key, owner, now, now + self.lease_ttl)))
            except StoreUnavailable:
                lease.owner = None  # no store to release it in: do not wait on it again
                raise
            if claimed is Claimed.LEADER:
                break
            lease.owner = None
            if claimed is Claimed.REVOKED:
                raise SignedOut()
            if isinstance(claimed, bytes):
                source = RefreshSource.COALESCED if waited else RefreshSource.GRACE
                return _outcome(open_outcome(refresh_token, key, claimed), source)
            if time.monotonic() >= deadline:
                raise ProviderUnavailable("timed out waiting for a refresh in another process")
            waited = True
            yield from ask(_Pause(pause))
            pause = min(pause * 2, _LAST_PAUSE)
        outcome: Refreshed | ProviderRejected
        try:
            tokens = yield from ask(_CallProvider())
        except ProviderRejected as error:
            outcome = error
        else:
            outcome = Refreshed(tokens, RefreshSource.PROVIDER, self._clock.now())
        sealed = seal_outcome(refresh_token, key, outcome)
        try:
            stood = yield from ask(_Stored(self._settle(key, owner, sealed, outcome)))
        except StoreUnavailable as error:
            # The provider already answered: keep that answer in this process, never ask again.
            self._store_failed(error)
            return (yield from ask(_KeepLocally(refresh_token, outcome)))
        lease.owner = None
        if stood is Claimed.REVOKED:
            # Signed out while the provider call was in flight: its tokens must not be used.
            raise SignedOut()
        if stood != sealed:  # a leader whose lease lapsed under us got there first
            return _outcome(open_outcome(refresh_token, key, _sealed(stood)),
                            RefreshSource.COALESCED)
        return _outcome(outcome, RefreshSource.PROVIDER)

    # -- keeping a live leader's lease (the provider call may outlast lease_ttl) ----------------
    # Without this, a slow provider call (httpx's timeout is per phase: connect, then read, so
    # one call can take well over lease_ttl) let the lease lapse: a second process claimed it
    # and called the provider too. With rotation one of the two calls is refused (the token was
    # just retired), and a refusal settled before the winner's superseded mark clears cookies.
    # A dead leader renews nothing, so its lease still lapses lease_ttl after its last renewal.

    def _renewal(self, lease: _Lease) -> Renew | None:
        if lease.owner is None:
            return None
        now = self._clock.now()
        return Renew(lease.key, lease.owner, now, now + self.lease_ttl)

    @contextlib.contextmanager
    def _renewing(self, lease: _Lease) -> Iterator[None]:
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.lease_ttl / 3):
                renewal = self._renewal(lease)
                if renewal is not None:
                    self._run(renewal, None)

        threading.Thread(target=renew, name="ssrauth-lease", daemon=True).start()
        try:
            yield
        finally:
            done.set()

    async def _arenew(self, lease: _Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            renewal = self._renewal(lease)
            if renewal is not None:
                await self._arun(renewal, None)

    def _revoke(self, key: bytes) -> Revoke:
        """The tombstone, in force in this process at once (whatever the store answers)."""
        now = self._clock.now()
        self._local.revoke(key)
        self.revocations.learn(key, now + self.tombstone_ttl)
        return Revoke(key, now, now + self.tombstone_ttl)

    def _settle(
        self, key: bytes, owner: str, sealed: bytes, outcome: Refreshed | ProviderRejected
    ) -> Settle:
        now = self._clock.now()
        rotated = isinstance(outcome, Refreshed) and (
            token_digest(outcome.tokens.refresh_token) != key)
        return Settle(key, owner, now, sealed, isinstance(outcome, Refreshed),
                      now + self.grace_period,
                      now + self.superseded_ttl if rotated else None)

    # -- the store, and what happens when it fails ---------------------------------------------

    def _run(self, op: Op, fallback: Answer) -> Answer:
        if self._store_is_down():
            return fallback
        try:
            return self.store.run(op)
        except StoreUnavailable as error:
            self._store_failed(error)
            return fallback

    async def _arun(self, op: Op, fallback: Answer) -> Answer:
        if self._store_is_down():
            return fallback
        try:
            return await self.store.arun(op)
        except StoreUnavailable as error:
            self._store_failed(error)
            return fallback

    def _store_is_down(self) -> bool:
        return time.monotonic() < self._store_down_until

    def _store_failed(self, error: StoreUnavailable) -> None:
        self._store_down_until = time.monotonic() + self.retry_store_after
        self.events.emit(Event.STORE_UNAVAILABLE, reason=str(error))

    def _refresh_locally(self, refresh_token: str, call: Callable[[], TokenSet]) -> Refreshed:
        with _keeping_cookies():
            return self._local.refresh(refresh_token, call)

    async def _arefresh_locally(
        self, refresh_token: str, call: Callable[[], Awaitable[TokenSet]]
    ) -> Refreshed:
        with _keeping_cookies():
            return await self._local.arefresh(refresh_token, call)


@contextlib.contextmanager
def _keeping_cookies() -> Iterator[None]:
    """While the store is down a provider "no" may only mean that another process rotated the
    token (we cannot see its mark): serve the request anonymously, delete nothing."""
    try:
        yield
    except ProviderRejected as error:  # not SignedOut, our own sign-out: that one is certain
        raise ProviderUnavailable(
            f"refresh refused while the coordination store is down, cookies kept: {error}"
        ) from None


def _outcome(outcome: Refreshed | ProviderRejected, source: RefreshSource) -> Refreshed:
    if isinstance(outcome, ProviderRejected):
        raise outcome
    return Refreshed(outcome.tokens, source, outcome.received_at)


def _tokens_of(outcome: Refreshed | ProviderRejected) -> TokenSet:
    if isinstance(outcome, ProviderRejected):
        raise outcome
    return outcome.tokens


def _sealed(answer: Answer) -> bytes:
    assert isinstance(answer, bytes), answer
    return answer
