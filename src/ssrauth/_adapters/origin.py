"""What the adapters pass to the manager's :class:`~ssrauth._manager.origin.OriginWatch`: the
host and a proxy's scheme headers of a request that arrived over plain http. Called by the
adapters only for such requests, so serving https costs nothing here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._manager.manager import SessionManager
from .environ import host

__all__ = ["watch_asgi", "watch_environ"]


def watch_asgi(manager: SessionManager, scope: Mapping[str, Any], host: str) -> None:
    """An ASGI ``http`` scope whose ``scheme`` is ``http``, from ``host`` (the Host header or
    the server's address, as the adapter already read it). The proxy headers are read only for
    a host not judged yet: after the first request per host this is one set lookup."""
    if not manager.origins.wants(host):
        return
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"x-forwarded-proto", b"forwarded") and name not in found:
            found[name] = value.decode("latin-1")
    manager.origins.check("http", host, found.get(b"x-forwarded-proto"), found.get(b"forwarded"))


def watch_environ(manager: SessionManager, environ: Mapping[str, Any]) -> None:
    """A WSGI environ (or Django's ``request.META``) of a request over plain http."""
    manager.origins.check("http", host(environ), environ.get("HTTP_X_FORWARDED_PROTO"),
                          environ.get("HTTP_FORWARDED"))
