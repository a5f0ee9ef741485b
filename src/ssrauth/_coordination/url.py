"""A coordinator named by a URL, as deployments configure it (``SSRAUTH_COORDINATOR``).

``local`` is :class:`LocalCoordinator` (one process); ``sqlite:///var/lib/app/ssrauth.db`` is
:class:`SqliteCoordinator` on that file (everything after ``sqlite://`` is the path, so three
slashes mean an absolute one); ``redis://``, ``rediss://`` and ``unix://`` URLs are
:class:`RedisCoordinator`, with an optional ``prefix=`` query parameter for its keys (the other
parameters are redis-py's own).

Unset, the default is safe on one machine: the worker processes of one app (``uvicorn --workers
4``, gunicorn) share a SQLite file in the user's private runtime directory, one per app (user
pool or issuer, and client id). Without it each worker refreshed an expired token on its own:
one provider call per worker for one expiry, and with Cognito's refresh-token rotation every
call after the first is refused. Several hosts cannot share that file: they need
``SSRAUTH_COORDINATOR=redis://…`` (docs/configuration.md, "The coordinator"). Which coordinator
is in use, and why, is logged once at start-up (logger ``ssrauth``, INFO).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._core.clock import Clock
from .._core.errors import ConfigError
from .._core.events import Events
from .coordinator import LocalCoordinator, RefreshCoordinator
from .sqlite import SqliteCoordinator

__all__ = ["ENV_VAR", "coordinator_from_env", "coordinator_from_url", "default_store_path"]

logger = logging.getLogger("ssrauth")

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
    *, clock: Clock, events: Events | None = None, environ: Mapping[str, str] | None = None,
    config: CognitoConfig | OidcConfig | None = None,
) -> RefreshCoordinator:
    """``SSRAUTH_COORDINATOR``'s coordinator. Unset: a :class:`SqliteCoordinator` shared by
    this machine's workers of the app ``config`` names (:func:`default_store_path`), or a
    :class:`LocalCoordinator` without ``config`` or without a private runtime directory.
    Logs which one, and why."""
    environ = os.environ if environ is None else environ
    url = environ.get(ENV_VAR, "").strip()
    if url:
        coordinator = coordinator_from_url(url, clock=clock, events=events)
        _announce(coordinator, f"{ENV_VAR}={_without_password(url)}")
        return coordinator
    path = None if config is None else default_store_path(config, environ)
    if path is None:
        local = LocalCoordinator(clock=clock)
        _announce(local, f"{ENV_VAR} is unset and no private runtime directory was found: "
                  "each worker process refreshes on its own")
        return local
    coordinator = SqliteCoordinator(path, clock=clock, events=events)
    _announce(coordinator, f"{ENV_VAR} is unset: the worker processes of this machine share "
              f"{path}; several hosts need SSRAUTH_COORDINATOR=redis://…")
    return coordinator


def default_store_path(
    config: CognitoConfig | OidcConfig, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The SQLite file this machine's workers of one app share by default: named by a digest of
    the user pool (or issuer) and client id, so two apps never share one, in
    ``$XDG_RUNTIME_DIR/ssrauth`` (the per-user runtime directory systemd gives each login,
    mode 0700) or else ``<temp dir>/ssrauth-<uid>``, created 0700. ``None`` when neither is a
    directory of this user's that no one else may enter (another user could read the sealed
    results' metadata or plant tombstones), or where ``os.getuid`` does not exist."""
    environ = os.environ if environ is None else environ
    if not hasattr(os, "getuid"):
        return None
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if xdg and _private(Path(xdg)):
        folder = Path(xdg) / "ssrauth"
    else:
        folder = Path(tempfile.gettempdir()) / f"ssrauth-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not _private(folder):
        return None
    app = config.issuer if isinstance(config, OidcConfig) else config.user_pool_id
    name = hashlib.sha256(f"{app}\n{config.client_id}".encode()).hexdigest()[:24]
    return folder / f"{name}.db"


def _private(folder: Path) -> bool:
    """A real directory (not a link), owned by this user, closed to everyone else."""
    try:
        found = folder.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid()
            and found.st_mode & 0o077 == 0)


def _announce(coordinator: RefreshCoordinator, why: str) -> None:
    logger.info("ssrauth: refresh coordinator %s (%s)", type(coordinator).__name__, why)


def _without_password(url: str) -> str:
    """``url`` fit for a log line: a password in it is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
