"""The user pool's signing keys: fetched once, cached, refetched on an unknown ``kid`` at most
once a minute. The I/O edge that feeds :class:`~ssrauth._tokens.JwkSet` to the pure core.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from ._clock import Clock
from ._errors import ProviderUnavailable
from ._singleflight import SingleFlight
from ._tokens import JwkSet

__all__ = ["JwksSource"]

#: Keys rotate rarely; an unknown ``kid`` is far more often a forged or foreign token than a
#: rotation, so an attacker must not be able to make every request fetch the JWKS.
DEFAULT_REFETCH_INTERVAL = 60.0


class JwksSource:
    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        timeout: float = 5.0,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL,
    ) -> None:
        self.url = url
        self.current = JwkSet()
        self._clock = clock
        self._timeout = timeout
        self._refetch_interval = refetch_interval
        self._last_attempt: float | None = None
        #: The error of the last fetch, until one succeeds: while set, tokens naming keys we
        #: lack cannot be judged, and nobody is refreshed or logged out on that account.
        self.last_failure: ProviderUnavailable | None = None
        self._lock = threading.Lock()
        self._flight: SingleFlight[JwkSet] = SingleFlight(wait_timeout=timeout * 2)

    def wants_fetch(self, unknown_kids: frozenset[str]) -> bool:
        """Fetch when we have never fetched, or a token names a key we lack and the last try
        is older than the refetch interval."""
        if self._last_attempt is None:
            return True
        if not unknown_kids or unknown_kids <= self.current.keys.keys():
            return False
        return self._clock.now() - self._last_attempt >= self._refetch_interval

    def fetch(self) -> JwkSet:
        return self._flight.run("jwks", self._fetch_now)[0]

    async def afetch(self) -> JwkSet:
        return (await self._flight.arun("jwks", self._afetch_now))[0]

    def _failed(self, error: ProviderUnavailable) -> ProviderUnavailable:
        self.last_failure = error
        return error

    def _fetch_now(self) -> JwkSet:
        self._mark_attempt()
        try:
            with httpx.Client(timeout=self._timeout) as client:
                response = client.get(self.url)
        except httpx.HTTPError as error:
            message = f"JWKS fetch failed: {error.__class__.__name__}"
            raise self._failed(ProviderUnavailable(message)) from None
        return self._accept(response)

    async def _afetch_now(self) -> JwkSet:
        self._mark_attempt()
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self.url)
        except httpx.HTTPError as error:
            message = f"JWKS fetch failed: {error.__class__.__name__}"
            raise self._failed(ProviderUnavailable(message)) from None
        return self._accept(response)

    def _mark_attempt(self) -> None:
        with self._lock:
            self._last_attempt = self._clock.now()

    def _accept(self, response: httpx.Response) -> JwkSet:
        if not response.is_success:
            message = f"JWKS fetch answered HTTP {response.status_code}"
            raise self._failed(ProviderUnavailable(message))
        try:
            document: Any = response.json()
            keys = JwkSet.from_json(document)
        except ValueError as error:
            raise self._failed(ProviderUnavailable(f"JWKS document unusable: {error}")) from None
        if not keys.keys:
            raise self._failed(ProviderUnavailable("JWKS document has no RS256 signing key"))
        self.current = keys
        self.last_failure = None
        return keys
