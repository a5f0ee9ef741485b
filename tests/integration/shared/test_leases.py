"""Leases of the shared coordinators, against the real stores: a slow provider call renews its
lease (no second refresh behind it), a request cancelled while claiming lets its lease go."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ssrauth._coordination.coordinator import RefreshSource
from ssrauth._coordination.shared import SharedCoordinator
from ssrauth._coordination.store import Answer, Claim, Claimed, Op, Renew, Store
from ssrauth._core.clock import ManualClock
from ssrauth._core.errors import ProviderRejected, ProviderUnavailable
from ssrauth._core.tokens import TokenSet, token_digest

from .stores import StoreSpec

TOKEN = "refresh-token-of-alice"
KEY = token_digest(TOKEN)
PATIENCE = 10.0


class _AppliedThenStuck:
    """The store applies a Claim, then the answer never comes back (the request is cancelled
    while it waits: a client disconnect under an ASGI server)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.applied = threading.Event()

    def run(self, op: Op) -> Answer:
        return self.inner.run(op)

    async def arun(self, op: Op) -> Answer:
        answer = await self.inner.arun(op)
        if isinstance(op, Claim):
            self.applied.set()
            await asyncio.Event().wait()
        return answer


def test_a_request_cancelled_while_claiming_does_not_hold_the_lease(store: StoreSpec) -> None:
    """Cancelled between the store taking the lease and the flow hearing it: the lease was
    never released, so every other process waited a whole lease_ttl (or timed out: 503)."""
    clock = ManualClock()
    stuck = _AppliedThenStuck(store.coordinator(clock).store)
    first = SharedCoordinator(stuck, clock=clock)
    other = store.coordinator(clock, wait_timeout=0.2)
    calls: list[str] = []

    async def never() -> TokenSet:
        raise AssertionError("the cancelled request never got to call the provider")

    async def cancelled() -> None:
        task = asyncio.create_task(first.arefresh(TOKEN, never))
        while not stuck.applied.is_set():
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, PATIENCE)

    asyncio.run(cancelled())

    def provider() -> TokenSet:
        calls.append("called")
        return TokenSet("access", "id", TOKEN)

    refreshed = other.refresh(TOKEN, provider)  # no lease is held: it leads, without waiting
    assert refreshed.tokens.refresh_token == TOKEN
    assert calls == ["called"]
    assert other.store.run(Claim(KEY, "someone", clock.now(), clock.now() + 8)) != Claimed.BUSY


class _CountingRenewals:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.renewals = 0
        self.renewed = threading.Condition()

    def run(self, op: Op) -> Answer:
        answer = self.inner.run(op)
        self._count(op)
        return answer

    async def arun(self, op: Op) -> Answer:
        answer = await self.inner.arun(op)
        self._count(op)
        return answer

    def _count(self, op: Op) -> None:
        if isinstance(op, Renew):
            with self.renewed:
                self.renewals += 1
                self.renewed.notify_all()

    def wait_for_renewal_after(self, seen: int) -> None:
        """Two renewals past ``seen``: the first may have read the clock before the test moved
        it (its lease then ends before the new time); the second began after."""
        with self.renewed:
            assert self.renewed.wait_for(lambda: self.renewals > seen + 1, PATIENCE), (
                "no renewal")


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_slow_provider_call_keeps_its_lease(store: StoreSpec, face: str) -> None:
    """A provider call that outlasts lease_ttl (httpx's timeouts are per phase) must keep the
    key: otherwise another process calls the provider with the same token, and with rotation
    one of the two is refused (the token was just retired) and that refusal clears cookies."""
    clock = ManualClock()
    counting = _CountingRenewals(store.coordinator(clock).store)
    # Redis also purges a lease PX = lease_ttl of real time after its last renewal: long
    # enough here for a renewal (every lease_ttl/3) to come on a loaded machine.
    slow = SharedCoordinator(counting, clock=clock, lease_ttl=1.2)
    other = store.coordinator(clock, wait_timeout=0.2)
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []
    rotated = TokenSet("access", "id", "rotated-refresh-token")

    def provider() -> TokenSet:
        calls.append("call")
        if len(calls) > 1:
            raise ProviderRejected("already rotated", "RefreshTokenReuseException")
        started.set()
        assert finish.wait(PATIENCE)
        return rotated

    async def aprovider() -> TokenSet:
        return await asyncio.to_thread(provider)

    results: list[object] = []

    def leader() -> None:
        if face == "sync":
            results.append(slow.refresh(TOKEN, provider))
        else:
            results.append(asyncio.run(slow.arefresh(TOKEN, aprovider)))

    thread = threading.Thread(target=leader)
    thread.start()
    assert started.wait(PATIENCE)
    for _ in range(3):  # the call runs for many lease_ttls of the coordinator's clock
        seen = counting.renewals
        clock.advance(10)
        counting.wait_for_renewal_after(seen)
        with pytest.raises(ProviderUnavailable):  # still busy: waits, keeps cookies
            other.refresh(TOKEN, provider)
    finish.set()
    thread.join(PATIENCE)

    assert calls == ["call"]
    assert len(results) == 1
    late = other.refresh(TOKEN, provider)
    assert late.tokens == rotated
    assert late.source is RefreshSource.GRACE
    assert other.is_superseded(KEY)
