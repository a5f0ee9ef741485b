"""Verify one token outside any session: :class:`TokenChecker`, the public face of the same
verifier and key source the session manager uses (a bearer token on an API route, a token
handed over by another service, a job checking a token it was given).

The check is written once as a protocol of typed steps (``_core.steps``): verify against the
keys in hand; a ``kid`` we lack fetches the keys (when the source says a fetch is due) and
verifies again. Answers the verified token, or raises :class:`~ssrauth.InvalidToken` (a reason:
:class:`~ssrauth.UnknownSigningKey`, :class:`~ssrauth.ExpiredToken`, or a plain
``InvalidToken`` for everything else) or :class:`~ssrauth.ProviderUnavailable` (the keys could
not be fetched: the token was not judged).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._config.scheme import scheme_of
from .._core.clock import Clock, SystemClock
from .._core.closing import Closing
from .._core.errors import ExpiredToken, UnknownSigningKey
from .._core.steps import Handlers, Step, Steps, adrive, ask, drive
from .._core.tokens import JwkSet, TokenUse, VerifiedToken
from .jwks import JwksSource, verification
from .oidc import OidcProvider

__all__ = ["TokenChecker"]


@dataclass(frozen=True, slots=True)
class _FetchKeys(Step[JwkSet]):
    """The signing keys, fetched now."""


class TokenChecker(Closing):
    """Verify single tokens by a configuration's rules (Cognito: ``token_use``, ``client_id``;
    OpenID Connect: ``aud``/``azp``), signatures against its JWKS.

    ``keys``: a :class:`~ssrauth.JwksSource` of your own (static keys in tests, tuned
    intervals, or the one a ``SessionManager`` uses: ``manager.jwks``); by default the
    configuration's. An OpenID Connect configuration without ``jwks_url`` finds its keys by
    discovery, over a client this checker owns: close it (``close``/``aclose``, or ``with``).
    """

    def __init__(
        self,
        config: CognitoConfig | OidcConfig,
        *,
        keys: JwksSource | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        scheme = scheme_of(config)
        self._discovery = (OidcProvider(config) if isinstance(config, OidcConfig)
                           and not config.jwks_url and keys is None else None)
        self._verifier, self.keys = verification(config, scheme, self._discovery,
                                                 clock=self.clock, source=keys)
        #: The token that says who the user is, by default (Cognito: access; OIDC: id).
        self.default_use: TokenUse = scheme.rules.identity_use
        self._handlers = Handlers().on(_FetchKeys, self._fetch, self._afetch)

    def check(self, token: str, use: TokenUse | None = None) -> VerifiedToken:
        """The verified token (its ``claims``, ``exp``…), usable now."""
        return drive(self._check(token, use or self.default_use), self._handlers)

    async def acheck(self, token: str, use: TokenUse | None = None) -> VerifiedToken:
        return await adrive(self._check(token, use or self.default_use), self._handlers)

    def _check(self, token: str, use: TokenUse) -> Steps[VerifiedToken]:
        source = self.keys
        keys = source.current
        if source.wants_fetch(frozenset()):  # never fetched: a cold start
            keys = yield from ask(_FetchKeys())
        try:
            verified = self._verifier.verify(token, use, keys, self.clock.now())
        except UnknownSigningKey as unknown:
            if source.wants_fetch(frozenset({unknown.kid})):
                keys = yield from ask(_FetchKeys())  # a rotation, or a forged kid
            elif source.last_failure is not None:
                raise source.last_failure from None  # the keys are out of reach: not judged
            verified = self._verifier.verify(token, use, keys, self.clock.now())
        # RFC 7519 §4.1.4: not accepted "on or after the expiration time".
        if self.clock.now() >= verified.exp:
            raise ExpiredToken(verified.exp)
        return verified

    def _fetch(self, _: _FetchKeys) -> JwkSet:
        return self.keys.fetch()

    async def _afetch(self, _: _FetchKeys) -> JwkSet:
        return await self.keys.afetch()

    def close(self) -> None:
        if self._discovery is not None:
            self._discovery.close()

    async def aclose(self) -> None:
        if self._discovery is not None:
            await self._discovery.aclose()
