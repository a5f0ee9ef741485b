"""httpx clients for the provider edges: one blocking client, and one async client per event
loop (an ``httpx.AsyncClient`` pool is tied to the loop it was first used on, and must be
closed on it: ``_coordination.loops``)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from .._coordination.loops import PerLoop
from .._core.errors import ProviderTimeout, ProviderUnavailable

__all__ = ["HttpClients", "endpoint", "transport_error"]


class HttpClients:
    """Lazily built clients; either may be injected (tests, proxies, custom transports).

    :meth:`close` and :meth:`aclose` close the clients made here, never an injected one: its
    owner may share it, and closes it.
    A client made again after closing serves later calls, so closing is safe at any shutdown.
    """

    def __init__(
        self,
        timeout: float,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._timeout = timeout
        self._injected = client
        self._client: httpx.Client | None = None
        self._async_client = async_client
        self._loop_clients: PerLoop[httpx.AsyncClient] = PerLoop(
            lambda: httpx.AsyncClient(timeout=timeout), httpx.AsyncClient.aclose)

    def sync(self) -> httpx.Client:
        if self._injected is not None:
            return self._injected
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        return self._client

    def async_(self) -> httpx.AsyncClient:
        if self._async_client is not None:
            return self._async_client
        return self._loop_clients.get()

    def close(self) -> None:
        """Close the blocking client and the async clients of loops still alive elsewhere."""
        self._close_sync()
        self._loop_clients.close()

    async def aclose(self) -> None:
        """Close the blocking client and every async client, this loop's first."""
        self._close_sync()
        await self._loop_clients.aclose()

    def _close_sync(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def endpoint(url: str | httpx.URL) -> str:
    """``url`` fit for an error message: scheme, host, port and path.

    An operator reading "refresh failed" needs to know *where* it went (a wrong region, a proxy,
    an emulator left in the config); never what it carried: the user info (``user:password@``),
    the query and the fragment are left out, since credentials and tokens travel there.

    >>> endpoint("https://user:pw@idp.example.com:8443/oauth2/token?client_secret=x#y")
    'https://idp.example.com:8443/oauth2/token'
    """
    parts = urlsplit(str(url))
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def transport_error(
    what: str, url: str | httpx.URL, error: httpx.HTTPError
) -> ProviderUnavailable:
    """A request to ``url`` that got no answer (timeout, refused connection): never a verdict
    on the session, so always :class:`ProviderUnavailable`; :class:`ProviderTimeout` when the
    answer did not come in time (the call may still be running at the provider). The message
    names the endpoint."""
    if isinstance(error, httpx.TimeoutException):
        return ProviderTimeout(f"{what} timed out at {endpoint(url)}: {error.__class__.__name__}")
    return ProviderUnavailable(f"{what} failed at {endpoint(url)}: {error.__class__.__name__}")
