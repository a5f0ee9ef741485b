"""httpx clients for the provider edges: one blocking client, and one async client per event
loop (an ``httpx.AsyncClient`` pool is tied to the loop it was first used on)."""

from __future__ import annotations

import asyncio
import weakref

import httpx

from .._core.errors import ProviderUnavailable

__all__ = ["HttpClients", "transport_error"]


class HttpClients:
    """Lazily built clients; either may be injected (tests, proxies, custom transports)."""

    def __init__(
        self,
        timeout: float,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._timeout = timeout
        self._client = client
        self._async_client = async_client
        self._loop_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()

    def sync(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        return self._client

    def async_(self) -> httpx.AsyncClient:
        if self._async_client is not None:
            return self._async_client
        loop = asyncio.get_running_loop()
        client = self._loop_clients.get(loop)
        if client is None:
            client = self._loop_clients[loop] = httpx.AsyncClient(timeout=self._timeout)
        return client


def transport_error(what: str, error: httpx.HTTPError) -> ProviderUnavailable:
    """A request that got no answer (timeout, refused connection): never a verdict on the
    session, so always :class:`ProviderUnavailable`."""
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
    return ProviderUnavailable(f"{what} {kind}: {error.__class__.__name__}")
