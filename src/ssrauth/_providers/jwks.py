"""The user pool's signing keys: fetched once, cached, refetched on an unknown ``kid`` at most
once a minute. The I/O edge that feeds :class:`~ssrauth._core.tokens.JwkSet` to the pure core.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._coordination.singleflight import SingleFlight
from .._core.clock import Clock
from .._core.errors import ProviderUnavailable
from .._core.scheme import CookieScheme
from .._core.tokens import JwkSet
from .._core.verify import TokenVerifier
from .http import endpoint, transport_error

__all__ = ["JwksLocator", "JwksSource", "verification"]

#: Keys rotate rarely; an unknown ``kid`` is far more often a forged or foreign token than a
#: rotation, so an attacker must not be able to make every request fetch the JWKS.
DEFAULT_REFETCH_INTERVAL = 60.0


class JwksLocator(Protocol):
    """Where the keys are, when that takes I/O to learn (OIDC discovery's ``jwks_uri``)."""

    def jwks_uri(self) -> str: ...

    def ajwks_uri(self) -> Awaitable[str]: ...


class JwksSource:
    def __init__(
        self,
        url: str | JwksLocator,
        *,
        clock: Clock,
        timeout: float = 5.0,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL,
        on_fetched: Callable[[JwkSet], None] | None = None,
        accepted: tuple[str, ...] = ("RS256",),
    ) -> None:
        self.url = url
        #: Signature algorithms whose keys are kept (see ``JwkSet.from_json``).
        self.accepted = accepted
        #: Called once per fetch that got keys (not once per request that waited for it).
        self._on_fetched = on_fetched
        self.current = JwkSet()
        self._clock = clock
        self._timeout = timeout
        self._refetch_interval = refetch_interval
        self._last_attempt: float | None = None
        #: A fetch is on the wire: requests that need keys join it instead of judging their
        #: tokens against the key set it is about to replace (a cold start's first burst).
        self._fetching = False
        #: The error of the last fetch, until one succeeds: while set, tokens naming keys we
        #: lack cannot be judged, and nobody is refreshed or logged out on that account.
        self.last_failure: ProviderUnavailable | None = None
        self._lock = threading.Lock()
        self._flight: SingleFlight[JwkSet] = SingleFlight(wait_timeout=timeout * 2)

    def wants_fetch(self, unknown_kids: frozenset[str]) -> bool:
        """Fetch when we have never fetched; or a token names a key we lack and either a fetch
        is under way (joining it costs no extra call) or the last try is older than the
        refetch interval."""
        if self._last_attempt is None:
            return True
        if not unknown_kids or unknown_kids <= self.current.keys.keys():
            return False
        return self._fetching or self._clock.now() - self._last_attempt >= self._refetch_interval

    def fetch(self) -> JwkSet:
        return self._flight.run("jwks", self._fetch_now)[0]

    async def afetch(self) -> JwkSet:
        return (await self._flight.arun("jwks", self._afetch_now))[0]

    def _failed(self, error: ProviderUnavailable) -> ProviderUnavailable:
        """Every failed fetch goes through here (``_accept``'s refusals included, raised inside
        the fetch's ``try``), so ``last_failure`` is set in one place."""
        self.last_failure = error
        return error

    def _fetch_now(self) -> JwkSet:
        self._mark_attempt()
        url = ""  # a discovery that fails names its own URL
        try:
            url = self.url if isinstance(self.url, str) else self.url.jwks_uri()
            with httpx.Client(timeout=self._timeout) as client:
                return self._accept(url, client.get(url))
        except ProviderUnavailable as error:
            raise self._failed(error) from None
        except httpx.HTTPError as error:
            raise self._transport_failure(url, error) from None
        finally:
            self._fetching = False  # after _accept: joiners never see the old key set alone

    async def _afetch_now(self) -> JwkSet:
        self._mark_attempt()
        url = ""
        try:
            url = self.url if isinstance(self.url, str) else await self.url.ajwks_uri()
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                return self._accept(url, await client.get(url))
        except ProviderUnavailable as error:
            raise self._failed(error) from None
        except httpx.HTTPError as error:
            raise self._transport_failure(url, error) from None
        finally:
            self._fetching = False

    def _transport_failure(self, url: str, error: httpx.HTTPError) -> ProviderUnavailable:
        return self._failed(transport_error("JWKS fetch", url, error))

    def _mark_attempt(self) -> None:
        with self._lock:
            self._last_attempt = self._clock.now()
            self._fetching = True

    def _accept(self, url: str, response: httpx.Response) -> JwkSet:
        """The key set ``response`` (from ``url``, which every refusal names) holds."""
        where = f"JWKS at {endpoint(url)}"
        if not response.is_success:
            raise ProviderUnavailable(f"{where} answered HTTP {response.status_code}")
        try:
            document: Any = response.json()
            keys = JwkSet.from_json(document, self.accepted)
        except ValueError as error:
            raise ProviderUnavailable(f"{where}: document unusable: {error}") from None
        if not keys.keys:
            accepted = "/".join(self.accepted)
            raise ProviderUnavailable(f"{where}: document has no {accepted} signing key")
        self.current = keys
        self.last_failure = None
        if self._on_fetched is not None:
            self._on_fetched(keys)
        return keys


def verification(
    config: CognitoConfig | OidcConfig,
    scheme: CookieScheme,
    discovery: JwksLocator | None,
    *,
    clock: Clock,
    on_fetched: Callable[[JwkSet], None] | None = None,
) -> tuple[TokenVerifier, JwksSource]:
    """The verifier and the key source of ``config``. The keys are at the configured JWKS URL
    or, for an OpenID Connect issuer without one, where ``discovery`` (its provider) finds
    them; no fetch happens here."""
    location: str | JwksLocator | None = config.jwks_url or discovery
    if location is None:
        raise ValueError("an OpenID Connect config without jwks_url needs its provider")
    source = JwksSource(location, clock=clock, timeout=config.timeout, on_fetched=on_fetched,
                        accepted=scheme.rules.algorithms)
    verifier = TokenVerifier(issuer=config.issuer, client_id=config.client_id,
                             rules=scheme.rules)
    return verifier, source
