"""What this process knows of sign-outs, kept in step with the shared store without asking it on
every request.

A shared coordinator used to read the store on every signed-in request ("was this refresh token
signed out?"): one Redis round trip per page. Instead, one background thread per process follows
the store's feed of tombstones (:class:`~ssrauth._coordination.store.RevokedSince`: Redis
``XREAD BLOCK`` on a stream, SQLite a table read by sequence number) and keeps every live one in
memory. A request then answers from memory while the feed is *fresh*: the last complete read of
it started at most ``propagation_delay`` seconds ago, so every sign-out written to the store
before that moment is known here. That bound is the propagation delay: a sign-out in any process
is in force in every other one within ``propagation_delay`` seconds. While the feed is not fresh
(the thread is starting, the store is slow or down) the coordinator asks the store per request
as before, and when the store is down too it answers from the tombstones already known, which
stay in force through the outage.

A sign-out the store could not take (it was down) is queued here and written by the same thread
once the store answers again, with its original expiry, so it reaches every other process after
the outage instead of being lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref

from .._core.clock import Clock
from .._core.errors import StoreUnavailable
from .._core.events import Event, Events
from .store import Revocations, Revoke, RevokedSince, Store

__all__ = ["DEFAULT_PROPAGATION_DELAY", "RevocationFeed"]

logger = logging.getLogger("ssrauth")

#: A sign-out is in force in every process of the store within this many seconds. One second is
#: below the time a person takes to reopen a tab or replay a request by hand, and the feed is
#: read four times as often (a blocked Redis read or a SQLite query every 0.25 s per process).
DEFAULT_PROPAGATION_DELAY = 1.0
#: Tombstones read per feed request; a start-up catch-up reads the live ones in such batches.
_BATCH = 1000
#: After a failed read the follower tries again this soon, doubling up to ``_RETRY_MAX`` (and
#: never slower than its usual pace): a store that failed once, such as SQLite busy for a moment,
#: is followed again at once, whatever the propagation delay (requests ask the store meanwhile).
_RETRY_FIRST = 0.05
_RETRY_MAX = 2.0
#: How long ``close`` waits for the thread (it is in a read of at most a quarter delay).
_JOIN_TIMEOUT = 5.0
#: Every feed of this process, so a forked child (gunicorn's workers, forked after the app was
#: loaded) starts its own thread: threads do not survive fork, and a lock held at fork is stuck.
_feeds: weakref.WeakSet[RevocationFeed] = weakref.WeakSet()


class RevocationFeed:
    """The tombstones this process knows (its own, the feed's, the store's answers), the
    follower thread that keeps them current, and the sign-outs waiting for the store."""

    def __init__(self, store: Store, clock: Clock, propagation_delay: float,
                 events: Events) -> None:
        # Nothing here refers to the coordinator: the thread must not keep it alive (its
        # finalizer stops the thread when it is collected).
        self._store = store
        self._clock = clock
        self.propagation_delay = propagation_delay
        self._events = events
        self._failing = False
        self._purge_above = _BATCH
        self._lock = threading.Lock()
        self._known: dict[bytes, float] = {}  # key -> until (coordinator clock)
        self._pending: list[Revoke] = []  # sign-outs the store has not taken yet
        self._cursor: str | None = None
        self._fresh_as_of = -float("inf")  # monotonic start of the last complete read
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        #: False once the store answered that it has no feed (a store of your own without
        #: RevokedSince): every request then asks the store.
        self.supported = True
        _feeds.add(self)

    # -- what requests ask ----------------------------------------------------------------------

    def knows_revoked(self, key: bytes) -> bool:
        """Whether a live tombstone on ``key`` is known here (in force even with the store down)."""
        return self._known.get(key, 0.0) > self._clock.now()

    def is_fresh(self) -> bool:
        """Whether every sign-out written before ``propagation_delay`` seconds ago is known
        (starts the follower when it is not running)."""
        if time.monotonic() - self._fresh_as_of <= self.propagation_delay:
            return True
        self._follow()
        return False

    def learn(self, key: bytes, until: float) -> None:
        """Remember a tombstone (our own sign-out, or one the store answered)."""
        with self._lock:
            if self._known.get(key, 0.0) < until:
                self._known[key] = until

    def queue(self, revoke: Revoke) -> None:
        """A sign-out the store did not take: written by the follower once the store answers."""
        self.learn(revoke.key, revoke.until)
        with self._lock:
            self._pending.append(revoke)
        self._follow()

    @property
    def pending(self) -> int:
        """Sign-outs still waiting for the store."""
        return len(self._pending)

    def stop(self) -> None:
        """Ask the follower to end (also when the coordinator is collected)."""
        self._closed = True
        self._stop.set()

    def close(self) -> None:
        """Stop the follower (at shutdown: requests then ask the store, as without a feed)."""
        self.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)

    # -- the follower thread -------------------------------------------------------------------

    def _follow(self) -> None:
        """Start the follower on first use (and in a forked child, see ``_forked``)."""
        if self._closed or not self.supported or self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ssrauth-revocations",
                                                daemon=True)
                self._thread.start()

    def _forked(self) -> None:
        """In a forked child: no thread runs here, and the parent's locks may be stuck. What
        the parent knew stays true (its freshness too, until it lapses and a thread starts)."""
        self._lock = threading.Lock()
        self._thread = None

    def _run(self) -> None:
        try:
            self._follow_store()
        except Exception:  # a store of your own that fails otherwise than StoreUnavailable
            logger.exception("ssrauth: the revocation feed stopped; every signed-in request "
                             "now asks the store")
            self.supported = False

    def _follow_store(self) -> None:
        wait = self.propagation_delay / 4
        retry = min(_RETRY_FIRST, wait)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._replay()
                answer = self._store.run(RevokedSince(self._cursor, self._clock.now(), wait,
                                                      _BATCH))
            except StoreUnavailable as error:
                if not self._failing:  # once per outage, not once per attempt
                    self._events.emit(Event.STORE_UNAVAILABLE, reason=str(error))
                self._failing = True
                self._stop.wait(retry)
                retry = min(2 * retry, wait, _RETRY_MAX)
                continue
            self._failing = False
            retry = _RETRY_FIRST
            if not isinstance(answer, Revocations):
                self.supported = False
                return
            self._take(answer)
            if answer.complete:
                self._fresh_as_of = started
            if not answer.entries:  # nothing new: pace a store that answers without waiting
                self._stop.wait(max(0.0, wait - (time.monotonic() - started)))

    def _take(self, answer: Revocations) -> None:
        now = self._clock.now()
        with self._lock:
            for key, until in answer.entries:
                if until > now and self._known.get(key, 0.0) < until:
                    self._known[key] = until
            self._cursor = answer.cursor
            if len(self._known) > self._purge_above:  # lapsed ones go, at amortised cost
                self._known = {k: u for k, u in self._known.items() if u > now}
                self._purge_above = max(_BATCH, 2 * len(self._known))

    def _replay(self) -> None:
        """Write the queued sign-outs, oldest first; stop at the first the store refuses."""
        while self._pending:
            revoke = self._pending[0]
            self._store.run(revoke)
            with self._lock:
                self._pending.pop(0)


def _after_fork_in_child() -> None:
    for feed in list(_feeds):
        feed._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
