"""The issuer's signing keys: fetched once, cached, refetched on an unknown ``kid`` at most once
per short interval, and retried with a short backoff while fetching fails. The I/O edge that
feeds :class:`~ssrauth._core.tokens.JwkSet` to the pure core.

:class:`JwksSource` is the policy (when to fetch, one fetch at a time, what a failure leaves);
where the document comes from is a :class:`KeyFetcher`: :class:`HttpKeys` (the JWKS URL, or
the ``jwks_uri`` OIDC discovery finds) or :class:`StaticKeys` (keys handed in: tests, air-gapped
deployments). Both are public (``ssrauth.JwksSource``…) so that an application can tune the
intervals, inject its keys, or share one key cache between a ``SessionManager`` and a
``TokenChecker``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._coordination.singleflight import SingleFlight
from .._core.backoff import Backoff, retry_after
from .._core.clock import Clock, SystemClock
from .._core.errors import ProviderUnavailable
from .._core.scheme import CookieScheme
from .._core.tokens import JwkSet
from .._core.verify import TokenVerifier
from .http import endpoint, transport_error

__all__ = [
    "DEFAULT_FETCH_RETRY",
    "DEFAULT_REFETCH_INTERVAL",
    "HttpKeys",
    "JwksLocator",
    "JwksSource",
    "KeyFetcher",
    "StaticKeys",
    "verification",
]

#: How soon an unknown ``kid`` may fetch the keys again. A pool that rotates its keys signs new
#: tokens with the new key at once (Cognito and most issuers publish it first, but a cache in
#: front may lag), so a long interval serves those users as anonymous for its whole length; an
#: attacker sending random ``kid``s, on the other hand, must not make every request fetch. 5 s
#: does both: a rotation is picked up within seconds, and a flood costs one fetch per 5 s per
#: process (12 a minute; Cognito's JWKS is a static, CDN-served file).
DEFAULT_REFETCH_INTERVAL = 5.0
#: After a failed fetch (a cold start during a network blip), the next request may try again
#: after 0.5 s, then 1 s, 2 s … up to 8 s between tries while the failures go on: without it,
#: one failed fetch at start-up left every signed-in request "unavailable" for a whole minute.
DEFAULT_FETCH_RETRY = Backoff(first=0.5, cap=8.0)
#: Cognito's API timeout and ours (``CognitoConfig.timeout``): used when nothing else says.
_DEFAULT_TIMEOUT = 5.0


class JwksLocator(Protocol):
    """Where the keys are, when that takes I/O to learn (OIDC discovery's ``jwks_uri``)."""

    def jwks_uri(self) -> str: ...

    def ajwks_uri(self) -> Awaitable[str]: ...


@runtime_checkable
class KeyFetcher(Protocol):
    """Where a :class:`JwksSource` gets the JWKS document (RFC 7517 §5: ``{"keys": [...]}``).

    Either face raises :class:`~ssrauth.ProviderUnavailable` (or anything else, read as the
    same) when the keys cannot be had now; the source retries with its backoff."""

    def fetch_document(self) -> Mapping[str, Any]: ...

    async def afetch_document(self) -> Mapping[str, Any]: ...


class StaticKeys:
    """A JWKS document handed in: tests, or keys distributed with the deployment. Assign
    ``document`` to rotate (the source reads it on its next fetch)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def fetch_document(self) -> Mapping[str, Any]:
        return self.document

    async def afetch_document(self) -> Mapping[str, Any]:
        return self.document


class HttpKeys:
    """The JWKS document at a URL (or at the URL a locator finds), one short-lived httpx client
    per fetch: a fetch happens at start and on a rotation, so there is nothing to pool."""

    def __init__(self, location: str | JwksLocator, *, timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.location = location
        self.timeout = timeout

    def fetch_document(self) -> Mapping[str, Any]:
        url = self.location if isinstance(self.location, str) else self.location.jwks_uri()
        try:
            with httpx.Client(timeout=self.timeout) as client:
                return _document(client.get(url))
        except httpx.HTTPError as error:
            raise transport_error("JWKS fetch", url, error) from None

    async def afetch_document(self) -> Mapping[str, Any]:
        location = self.location
        url = location if isinstance(location, str) else await location.ajwks_uri()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                return _document(await client.get(url))
        except httpx.HTTPError as error:
            raise transport_error("JWKS fetch", url, error) from None


def _document(response: httpx.Response) -> Mapping[str, Any]:
    """The JWKS document of an answer; every refusal names the URL it came from."""
    where = endpoint(response.request.url)
    if not response.is_success:
        raise ProviderUnavailable(f"JWKS fetch answered HTTP {response.status_code} at {where}")
    try:
        document = response.json()
    except ValueError as error:
        raise ProviderUnavailable(f"JWKS document unusable at {where}: {error}") from None
    if not isinstance(document, Mapping):
        raise ProviderUnavailable(f"JWKS document unusable at {where}: not a JSON object")
    return document


class JwksSource:
    """The signing keys of one issuer as requests need them.

    ``keys``: a JWKS URL, a :class:`JwksLocator`, or any :class:`KeyFetcher` (e.g.
    :class:`StaticKeys`); left out, the configuration's (``SessionManager`` and
    ``TokenChecker`` fill it in, with the configuration's timeout and the manager's clock).
    ``refetch_interval``: how soon an unknown ``kid`` may fetch again after a fetch.
    ``retry``: the delays between fetches while they fail.

    One fetch at a time per source (threads and event loops alike join it); safe to share
    between a manager and a checker.
    """

    def __init__(
        self,
        keys: str | JwksLocator | KeyFetcher | None = None,
        *,
        clock: Clock | None = None,
        timeout: float | None = None,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL,
        retry: Backoff = DEFAULT_FETCH_RETRY,
        on_fetched: Callable[[JwkSet], None] | None = None,
        accepted: tuple[str, ...] | None = None,
    ) -> None:
        if refetch_interval < 0:
            raise ValueError("refetch_interval must not be negative")
        self._fetcher: KeyFetcher | None = None
        self._timeout = timeout
        #: Signature algorithms whose keys are kept (see ``JwkSet.from_json``); None: the
        #: verifier's rules', filled in by :meth:`attach`.
        self.accepted = accepted
        self.refetch_interval = refetch_interval
        self.retry = retry
        #: Called once per fetch that got keys (not once per request that waited for it).
        self._listeners: list[Callable[[JwkSet], None]] = []
        if on_fetched is not None:
            self._listeners.append(on_fetched)
        self.current = JwkSet()
        self._clock: Clock = clock or SystemClock()
        self._clock_given = clock is not None
        self._last_attempt: float | None = None
        #: Fetches that failed in a row (the retry backoff's count); 0 after one succeeds.
        self._failures = 0
        #: A fetch is on the wire: requests that need keys join it instead of judging their
        #: tokens against the key set it is about to replace (a cold start's first burst).
        self._fetching = False
        #: The error of the last fetch, until one succeeds: while set, tokens naming keys we
        #: lack cannot be judged, and nobody is refreshed or logged out on that account.
        self.last_failure: ProviderUnavailable | None = None
        self._lock = threading.Lock()
        self._flight: SingleFlight[JwkSet] = SingleFlight(
            wait_timeout=(timeout or _DEFAULT_TIMEOUT) * 2)
        if keys is not None:
            self._fetcher = _fetcher_of(keys, timeout or _DEFAULT_TIMEOUT)

    def attach(
        self,
        location: str | JwksLocator | None,
        *,
        accepted: tuple[str, ...],
        timeout: float,
        clock: Clock,
    ) -> None:
        """Fill in what the source was not given, from a configuration: where the keys are,
        which algorithms its rules accept, its timeout and clock. What was given stays."""
        if self.accepted is None:
            self.accepted = accepted
        if not self._clock_given:
            self._clock, self._clock_given = clock, True
        if self._timeout is None:
            self._timeout = timeout
            self._flight.wait_timeout = timeout * 2
        if self._fetcher is None:
            if location is None:
                raise ValueError("an OpenID Connect config without jwks_url needs its provider")
            self._fetcher = _fetcher_of(location, timeout)

    @property
    def fetcher(self) -> KeyFetcher | None:
        """Where the keys come from (None until given or attached)."""
        return self._fetcher

    def subscribe(self, listener: Callable[[JwkSet], None]) -> None:
        """Call ``listener`` with each key set a fetch brings (the manager's ``jwks_fetched``
        event)."""
        self._listeners.append(listener)

    def wants_fetch(self, unknown_kids: frozenset[str]) -> bool:
        """Fetch when we have never fetched; or a token names a key we lack and either a fetch
        is under way (joining it costs no extra call) or the last try is old enough: older
        than the refetch interval after a success, than the retry backoff after a failure."""
        if self._last_attempt is None:
            return True
        if not unknown_kids or unknown_kids <= self.current.keys.keys():
            return False
        return self._fetching or self._clock.now() - self._last_attempt >= self._wait()

    def _wait(self) -> float:
        if self.last_failure is not None:
            return self.retry.delay(self._failures)
        return self.refetch_interval

    def fetch(self) -> JwkSet:
        """Fetch now (one fetch for every caller that asks meanwhile); raises
        :class:`~ssrauth.ProviderUnavailable` when the keys cannot be had."""
        return self._flight.run("jwks", self._fetch_now)[0]

    async def afetch(self) -> JwkSet:
        return (await self._flight.arun("jwks", self._afetch_now))[0]

    def _fetch_now(self) -> JwkSet:
        fetcher = self._begin()
        try:
            return self._accept(fetcher.fetch_document())
        except Exception as error:
            raise self._failed(error) from None
        finally:
            self._fetching = False  # after _accept: joiners never see the old key set alone

    async def _afetch_now(self) -> JwkSet:
        fetcher = self._begin()
        try:
            return self._accept(await fetcher.afetch_document())
        except Exception as error:
            raise self._failed(error) from None
        finally:
            self._fetching = False

    def _begin(self) -> KeyFetcher:
        if self._fetcher is None:
            raise ValueError("JwksSource has no keys to fetch: pass a URL or a KeyFetcher")
        with self._lock:
            self._last_attempt = self._clock.now()
            self._fetching = True
        return self._fetcher

    def _failed(self, error: Exception) -> ProviderUnavailable:
        """Every failed fetch goes through here (``_accept``'s refusals included, raised inside
        the fetch's ``try``; an injected fetcher's own exceptions too: no keys is an outage,
        never a verdict), so ``last_failure`` and the backoff are kept in one place."""
        failure = (error if isinstance(error, ProviderUnavailable)
                   else ProviderUnavailable(f"JWKS fetch failed: {error.__class__.__name__}"))
        self._failures += 1
        failure.retry_after = retry_after(self.retry.delay(self._failures))
        self.last_failure = failure
        return failure

    def _accept(self, document: Mapping[str, Any]) -> JwkSet:
        accepted = self.accepted or ("RS256",)
        try:
            keys = JwkSet.from_json(document, accepted)
        except ValueError as error:
            raise ProviderUnavailable(f"JWKS document unusable: {error}") from None
        if not keys.keys:
            raise ProviderUnavailable(f"JWKS document has no {'/'.join(accepted)} signing key")
        self.current = keys
        self.last_failure = None
        self._failures = 0
        for listener in self._listeners:
            listener(keys)
        return keys


def _fetcher_of(keys: str | JwksLocator | KeyFetcher, timeout: float) -> KeyFetcher:
    if isinstance(keys, KeyFetcher):
        return keys
    return HttpKeys(keys, timeout=timeout)


def verification(
    config: CognitoConfig | OidcConfig,
    scheme: CookieScheme,
    discovery: JwksLocator | None,
    *,
    clock: Clock,
    on_fetched: Callable[[JwkSet], None] | None = None,
    source: JwksSource | None = None,
) -> tuple[TokenVerifier, JwksSource]:
    """The verifier and the key source of ``config``. The keys are at the configured JWKS URL
    or, for an OpenID Connect issuer without one, where ``discovery`` (its provider) finds
    them; ``source``, when given, keeps what it was given and takes the rest from ``config``.
    No fetch happens here."""
    location: str | JwksLocator | None = config.jwks_url or discovery
    source = source or JwksSource()
    source.attach(location, accepted=scheme.rules.algorithms, timeout=config.timeout,
                  clock=clock)
    if on_fetched is not None:
        source.subscribe(on_fetched)
    verifier = TokenVerifier(issuer=config.issuer, client_id=config.client_id,
                             rules=scheme.rules)
    return verifier, source
