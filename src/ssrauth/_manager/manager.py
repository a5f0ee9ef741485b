"""The session manager: runs the pure decision core, does the I/O it asks for (JWKS, provider,
coordinator), and hands adapters a :class:`RequestAuth` per request.

Each flow (load, sign-in, sign-out) is written once as a protocol of steps (see ``_drive``) and
run by a blocking face (WSGI, Django, threads) and an async face (ASGI).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

import jwt

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._config.scheme import scheme_of
from .._coordination.coordinator import (
    Closeable,
    RefreshCoordinator,
    Refreshed,
    RefreshSource,
)
from .._coordination.url import coordinator_from_env
from .._core.clock import Clock, SystemClock
from .._core.cookies import COOKIE_SIZE_LIMIT, parse_set_cookie_target, render_set_cookie
from .._core.errors import ConfigError, ProviderError, ProviderRejected, ProviderUnavailable
from .._core.events import Event, Events, log_safe
from .._core.plan import RequestTarget, bounded
from .._core.session import Decision, Outcome, Session, SessionRules, State
from .._core.signin_state import SignInError, SignInState, StateCookie, state_cookie
from .._core.steps import Steps, adrive, drive
from .._core.tokens import InvalidToken, JwkSet, TokenSet, token_digest
from .._providers.cognito import CognitoProvider, SignInResult
from .._providers.jwks import verification
from .._providers.oidc import OidcProvider

__all__ = ["RequestAuth", "SessionManager"]

logger = logging.getLogger("ssrauth")

#: A Cookie header beyond this is not one a real deployment passes on (nginx refuses request
#: headers over 8 KiB by default, most servers near 16 KiB); we do not parse it, log it, and serve
#: the request as anonymous without touching any cookie.
MAX_COOKIE_HEADER = 64 * 1024

#: Distinct refresh tokens one request may send to the provider (refresh attempts, sign-out
#: revocations). A Cookie header can carry ~1,500 made-up ``refreshToken`` copies beside its
#: owner's own verified id token; without a bound each would cost a provider call (and the
#: client's rate limit at the provider, for every user). A real jar holds a handful at most.
MAX_PROVIDER_TOKENS = 8
#: Distinct refresh tokens one sign-out tombstones. Each is a coordinator write (a store write
#: with a shared coordinator), so a padded header must not turn one sign-out into ~1,500 of
#: them. No real jar comes near it: past it, the tokens are the signing-out user's own padding.
MAX_SIGN_OUT_TOKENS = 64


@dataclass(frozen=True, slots=True)
class _FetchJwks:
    pass


@dataclass(frozen=True, slots=True)
class _Refresh:
    refresh_token: str
    username: str | None


@dataclass(frozen=True, slots=True)
class _SignIn:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class _SignOut:
    refresh_token: str
    #: False: tombstone only (beyond MAX_PROVIDER_TOKENS, no provider call).
    at_provider: bool = True


@dataclass(frozen=True, slots=True)
class _GlobalSignOut:
    access_token: str


@dataclass(frozen=True, slots=True)
class _Authorize:
    state: SignInState


@dataclass(frozen=True, slots=True)
class _Exchange:
    code: str
    verifier: str


@dataclass(frozen=True, slots=True)
class _AnyRevoked:
    """Whether any of these refresh tokens was signed out (a coordinator read)."""

    digests: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _AllSuperseded:
    """Whether every one of these refresh tokens was rotated away (a coordinator read)."""

    digests: tuple[bytes, ...]


_Step = (_FetchJwks | _Refresh | _SignIn | _SignOut | _GlobalSignOut | _Authorize | _Exchange
         | _AnyRevoked | _AllSuperseded)


class SessionManager:
    """One per application: configuration, provider, coordinator, key cache and counters."""

    def __init__(
        self,
        config: CognitoConfig | OidcConfig,
        *,
        provider: CognitoProvider | OidcProvider | None = None,
        coordinator: RefreshCoordinator | None = None,
        clock: Clock | None = None,
        events: Events | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.events = events or Events()
        #: Without one passed in, ``SSRAUTH_COORDINATOR`` names it (``LocalCoordinator`` if unset).
        self.coordinator: RefreshCoordinator = coordinator or coordinator_from_env(
            clock=self.clock, events=self.events)
        scheme = scheme_of(config)
        self.keys = scheme.keys
        discovery: OidcProvider | None = None
        if isinstance(config, OidcConfig):
            discovery = provider if isinstance(provider, OidcProvider) else OidcProvider(config)
            self.provider: CognitoProvider | OidcProvider = discovery
            self.state_cookie: StateCookie | None = state_cookie(
                config.cookie_prefix, config.cookie_policy.secure)
        else:
            self.provider = provider if isinstance(provider, CognitoProvider) else (
                CognitoProvider(config))
            self.state_cookie = None
        verifier, self.jwks = verification(config, scheme, discovery, clock=self.clock,
                                           on_fetched=self._fetched)
        self.rules = SessionRules(
            keys=self.keys,
            verifier=verifier,
            policy=config.cookie_policy,
            refresh_margin=config.refresh_margin,
        )

    @property
    def oidc(self) -> OidcProvider:
        """The OpenID Connect provider; the redirect sign-in flow exists only with one."""
        if not isinstance(self.provider, OidcProvider):
            raise ConfigError("the redirect sign-in flow needs an OidcConfig")
        return self.provider

    # -- faces ---------------------------------------------------------------------------------

    def load(self, cookie_header: str, path: str, host: str) -> RequestAuth:
        """Read (and if needed refresh) the session of one request. Never raises on bad input."""
        target = RequestTarget(path or "/", host)
        first = self._first_look(cookie_header, target)
        if first is not None and self._is_quiet(first) and not self._any_revoked(
                first.refresh_digests):
            return RequestAuth(self, first, self.rules.keep(first), None, cookie_header)
        outcome, unavailable, decision = drive(
            self._guarded_load(cookie_header, target, first), self._do
        )
        return RequestAuth(self, decision, outcome, unavailable, cookie_header)

    async def aload(self, cookie_header: str, path: str, host: str) -> RequestAuth:
        target = RequestTarget(path or "/", host)
        first = self._first_look(cookie_header, target)
        if first is not None and self._is_quiet(first) and not await self._aany_revoked(
                first.refresh_digests):
            return RequestAuth(self, first, self.rules.keep(first), None, cookie_header)
        outcome, unavailable, decision = await adrive(
            self._guarded_load(cookie_header, target, first), self._ado
        )
        return RequestAuth(self, decision, outcome, unavailable, cookie_header)

    def _first_look(self, cookie_header: str, target: RequestTarget) -> Decision | None:
        """The decision, made outside the protocol machinery (driving generators costs more
        than a memoised decision); None when the guarded path must deal with the request."""
        if len(cookie_header) > MAX_COOKIE_HEADER:
            return None
        try:
            return self.rules.decide(cookie_header, target, self.jwks.current, self.clock.now())
        except Exception:
            return None  # the guarded path logs it and serves the request as anonymous

    def _is_quiet(self, decision: Decision) -> bool:
        """Nearly every request: nothing to fetch, refresh or report; once the coordinator
        confirms no sign-out, the decision stands as it is."""
        return (
            decision.state is not State.NEEDS_REFRESH
            and not decision.unknown_kids
            and not decision.duplicates
            and not decision.invalid_tokens
        )

    # -- protocols -----------------------------------------------------------------------------

    def _guarded_load(
        self, cookie_header: str, target: RequestTarget, first: Decision | None
    ) -> Steps[_Step, tuple[Outcome, ProviderUnavailable | None, Decision]]:
        """Whatever a request carries, reading its session must not turn it into a 500: an
        unexpected failure is logged with its traceback and the request served as anonymous,
        with no cookie touched."""
        try:
            return (yield from self._load(cookie_header, target, first))
        except Exception:
            logger.exception("ssrauth: reading the session failed; serving as anonymous")
            self.events.emit(Event.BAD_REQUEST, reason="session could not be read")
            anonymous = self.rules.decide("", target, self.jwks.current, self.clock.now())
            return self.rules.keep(anonymous), None, anonymous

    def _load(
        self, cookie_header: str, target: RequestTarget, first: Decision | None
    ) -> Steps[_Step, tuple[Outcome, ProviderUnavailable | None, Decision]]:
        if len(cookie_header) > MAX_COOKIE_HEADER:
            self.events.emit(Event.BAD_REQUEST, reason="cookie header too large",
                             size=len(cookie_header))
            cookie_header = ""
        decision, keys_unavailable = yield from self._decide(cookie_header, target, first)
        if decision.duplicates:
            self.events.emit(Event.DUPLICATES_SEEN, decision.duplicates, path=target.path)
        if (yield _AnyRevoked(decision.refresh_digests)):
            # A copy of a signed-out session (a tab whose request was in flight): it stays out.
            return self.rules.clear(decision, "signed out"), None, decision
        if keys_unavailable is not None:
            # The tokens could not be judged: refreshing would mint tokens we cannot check
            # either, and clearing would log the user out for our own outage.
            return self.rules.keep(decision), keys_unavailable, decision
        if decision.invalid_tokens:
            self.events.emit(Event.TOKEN_INVALID, reason=decision.reason)
        if decision.state is not State.NEEDS_REFRESH:
            return self.rules.keep(decision), None, decision
        rejected: ProviderRejected | None = None
        for refresh_token in decision.refresh_tokens[:MAX_PROVIDER_TOKENS]:
            try:
                refreshed: Refreshed = yield _Refresh(
                    refresh_token, decision.provider_username or decision.username
                )
            except ProviderRejected as error:
                rejected = error
                continue
            except ProviderUnavailable as error:
                self.events.emit(Event.PROVIDER_UNAVAILABLE, reason=str(error))
                return self.rules.keep(decision), error, decision
            self.events.emit(_SOURCE_EVENTS[refreshed.source])
            jwks = yield from self._keys_for(refreshed.tokens)
            try:
                return self.rules.after_refresh(decision, refreshed.tokens, jwks,
                                                refreshed.received_at), None, decision
            except InvalidToken as error:
                # The provider's own tokens fail our checks: a configuration error (issuer,
                # client id, JWKS URL), not the user's fault. Keep their cookies.
                logger.error("ssrauth: refreshed tokens do not verify: %s", error.reason)
                failure = ProviderUnavailable(f"refreshed tokens do not verify: {error.reason}")
                return self.rules.keep(decision), failure, decision
        assert rejected is not None
        if (yield _AllSuperseded(decision.refresh_digests)):
            # Every token here was rotated away by an earlier refresh, so the browser already
            # holds the newer cookies under the same names: deleting by name would end the
            # session this stale request (a tab that missed the Set-Cookie) does not know of.
            return Outcome(None, (), f"stale copy of a rotated session: {rejected}"), None, decision
        return self.rules.clear(decision, f"refresh rejected: {rejected}"), None, decision

    def _decide(
        self, cookie_header: str, target: RequestTarget, first: Decision | None
    ) -> Steps[_Step, tuple[Decision, ProviderUnavailable | None]]:
        """Decide (unless ``first`` already did), fetching the JWKS when a token names a key we
        lack. Also answers the fetch failure, if any, for the tokens it left unjudged."""
        decision = first or self.rules.decide(
            cookie_header, target, self.jwks.current, self.clock.now()
        )
        if not decision.unknown_kids:
            return decision, None
        if not self.jwks.wants_fetch(decision.unknown_kids):
            # Between fetches: while the last one failed the tokens stay unjudged (an outage);
            # with keys in hand an unknown kid is a foreign token, judged as such below.
            failure = self.jwks.last_failure
            return decision, failure
        try:
            jwks: JwkSet = yield _FetchJwks()
        except ProviderUnavailable as error:
            self.events.emit(Event.PROVIDER_UNAVAILABLE, reason=str(error))
            return decision, error
        return self.rules.decide(cookie_header, target, jwks, self.clock.now()), None

    def _keys_for(self, tokens: TokenSet) -> Steps[_Step, JwkSet]:
        """The key set, refetched if brand-new tokens name a key we do not have yet."""
        jwks = self.jwks.current
        kids = _kids(tokens)
        if kids - jwks.keys.keys() and self.jwks.wants_fetch(kids):
            try:
                jwks = yield _FetchJwks()
            except ProviderUnavailable as error:
                self.events.emit(Event.PROVIDER_UNAVAILABLE, reason=str(error))
        return jwks

    def _sign_in(
        self, auth: RequestAuth, username: str, password: str
    ) -> Steps[_Step, Outcome]:
        result: SignInResult = yield _SignIn(username, password)
        jwks = yield from self._keys_for(result.tokens)
        return self._signed_in(auth, result.username, result.tokens, result.sign_in_details,
                               jwks)

    def _signed_in(
        self,
        auth: RequestAuth,
        username: str,
        tokens: TokenSet,
        details: str | None,
        jwks: JwkSet,
    ) -> Outcome:
        try:
            outcome = self.rules.establish(auth.decision, username, tokens, details, jwks,
                                           self.clock.now())
        except InvalidToken as error:
            raise _unverifiable(error) from None
        self.events.emit(Event.SIGNED_IN, username=username)
        return outcome

    def _begin_sign_in(self, return_to: str) -> Steps[_Step, tuple[str, SignInState]]:
        state = SignInState.new(return_to)
        url: str = yield _Authorize(state)
        return url, state

    def _complete_sign_in(
        self, auth: RequestAuth, query: Mapping[str, str]
    ) -> Steps[_Step, tuple[Outcome, str]]:
        """The callback: the state must match a sign-in this browser began; the code is
        exchanged with its PKCE verifier; the id token must verify and carry its nonce."""
        assert self.state_cookie is not None
        if "error" in query:
            # Whoever wrote the link chose these: quoted (no line breaks to forge log lines
            # with) and cut short, since apps log or show this message.
            error = repr(str(query["error"])[:100])
            description = repr(str(query.get("error_description", ""))[:200])
            raise SignInError(f"the provider answered {error}: {description}")
        pending = self.state_cookie.pending(auth.cookie_header, query)
        if pending is None:
            raise SignInError("no sign-in in progress matches this callback's state")
        # RFC 9207: a provider that names itself must be ours (mix-up attacks).
        if query.get("iss", self.config.issuer) != self.config.issuer:
            raise SignInError("the callback comes from another issuer")
        code = query.get("code")
        if not code:
            raise SignInError("the callback carries no code")
        tokens: TokenSet = yield _Exchange(code, pending.verifier)
        jwks = yield from self._keys_for(tokens)
        try:
            identity = self.rules.verifier.verify(tokens.id_token or "", "id", jwks)
        except InvalidToken as error:
            raise _unverifiable(error) from None
        nonce = identity.claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(),
                                                                  pending.nonce.encode()):
            raise SignInError("the id token was not issued for this sign-in (nonce)")
        sub = str(identity.claims["sub"])
        return self._signed_in(auth, sub, tokens, None, jwks), pending.return_to

    def _sign_out(self, auth: RequestAuth, everywhere: bool) -> Steps[_Step, Outcome]:
        refresh_tokens = list(auth.decision.refresh_tokens)
        if auth.outcome.tokens is not None:
            refresh_tokens.insert(0, auth.outcome.tokens.refresh_token)
        distinct = list(dict.fromkeys(refresh_tokens))[:MAX_SIGN_OUT_TOKENS]
        for index, refresh_token in enumerate(distinct):
            try:
                # Every token a real jar can hold is tombstoned (sign-out is final); only the
                # first few, nearest the session's own, are revoked at the provider.
                yield _SignOut(refresh_token, index < MAX_PROVIDER_TOKENS)
            except ProviderError as error:
                # Sign-out never fails for the user: the tombstone is already in place and the
                # cookies go regardless; the provider-side revocation is best effort.
                logger.warning("ssrauth: revoking the refresh token failed: %s", error)
        session = auth.session
        if everywhere and session is not None:
            try:
                yield _GlobalSignOut(session.access_token.raw)
            except ProviderError as error:
                logger.warning("ssrauth: global sign-out failed: %s", error)
        self.events.emit(Event.SIGNED_OUT)
        return self.rules.clear(auth.decision, "signed out")

    # -- I/O -----------------------------------------------------------------------------------

    def _do(self, step: _Step) -> Any:
        match step:
            case _AnyRevoked(digests):
                return self._any_revoked(digests)
            case _AllSuperseded(digests):
                return all(self.coordinator.is_superseded(d) for d in digests)
            case _FetchJwks():
                return self.jwks.fetch()
            case _Refresh(refresh_token, username):

                def call() -> TokenSet:
                    self.events.emit(Event.REFRESH_STARTED)  # runs in the leader only
                    with self._counting_rejection():
                        return self.provider.refresh(refresh_token, username)

                return self.coordinator.refresh(refresh_token, call)
            case _SignIn(username, password):
                return self.provider.sign_in(username, password)
            case _SignOut(refresh_token, at_provider):
                self.coordinator.revoke(token_digest(refresh_token))
                return at_provider and self.provider.revoke(refresh_token)
            case _GlobalSignOut(access_token):
                return self.provider.global_sign_out(access_token)
            case _Authorize(state):
                return self.oidc.authorization_url(state.state, state.verifier, state.nonce)
            case _Exchange(code, verifier):
                return self.oidc.exchange_code(code, verifier)

    async def _ado(self, step: _Step) -> Any:
        match step:
            case _AnyRevoked(digests):
                return await self._aany_revoked(digests)
            case _AllSuperseded(digests):
                return all([await self.coordinator.ais_superseded(d) for d in digests])
            case _FetchJwks():
                return await self.jwks.afetch()
            case _Refresh(refresh_token, username):

                async def acall() -> TokenSet:
                    self.events.emit(Event.REFRESH_STARTED)  # runs in the leader only
                    with self._counting_rejection():
                        return await self.provider.arefresh(refresh_token, username)

                return await self.coordinator.arefresh(refresh_token, acall)
            case _SignIn(username, password):
                return await self.provider.asign_in(username, password)
            case _SignOut(refresh_token, at_provider):
                await self.coordinator.arevoke(token_digest(refresh_token))
                return at_provider and await self.provider.arevoke(refresh_token)
            case _GlobalSignOut(access_token):
                return await self.provider.aglobal_sign_out(access_token)
            case _Authorize(state):
                return await self.oidc.aauthorization_url(state.state, state.verifier,
                                                          state.nonce)
            case _Exchange(code, verifier):
                return await self.oidc.aexchange_code(code, verifier)

    def _any_revoked(self, digests: tuple[bytes, ...]) -> bool:
        return any(self.coordinator.is_revoked(d) for d in digests)

    async def _aany_revoked(self, digests: tuple[bytes, ...]) -> bool:
        for digest in digests:
            if await self.coordinator.ais_revoked(digest):
                return True
        return False

    @contextlib.contextmanager
    def _counting_rejection(self) -> Iterator[None]:
        """REFRESH_REJECTED counts the provider's "no" itself, once, where the call is made;
        the requests that shared it show up as deleted cookies, not as more rejections."""
        try:
            yield
        except ProviderRejected as error:
            self.events.emit(Event.REFRESH_REJECTED, reason=str(error))
            raise

    def _fetched(self, jwks: JwkSet) -> None:
        self.events.emit(Event.JWKS_FETCHED, keys=len(jwks.keys))

    # -- closing -------------------------------------------------------------------------------
    # Like httpx's Client: close() / aclose(), or use the manager as a (async) context manager.
    # The provider and the coordinator are closed whether made here or passed in (they are the
    # manager's for its life); what they were given (an httpx client, a redis client) is not:
    # its owner may share it, and closes it. The JWKS source opens a client per fetch only.

    def close(self) -> None:
        """Close the provider's HTTP clients and the coordinator's connections (at shutdown;
        an async client whose loop is still running elsewhere is closed on that loop)."""
        self.provider.close()
        if isinstance(self.coordinator, Closeable):
            self.coordinator.close()

    async def aclose(self) -> None:
        """:meth:`close` from a coroutine: this loop's async clients are closed here."""
        await self.provider.aclose()
        if isinstance(self.coordinator, Closeable):
            await self.coordinator.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


_SOURCE_EVENTS = {
    RefreshSource.PROVIDER: Event.REFRESH_SUCCEEDED,
    RefreshSource.COALESCED: Event.REFRESH_COALESCED,
    RefreshSource.GRACE: Event.REFRESH_REUSED,
}


def _unverifiable(error: InvalidToken) -> ProviderUnavailable:
    """The provider's own fresh tokens fail our checks: issuer, client id or JWKS URL is
    misconfigured. The user did nothing wrong; say so loudly."""
    logger.error("ssrauth: tokens from sign-in do not verify: %s", error.reason)
    return ProviderUnavailable(f"tokens from sign-in do not verify: {error.reason}")


def _kids(tokens: TokenSet) -> frozenset[str]:
    kids = set()
    for token in (tokens.access_token, tokens.id_token):
        if token is None:
            continue
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            continue
        if isinstance(kid, str):
            kids.add(kid)
    return frozenset(kids)


class RequestAuth:
    """The auth state of one request, attached to it by the adapters.

    Read ``session`` (or ``user``); call :meth:`sign_in` / :meth:`sign_out` from a handler; the
    adapter adds the final outcome's headers with :meth:`response_headers` (via ``_respond``).
    """

    __slots__ = ("_fresh_sign_in", "cookie_header", "decision", "extra_set_cookies", "manager",
                 "outcome", "unavailable")

    def __init__(
        self,
        manager: SessionManager,
        decision: Decision,
        outcome: Outcome,
        unavailable: ProviderUnavailable | None,
        cookie_header: str = "",
    ) -> None:
        self.manager = manager
        self.decision = decision
        self.outcome = outcome
        #: The request's Cookie header, for the sign-in state cookie of the redirect flow.
        self.cookie_header = cookie_header
        #: Set-Cookie lines outside the session family (the sign-in state cookie).
        self.extra_set_cookies: list[str] = []
        #: Set when the provider could not be reached for a needed refresh: the request is
        #: served as anonymous (or with a still-valid token) and no cookie was deleted.
        self.unavailable = unavailable
        #: The outcome is a new sign-in: its tokens owe nothing to the cookies that came in.
        self._fresh_sign_in = False

    @property
    def session(self) -> Session | None:
        return self.outcome.session

    @property
    def is_authenticated(self) -> bool:
        return self.outcome.session is not None

    def sign_in(self, username: str, password: str) -> Session:
        """Password sign-in (USER_PASSWORD_AUTH); the response will carry the new cookies.

        Raises ``ProviderRejected`` for wrong credentials, ``ProviderUnavailable`` when the
        provider cannot be reached and ``SignInChallenge`` when Cognito wants another step.
        """
        return self._adopt(drive(self.manager._sign_in(self, username, password),
                                 self.manager._do))

    async def asign_in(self, username: str, password: str) -> Session:
        return self._adopt(await adrive(self.manager._sign_in(self, username, password),
                                        self.manager._ado))

    def begin_sign_in(self, return_to: str = "/") -> str:
        """OpenID Connect: the provider's authorization URL to redirect the browser to.

        The response carries the sign-in state cookie (state, PKCE verifier, nonce and
        ``return_to``, which must be a path on this site or becomes ``/``).
        """
        return self._begun(*drive(self.manager._begin_sign_in(return_to), self.manager._do))

    async def abegin_sign_in(self, return_to: str = "/") -> str:
        return self._begun(*await adrive(self.manager._begin_sign_in(return_to),
                                         self.manager._ado))

    def complete_sign_in(self, query_params: Mapping[str, str]) -> str:
        """OpenID Connect callback: establish the session; answers the ``return_to`` path.

        Raises ``SignInError`` (no matching sign-in state, the provider's ``error``, a nonce
        that is not ours), ``ProviderRejected`` (a code that is used, expired or forged) or
        ``ProviderUnavailable``. The state cookie is deleted either way: a callback is
        answered once.
        """
        self.extra_set_cookies = [self._state_cookie().delete()]
        outcome, return_to = drive(self.manager._complete_sign_in(self, query_params),
                                   self.manager._do)
        self._adopt(outcome)
        return return_to

    async def acomplete_sign_in(self, query_params: Mapping[str, str]) -> str:
        self.extra_set_cookies = [self._state_cookie().delete()]
        outcome, return_to = await adrive(self.manager._complete_sign_in(self, query_params),
                                          self.manager._ado)
        self._adopt(outcome)
        return return_to

    def _state_cookie(self) -> StateCookie:
        if self.manager.state_cookie is None:
            raise ConfigError("the redirect sign-in flow needs an OidcConfig")
        return self.manager.state_cookie

    def _begun(self, url: str, state: SignInState) -> str:
        self.extra_set_cookies = [self._state_cookie().write(state)]
        return url

    def sign_out(self, *, everywhere: bool = False) -> str | None:
        """Revoke the refresh token, tombstone it, delete every auth cookie variant.

        ``everywhere=True`` also signs the user out on every device (Cognito GlobalSignOut).
        Answers the OpenID Connect provider's logout URL (``end_session_endpoint``) to send
        the browser to, if it has one; None otherwise (and always for Cognito).
        """
        session = self.session
        self.outcome = drive(self.manager._sign_out(self, everywhere), self.manager._do)
        return self._signed_out(session)

    async def asign_out(self, *, everywhere: bool = False) -> str | None:
        session = self.session
        self.outcome = await adrive(self.manager._sign_out(self, everywhere), self.manager._ado)
        return self._signed_out(session)

    def _signed_out(self, session: Session | None) -> str | None:
        self.unavailable = None
        self._fresh_sign_in = False
        provider = self.manager.provider
        if not isinstance(provider, OidcProvider):
            return None
        id_token = session.id_token if session is not None else None
        return provider.end_session_url(id_token.raw if id_token is not None else None)

    def _adopt(self, outcome: Outcome) -> Session:
        self.outcome = outcome
        self.unavailable = None
        self._fresh_sign_in = True
        assert outcome.session is not None
        return outcome.session

    def response_headers(self, app_set_cookies: Iterable[str] = ()) -> list[tuple[str, str]]:
        """Headers an adapter adds to the response: ``Set-Cookie`` lines and, when there are
        any, ``Cache-Control: no-store``, which replaces the application's own Cache-Control.

        A response that sets auth cookies must never be stored by a shared cache and replayed
        to someone else, whatever the application said about caching it.
        """
        lines = self.set_cookie_headers(app_set_cookies)
        if not lines:
            return []
        return [("Cache-Control", "no-store"), *(("Set-Cookie", line) for line in lines)]

    def set_cookie_headers(self, app_set_cookies: Iterable[str] = ()) -> list[str]:
        """The Set-Cookie values to add to the response.

        A cookie the application set itself (same name, domain and path) is left to it, so no
        response carries two Set-Cookie lines for one cookie. A plan that re-writes a session
        signed out meanwhile (sign-out in another tab while this request ran) becomes a clear.
        """
        outcome = self.outcome
        writes = outcome.tokens is not None or any(c.value is not None for c in outcome.plan)
        if writes and any(self.manager.coordinator.is_revoked(token_digest(t))
                          for t in _written_refresh_tokens(self)):
            outcome = self.outcome = self.manager.rules.clear(self.decision, "signed out")
        if not outcome.plan:
            return list(self.extra_set_cookies)
        taken = {parse_set_cookie_target(h, self.decision.target.path) for h in app_set_cookies}
        policy = self.manager.config.cookie_policy
        events = self.manager.events
        plan, left_out = bounded(outcome.plan)
        if left_out:
            events.emit(Event.SET_COOKIE_CAPPED, left_out, path=self.decision.target.path)
        lines = []
        deleted = 0
        for cookie in plan:
            if cookie.target in taken:
                continue
            if cookie.value is None:
                deleted += 1
            elif len(cookie.name) + len(cookie.value) > COOKIE_SIZE_LIMIT:
                logger.error("ssrauth: cookie %s is %d bytes; browsers drop cookies over %d",
                             log_safe(cookie.name), len(cookie.name) + len(cookie.value),
                             COOKIE_SIZE_LIMIT)
            lines.append(render_set_cookie(cookie, policy))
        if deleted:
            events.emit(Event.COOKIES_DELETED, deleted)
        if len(lines) > deleted:
            events.emit(Event.COOKIES_WRITTEN, len(lines) - deleted)
        return lines + self.extra_set_cookies


def _written_refresh_tokens(auth: RequestAuth) -> list[str]:
    """Refresh tokens whose sign-out would make this response's writes a resurrection: the
    ones the request came with (tidying, refreshing), and the one it writes."""
    tokens = [] if auth._fresh_sign_in else list(auth.decision.refresh_tokens)
    if auth.outcome.tokens is not None:
        tokens.append(auth.outcome.tokens.refresh_token)
    return tokens

