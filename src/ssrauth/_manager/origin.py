"""The startup warning for Secure cookies on a plain-http origin: once per manager and host.

``_core.origin`` says whether a browser would drop the policy's cookies at ``scheme://host``;
this is the state around it that adapters share: which hosts were already judged, so that a
host is judged (and warned about) once, whatever the framework and however many threads serve
it. Adapters call :meth:`OriginWatch.check` only for requests that arrived over plain http, so
an https app never reaches it.
"""

from __future__ import annotations

import logging
import threading

from .._core.cookies import CookiePolicy
from .._core.events import Event, Events, log_safe
from .._core.origin import forwarded_scheme, insecure_origin_warning

__all__ = ["MAX_JUDGED_HOSTS", "OriginWatch"]

logger = logging.getLogger("ssrauth")

#: Hosts remembered per manager. The Host header is the client's to write, so the table must
#: not grow with it: an app has a handful of names; past this many, later hosts are not judged
#: (the operator has been told about the first ones, and a flood of names is no reason to log).
MAX_JUDGED_HOSTS = 64
#: A host is remembered by at most this much of its text (a DNS name is at most 253 bytes).
_HOST_KEY_LENGTH = 270


class OriginWatch:
    """Logs one WARNING, and emits ``Event.INSECURE_ORIGIN``, for the first request per host
    that arrived over plain http on a non-loopback host while the policy writes ``Secure``
    cookies (RFC 6265bis §5.7: the browser drops them; see ``_core.origin``). Thread-safe,
    bounded by :data:`MAX_JUDGED_HOSTS`."""

    def __init__(self, policy: CookiePolicy, events: Events) -> None:
        self._policy = policy
        self._events = events
        #: Nothing to watch: cookies without Secure are kept over http.
        self._idle = not policy.secure
        self._judged: set[str] = set()
        self._lock = threading.Lock()

    def wants(self, host: str) -> bool:
        """Whether ``host`` is still to be judged: one set lookup, so an adapter reads a
        proxy's headers only for the first request per host."""
        return not (self._idle or host[:_HOST_KEY_LENGTH] in self._judged)

    def check(self, scheme: str, host: str, x_forwarded_proto: str | None = None,
              forwarded: str | None = None) -> None:
        """Judge ``host`` if it is new. ``x_forwarded_proto`` and ``forwarded``: the headers of
        a proxy in front (``_core.origin.forwarded_scheme``): behind a TLS-terminating proxy
        the browser is on https though the app hears http, and nothing is dropped."""
        key = host[:_HOST_KEY_LENGTH]
        if self._idle or key in self._judged:  # the common path: one set lookup
            return
        with self._lock:
            if key in self._judged or len(self._judged) >= MAX_JUDGED_HOSTS:
                return
            self._judged.add(key)
        safe_host = log_safe(key)
        seen_as = forwarded_scheme(x_forwarded_proto, forwarded) or scheme
        warning = insecure_origin_warning(self._policy, seen_as, safe_host)
        if warning is not None:
            logger.warning("ssrauth: %s", warning)
            self._events.emit(Event.INSECURE_ORIGIN, host=safe_host)

