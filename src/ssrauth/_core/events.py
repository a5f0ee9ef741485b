"""Counters and hooks for what the refresh machinery does, so tests, dashboards and logs see it.

Every event is counted, logged at a level that matches how much an operator should care, and
passed to subscribers (e.g. a Prometheus or StatsD bridge of the app's own).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CALL_OUTCOMES", "PROVIDER_OPERATIONS", "Event", "Events", "log_safe"]

logger = logging.getLogger("ssrauth")


class Event(enum.Enum):
    REFRESH_STARTED = "refresh_started"  # this request calls the provider
    REFRESH_COALESCED = "refresh_coalesced"  # waited for another request's call
    REFRESH_REUSED = "refresh_reused"  # a stored result from the grace window
    REFRESH_SUCCEEDED = "refresh_succeeded"
    REFRESH_REJECTED = "refresh_rejected"  # provider said no (once per call): session cleared
    PROVIDER_UNAVAILABLE = "provider_unavailable"  # cookies kept
    DUPLICATES_SEEN = "duplicates_seen"  # a request carried the same auth cookie twice
    COOKIES_DELETED = "cookies_deleted"  # deletion Set-Cookie lines sent
    COOKIES_WRITTEN = "cookies_written"
    TOKEN_INVALID = "token_invalid"  # a token failed verification (forged, foreign, garbage)
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    BAD_REQUEST = "bad_request"  # unreadable or oversized cookie input
    JWKS_FETCHED = "jwks_fetched"
    STORE_UNAVAILABLE = "store_unavailable"  # the shared coordinator's store failed: in-process
    SET_COOKIE_CAPPED = "set_cookie_capped"  # deletions left out of one response by the cap
    PROVIDER_CALL = "provider_call"  # one provider call timed: operation, outcome, seconds
    INSECURE_ORIGIN = "insecure_origin"  # a host reached over http while cookies are Secure


#: ``PROVIDER_CALL``'s ``operation``: every call the manager makes to its provider. A closed set,
#: so a metrics label made of it cannot grow without bound.
PROVIDER_OPERATIONS = ("refresh", "sign_in", "exchange", "revoke", "global_sign_out")
#: ``PROVIDER_CALL``'s ``outcome``: the answer's class (``_core.errors``), or ``error`` for
#: anything else (a sign-in challenge, a cancelled call).
CALL_OUTCOMES = ("ok", "rejected", "unavailable", "error")


_LEVELS = {
    Event.REFRESH_REJECTED: logging.INFO,
    Event.PROVIDER_UNAVAILABLE: logging.WARNING,
    Event.DUPLICATES_SEEN: logging.WARNING,
    Event.TOKEN_INVALID: logging.INFO,
    Event.BAD_REQUEST: logging.WARNING,
    Event.SIGNED_IN: logging.INFO,
    Event.SIGNED_OUT: logging.INFO,
    Event.REFRESH_STARTED: logging.INFO,
    Event.JWKS_FETCHED: logging.INFO,
    Event.STORE_UNAVAILABLE: logging.WARNING,
    Event.SET_COOKIE_CAPPED: logging.WARNING,
}

#: How much of one request-supplied value a log line quotes.
_LOG_VALUE_LIMIT = 200


def log_safe(value: object) -> str:
    """``value`` fit for one log line: request parts (paths, hosts, cookie names) arrive with
    CR, LF, NUL or escape sequences that would forge log lines or drive a terminal, so every
    character outside printable ASCII is written as a Python escape, and long values are cut."""
    text = str(value)
    if len(text) > _LOG_VALUE_LIMIT:
        text = text[:_LOG_VALUE_LIMIT] + "…"
    if text.isascii() and text.isprintable():
        return text
    return text.encode("ascii", "backslashreplace").decode("ascii").translate(_CONTROLS)


_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}

Listener = Callable[[Event, int, Mapping[str, Any]], None]


class Events:
    """Thread-safe counters plus subscribers. One instance per :class:`SessionManager`."""

    def __init__(self) -> None:
        self._counts: Counter[Event] = Counter()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def emit(self, event: Event, count: int = 1, **details: Any) -> None:
        with self._lock:
            self._counts[event] += count
        level = _LEVELS.get(event, logging.DEBUG)
        if logger.isEnabledFor(level):
            extra = " ".join(f"{k}={log_safe(v)}" for k, v in details.items())
            logger.log(level, "ssrauth %s x%d %s", event.value, count, extra)
        for listener in self._listeners:
            try:
                listener(event, count, details)
            except Exception:
                # A broken metrics bridge must not fail the user's request.
                logger.exception("ssrauth: event listener %r failed", listener)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def count(self, event: Event) -> int:
        return self._counts[event]

    def snapshot(self) -> dict[str, int]:
        """All counters by event name, zeros included (for a dashboard or a test assertion)."""
        with self._lock:
            return {event.value: self._counts[event] for event in Event}
