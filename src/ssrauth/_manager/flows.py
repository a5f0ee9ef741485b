"""The session flows, written once as protocols of typed steps and run by either face of
:class:`~ssrauth.SessionManager`: values in (the request's decision, what a handler asked for),
values out (the outcome, the response's Set-Cookie lines). No flow does I/O itself, and none
knows the request object that holds its results.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import jwt

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._coordination.coordinator import RefreshSource
from .._core.clock import Clock
from .._core.cookies import COOKIE_SIZE_LIMIT, parse_set_cookie_target, render_set_cookie
from .._core.errors import (
    InvalidToken,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SignedOut,
    SignInError,
)
from .._core.events import Event, Events, log_safe
from .._core.plan import RequestTarget, bounded
from .._core.session import Decision, Outcome, SessionRules, State
from .._core.signin_state import SignInState, StateCookie
from .._core.steps import Steps, ask
from .._core.tokens import JwkSet, TokenSet, token_digest
from .._providers.jwks import JwksSource
from .steps import (
    AllSuperseded,
    AnyRevoked,
    Authorize,
    Exchange,
    FetchJwks,
    GlobalSignOut,
    Refresh,
    SignIn,
    SignOut,
)

__all__ = ["MAX_COOKIE_HEADER", "MAX_PROVIDER_TOKENS", "MAX_SIGN_OUT_TOKENS", "Flows", "Loaded"]

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
class Loaded:
    """What reading one request's session gave."""

    decision: Decision
    outcome: Outcome
    #: Set when the provider (or the keys) could not be reached for something the request
    #: needed: it is served as anonymous (or with a still-valid token), no cookie deleted.
    unavailable: ProviderUnavailable | None = None


class Flows:
    """The protocols of one manager, over its pure rules and its configuration."""

    def __init__(
        self,
        config: CognitoConfig | OidcConfig,
        rules: SessionRules,
        jwks: JwksSource,
        clock: Clock,
        events: Events,
        state_cookie: StateCookie | None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.jwks = jwks
        self.clock = clock
        self.events = events
        self.state_cookie = state_cookie

    # -- reading a request ---------------------------------------------------------------------

    def first_look(self, cookie_header: str, target: RequestTarget) -> Decision | None:
        """The decision, made outside the protocol machinery (driving generators costs more
        than a memoised decision); None when the guarded path must deal with the request."""
        if len(cookie_header) > MAX_COOKIE_HEADER:
            return None
        try:
            return self.rules.decide(cookie_header, target, self.jwks.current, self.clock.now())
        except Exception:
            return None  # the guarded path logs it and serves the request as anonymous

    @staticmethod
    def is_quiet(decision: Decision) -> bool:
        """Nearly every request: nothing to fetch, refresh or report; once the coordinator
        confirms no sign-out, the decision stands as it is."""
        return decision.is_quiet

    def load(
        self, cookie_header: str, target: RequestTarget, first: Decision | None
    ) -> Steps[Loaded]:
        """Whatever a request carries, reading its session must not turn it into a 500: an
        unexpected failure is logged with its traceback and the request served as anonymous,
        with no cookie touched."""
        try:
            return (yield from self._load(cookie_header, target, first))
        except Exception:
            logger.exception("ssrauth: reading the session failed; serving as anonymous")
            self.events.emit(Event.BAD_REQUEST, reason="session could not be read")
            anonymous = self.rules.decide("", target, self.jwks.current, self.clock.now())
            return Loaded(anonymous, self.rules.keep(anonymous))

    def _load(
        self, cookie_header: str, target: RequestTarget, first: Decision | None
    ) -> Steps[Loaded]:
        if len(cookie_header) > MAX_COOKIE_HEADER:
            self.events.emit(Event.BAD_REQUEST, reason="cookie header too large",
                             size=len(cookie_header))
            cookie_header = ""
        decision, keys_unavailable = yield from self._decide(cookie_header, target, first)
        if decision.duplicates:
            self.events.emit(Event.DUPLICATES_SEEN, decision.duplicates, path=target.path)
        if (yield from ask(AnyRevoked(decision.refresh_digests))):
            # A copy of a signed-out session (a tab whose request was in flight): it stays out.
            return Loaded(decision, self.rules.clear(decision, "signed out"))
        if keys_unavailable is not None:
            # The tokens could not be judged: refreshing would mint tokens we cannot check
            # either, and clearing would log the user out for our own outage.
            return Loaded(decision, self.rules.keep(decision), keys_unavailable)
        if decision.invalid_tokens:
            self.events.emit(Event.TOKEN_INVALID, reason=decision.reason)
        if decision.state is not State.NEEDS_REFRESH:
            return Loaded(decision, self.rules.keep(decision))
        rejected: ProviderRejected | None = None
        for refresh_token in decision.refresh_tokens[:MAX_PROVIDER_TOKENS]:
            try:
                refreshed = yield from ask(Refresh(
                    refresh_token, decision.provider_username or decision.username))
            except SignedOut:
                # Signed out while this request ran (the check above came first): it stays out.
                return Loaded(decision, self.rules.clear(decision, "signed out"))
            except ProviderRejected as error:
                rejected = error
                continue
            except ProviderUnavailable as error:
                self.events.emit(Event.PROVIDER_UNAVAILABLE, reason=str(error))
                return Loaded(decision, self.rules.keep(decision), error)
            self.events.emit(_SOURCE_EVENTS[refreshed.source])
            jwks = yield from self._keys_for(refreshed.tokens)
            try:
                return Loaded(decision, self.rules.after_refresh(
                    decision, refreshed.tokens, jwks, refreshed.received_at))
            except InvalidToken as error:
                # The provider's own tokens fail our checks: a configuration error (issuer,
                # client id, JWKS URL), not the user's fault. Keep their cookies.
                logger.error("ssrauth: refreshed tokens do not verify: %s", error.reason)
                failure = ProviderUnavailable(f"refreshed tokens do not verify: {error.reason}")
                return Loaded(decision, self.rules.keep(decision), failure)
        assert rejected is not None
        if (yield from ask(AllSuperseded(decision.refresh_digests))):
            # Every token here was rotated away by an earlier refresh, so the browser already
            # holds the newer cookies under the same names: deleting by name would end the
            # session this stale request (a tab that missed the Set-Cookie) does not know of.
            return Loaded(decision, Outcome(None, (),
                                            f"stale copy of a rotated session: {rejected}"))
        return Loaded(decision, self.rules.clear(decision, f"refresh rejected: {rejected}"))

    def _decide(
        self, cookie_header: str, target: RequestTarget, first: Decision | None
    ) -> Steps[tuple[Decision, ProviderUnavailable | None]]:
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
            jwks = yield from ask(FetchJwks())
        except ProviderUnavailable as error:
            self.events.emit(Event.PROVIDER_UNAVAILABLE, reason=str(error))
            return decision, error
        return self.rules.decide(cookie_header, target, jwks, self.clock.now()), None

    def _keys_for(self, tokens: TokenSet) -> Steps[JwkSet]:
        """The key set, refetched if brand-new tokens name a key we do not have yet."""
        jwks = self.jwks.current
        kids = _kids(tokens)
        if kids - jwks.keys.keys() and self.jwks.wants_fetch(kids):
            try:
                jwks = yield from ask(FetchJwks())
            except ProviderUnavailable as error:
                self.events.emit(Event.PROVIDER_UNAVAILABLE, reason=str(error))
        return jwks

    # -- signing in and out ---------------------------------------------------------------------

    def sign_in(self, decision: Decision, username: str, password: str) -> Steps[Outcome]:
        result = yield from ask(SignIn(username, password))
        jwks = yield from self._keys_for(result.tokens)
        return self._signed_in(decision, result.username, result.tokens,
                               result.sign_in_details, jwks)

    def _signed_in(
        self,
        decision: Decision,
        username: str,
        tokens: TokenSet,
        details: str | None,
        jwks: JwkSet,
    ) -> Outcome:
        try:
            outcome = self.rules.establish(decision, username, tokens, details, jwks,
                                           self.clock.now())
        except InvalidToken as error:
            raise _unverifiable(error) from None
        self.events.emit(Event.SIGNED_IN, username=username)
        return outcome

    def begin_sign_in(self, return_to: str) -> Steps[tuple[str, SignInState]]:
        state = SignInState.new(return_to)
        url = yield from ask(Authorize(state))
        return url, state

    def complete_sign_in(
        self, decision: Decision, cookie_header: str, query: Mapping[str, str]
    ) -> Steps[tuple[Outcome, str]]:
        """The callback: the state must match a sign-in this browser began; the code is
        exchanged with its PKCE verifier; the id token must verify and carry its nonce."""
        assert self.state_cookie is not None
        if "error" in query:
            # Whoever wrote the link chose these: quoted (no line breaks to forge log lines
            # with) and cut short, since apps log or show this message.
            error = repr(str(query["error"])[:100])
            description = repr(str(query.get("error_description", ""))[:200])
            raise SignInError(f"the provider answered {error}: {description}")
        pending = self.state_cookie.pending(cookie_header, query)
        if pending is None:
            raise SignInError("no sign-in in progress matches this callback's state")
        # RFC 9207: a provider that names itself must be ours (mix-up attacks).
        if query.get("iss", self.config.issuer) != self.config.issuer:
            raise SignInError("the callback comes from another issuer")
        code = query.get("code")
        if not code:
            raise SignInError("the callback carries no code")
        tokens = yield from ask(Exchange(code, pending.verifier))
        jwks = yield from self._keys_for(tokens)
        try:
            identity = self.rules.verifier.verify(tokens.id_token or "", "id", jwks,
                                                  self.clock.now())
        except InvalidToken as error:
            raise _unverifiable(error) from None
        nonce = identity.claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(),
                                                                  pending.nonce.encode()):
            raise SignInError("the id token was not issued for this sign-in (nonce)")
        sub = str(identity.claims["sub"])
        return self._signed_in(decision, sub, tokens, None, jwks), pending.return_to

    def sign_out(
        self, decision: Decision, outcome: Outcome, everywhere: bool
    ) -> Steps[Outcome]:
        """Sign-out never fails for the user: every token is tombstoned, the cookies go."""
        refresh_tokens = list(decision.refresh_tokens)
        if outcome.tokens is not None:
            refresh_tokens.insert(0, outcome.tokens.refresh_token)
        distinct = list(dict.fromkeys(refresh_tokens))[:MAX_SIGN_OUT_TOKENS]
        for index, refresh_token in enumerate(distinct):
            try:
                # Every token a real jar can hold is tombstoned (sign-out is final); only the
                # first few, nearest the session's own, are revoked at the provider.
                yield from ask(SignOut(refresh_token, index < MAX_PROVIDER_TOKENS))
            except ProviderError as error:
                # The tombstone is already in place and the cookies go regardless; the
                # provider-side revocation is best effort.
                logger.warning("ssrauth: revoking the refresh token failed: %s", error)
            except Exception:
                # A provider of the app's own that raises something else has a bug; the user
                # still signs out (docs/extending.md: anything else is logged, never a 500).
                logger.exception("ssrauth: the provider's revoke raised; signing out anyway")
        session = outcome.session
        if everywhere and session is not None:
            try:
                yield from ask(GlobalSignOut(session.access_token.raw))
            except ProviderError as error:
                logger.warning("ssrauth: global sign-out failed: %s", error)
            except Exception:
                logger.exception("ssrauth: the provider's global sign-out raised; signing out")
        self.events.emit(Event.SIGNED_OUT)
        return self.rules.clear(decision, "signed out")

    # -- the response ---------------------------------------------------------------------------

    def recheck(self, decision: Decision, outcome: Outcome, signed_in: bool) -> Steps[Outcome]:
        """The outcome as the response may carry it: a plan that re-writes a session signed out
        meanwhile (sign-out in another tab while this request ran) becomes a clear.

        The refresh tokens whose sign-out would make the writes a resurrection are the ones the
        request came with (tidying, refreshing; not for a fresh sign-in, which owes them
        nothing) and the one it writes.
        """
        writes = outcome.tokens is not None or any(c.value is not None for c in outcome.plan)
        if not writes:
            return outcome
        tokens = [] if signed_in else list(decision.refresh_tokens)
        if outcome.tokens is not None:
            tokens.append(outcome.tokens.refresh_token)
        if (yield from ask(AnyRevoked(tuple(token_digest(t) for t in tokens), confirm=True))):
            return self.rules.clear(decision, "signed out")
        return outcome

    def set_cookie_lines(
        self,
        decision: Decision,
        outcome: Outcome,
        extra: Iterable[str],
        app_set_cookies: Iterable[str],
    ) -> list[str]:
        """The Set-Cookie values of the outcome's plan, then ``extra`` (the sign-in state
        cookie). A cookie the application set itself (same name, domain and path) is left to
        it, so no response carries two Set-Cookie lines for one cookie."""
        if not outcome.plan:
            return list(extra)
        path = decision.target.path
        taken = {parse_set_cookie_target(h, path) for h in app_set_cookies}
        policy = self.config.cookie_policy
        plan, left_out = bounded(outcome.plan)
        if left_out:
            self.events.emit(Event.SET_COOKIE_CAPPED, left_out, path=path)
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
            self.events.emit(Event.COOKIES_DELETED, deleted)
        if len(lines) > deleted:
            self.events.emit(Event.COOKIES_WRITTEN, len(lines) - deleted)
        return [*lines, *extra]


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
