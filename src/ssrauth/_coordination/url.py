"""A coordinator named by a URL, as deployments configure it (``SSRAUTH_COORDINATOR``).

``local`` is :class:`LocalCoordinator` (one process); ``sqlite:///var/lib/app/ssrauth.db`` is
:class:`SqliteCoordinator` on that file (everything after ``sqlite://`` is the path, so three
slashes mean an absolute one); ``redis://``, ``rediss://`` and ``unix://`` URLs are
:class:`RedisCoordinator`, with an optional ``prefix=`` query parameter for its keys (the other
parameters are redis-py's own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._core.clock import Clock
from .._core.errors import ConfigError
from .._core.events import Events
from .coordinator import LocalCoordinator, RefreshCoordinator
from .sqlite import SqliteCoordinator

__all__ = ["ENV_VAR", "coordinator_from_env", "coordinator_from_url"]

ENV_VAR = "SSRAUTH_COORDINATOR"
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def coordinator_from_url(
    url: str, *, clock: Clock, events: Events | None = None
) -> RefreshCoordinator:
    """The coordinator ``url`` names, on ``clock`` (give it the manager's clock and events)."""
    url = url.strip()
    if url == "local":
        return LocalCoordinator(clock=clock)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path:
            raise ConfigError("sqlite:// needs a path, e.g. sqlite:///var/lib/app/ssrauth.db")
        return SqliteCoordinator(path, clock=clock, events=events)
    parts = urlsplit(url)
    if parts.scheme in _REDIS_SCHEMES:
        try:
            from .redis import RedisCoordinator
        except ImportError as error:
            raise ConfigError(f"{ENV_VAR}={parts.scheme}://… needs the redis extra "
                              f"(pip install 'ssrauth[redis]'): {error}") from None
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in query if name == "prefix"]
        rest = urlencode([(name, value) for name, value in query if name != "prefix"])
        return RedisCoordinator(urlunsplit(parts._replace(query=rest)), clock=clock,
                                events=events, prefix=prefixes[-1] if prefixes else "ssrauth:")
    raise ConfigError(f"unknown coordinator URL {url!r}: use local, sqlite:///path or "
                      "redis://host:port/db")


def coordinator_from_env(
    *, clock: Clock, events: Events | None = None, environ: Mapping[str, str] | None = None
) -> RefreshCoordinator:
    """``SSRAUTH_COORDINATOR``'s coordinator; :class:`LocalCoordinator` when it is unset."""
    url = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    return coordinator_from_url(url or "local", clock=clock, events=events)
