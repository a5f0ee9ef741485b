"""The session manager: one per application. It runs the session flows (``flows``) with the
I/O they ask for (``steps``: JWKS, provider, coordinator) and hands adapters a
:class:`RequestAuth` per request.

Each flow is written once and run by a blocking face (WSGI, Django, threads) and an async face
(ASGI); the I/O of both is registered in one table, a blocking and an async handler per step
type. Every method takes values and answers values: :class:`RequestAuth` holds the results.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Mapping

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._config.scheme import scheme_of
from .._coordination.coordinator import (
    Closeable,
    ConfirmsRevocation,
    RefreshCoordinator,
    Refreshed,
)
from .._coordination.url import coordinator_from_env
from .._core.backoff import Backoff, Cooldowns, retry_after
from .._core.clock import Clock, SystemClock
from .._core.closing import Closing
from .._core.errors import ConfigError, ProviderRejected, ProviderTimeout, ProviderUnavailable
from .._core.events import Event, Events
from .._core.plan import RequestTarget
from .._core.session import Decision, Outcome, Session, SessionRules, Settled
from .._core.signin_state import SignInState, StateCookie, state_cookie
from .._core.steps import Handlers, adrive, drive
from .._core.tokens import JwkSet, TokenSet, token_digest
from .._providers.cognito import CognitoProvider
from .._providers.jwks import JwksSource, verification
from .._providers.oidc import OidcProvider
from .._providers.provider import GlobalSignOut as EverywhereSignOut
from .._providers.provider import PasswordSignIn, Provider, RedirectSignIn, SignInResult
from . import steps
from .flows import MAX_COOKIE_HEADER, MAX_PROVIDER_TOKENS, MAX_SIGN_OUT_TOKENS, Flows, Loaded
from .origin import OriginWatch
from .request import RequestAuth

__all__ = [
    "DEFAULT_PROVIDER_RETRY",
    "MAX_COOKIE_HEADER",
    "MAX_PROVIDER_TOKENS",
    "MAX_SIGN_OUT_TOKENS",
    "RequestAuth",
    "SessionManager",
    "default_provider",
]

logger = logging.getLogger("ssrauth")

#: How long a refresh token rests after its provider call timed out: 2 s, then 4 s, 8 s … up
#: to 30 s while its calls keep timing out. A timed-out call may still be running at the
#: provider (a 6 s answer against our 5 s timeout), so calling again at once piles a second
#: and third call per token onto a provider that is already slow; meanwhile the token's
#: requests get "unavailable" (503 + Retry-After where a user is required, cookies kept).
DEFAULT_PROVIDER_RETRY = Backoff(first=2.0, cap=30.0)


def default_provider(config: CognitoConfig | OidcConfig) -> Provider:
    """The provider a configuration names when none is passed."""
    if isinstance(config, OidcConfig):
        return OidcProvider(config)
    return CognitoProvider(config)


class SessionManager(Closing):
    """One per application: configuration, provider, coordinator, key cache and counters."""

    def __init__(
        self,
        config: CognitoConfig | OidcConfig,
        *,
        provider: Provider | None = None,
        coordinator: RefreshCoordinator | None = None,
        clock: Clock | None = None,
        events: Events | None = None,
        jwks: JwksSource | None = None,
        provider_retry: Backoff = DEFAULT_PROVIDER_RETRY,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.events = events or Events()
        #: Without one passed in, ``SSRAUTH_COORDINATOR`` names it; unset, the workers of this
        #: machine share a SQLite file (``coordinator_from_env``, which logs its choice).
        self.coordinator: RefreshCoordinator = coordinator or coordinator_from_env(
            clock=self.clock, events=self.events, config=config)
        if coordinator is not None:
            logger.info("ssrauth: refresh coordinator %s (passed to SessionManager)",
                        type(coordinator).__name__)
        self.provider: Provider = provider or default_provider(config)
        #: The once-per-host warning for Secure cookies on plain http, which adapters feed.
        self.origins = OriginWatch(config.cookie_policy, self.events)
        scheme = scheme_of(config)
        self.keys = scheme.keys
        self.state_cookie: StateCookie | None = (
            state_cookie(config.cookie_prefix, config.cookie_policy.secure)
            if isinstance(config, OidcConfig) else None)
        #: ``jwks``: a source of your own (tuned intervals, injected keys, shared with a
        #: ``TokenChecker``); what it was not given comes from ``config``.
        verifier, self.jwks = verification(config, scheme, self.provider.jwks_locator,
                                           clock=self.clock, on_fetched=self._fetched,
                                           source=jwks)
        #: Refresh tokens whose provider call timed out rest here (see ``_core.backoff``).
        self._timed_out = Cooldowns(provider_retry)
        self.rules = SessionRules(
            keys=self.keys,
            verifier=verifier,
            policy=config.cookie_policy,
            refresh_margin=config.refresh_margin,
        )
        self._flows = Flows(config, self.rules, self.jwks, self.clock, self.events,
                            self.state_cookie)
        self._handlers = (
            Handlers()
            .on(steps.FetchJwks, self._fetch_jwks, self._afetch_jwks)
            .on(steps.Refresh, self._refresh, self._arefresh)
            .on(steps.SignIn, self._sign_in, self._asign_in)
            .on(steps.SignOut, self._sign_out, self._asign_out)
            .on(steps.GlobalSignOut, self._global_sign_out, self._aglobal_sign_out)
            .on(steps.Authorize, self._authorize, self._aauthorize)
            .on(steps.Exchange, self._exchange, self._aexchange)
            .on(steps.AnyRevoked, self._any_revoked, self._aany_revoked)
            .on(steps.AllSuperseded, self._all_superseded, self._aall_superseded)
        )

    # -- reading a request -----------------------------------------------------------------------

    def load(self, cookie_header: str, path: str, host: str) -> RequestAuth:
        """Read (and if needed refresh) the session of one request. Never raises on bad input."""
        settled = self._settled(cookie_header, path, host)
        if settled is not None and not self._revoked(settled.decision.refresh_digests):
            return RequestAuth(self, settled.decision, settled.outcome, None, cookie_header)
        target = RequestTarget(path or "/", host)
        first = self._flows.first_look(cookie_header, target)
        if first is not None and first.is_quiet and not self._revoked(first.refresh_digests):
            return RequestAuth(self, first, self.rules.keep(first), None, cookie_header)
        loaded = drive(self._flows.load(cookie_header, target, first), self._handlers)
        return self._request(loaded, cookie_header)

    async def aload(self, cookie_header: str, path: str, host: str) -> RequestAuth:
        settled = self._settled(cookie_header, path, host)
        if settled is not None and not await self._arevoked(settled.decision.refresh_digests):
            return RequestAuth(self, settled.decision, settled.outcome, None, cookie_header)
        target = RequestTarget(path or "/", host)
        first = self._flows.first_look(cookie_header, target)
        if first is not None and first.is_quiet and not await self._arevoked(
                first.refresh_digests):
            return RequestAuth(self, first, self.rules.keep(first), None, cookie_header)
        loaded = await adrive(self._flows.load(cookie_header, target, first), self._handlers)
        return self._request(loaded, cookie_header)

    def _settled(self, cookie_header: str, path: str, host: str) -> Settled | None:
        """The fast path of nearly every request: the same Cookie header on the same page as
        before, its quiet decision and outcome remembered by the core; no request target, no
        protocol machinery, only the sign-out check left to do."""
        return self.rules.settled(cookie_header, path or "/", host, self.jwks.current,
                                  self.clock.now())

    def _request(self, loaded: Loaded, cookie_header: str) -> RequestAuth:
        return RequestAuth(self, loaded.decision, loaded.outcome, loaded.unavailable,
                           cookie_header)

    # -- what a handler asks for (values in, values out) ----------------------------------------

    def signed_in(self, decision: Decision, username: str, password: str) -> Outcome:
        """The outcome of a password sign-in on the request ``decision`` was made for."""
        return drive(self._flows.sign_in(decision, username, password), self._handlers)

    async def asigned_in(self, decision: Decision, username: str, password: str) -> Outcome:
        return await adrive(self._flows.sign_in(decision, username, password), self._handlers)

    def authorization(self, return_to: str) -> tuple[str, SignInState]:
        """A redirect sign-in's authorization URL and the state its callback must match."""
        return drive(self._flows.begin_sign_in(return_to), self._handlers)

    async def aauthorization(self, return_to: str) -> tuple[str, SignInState]:
        return await adrive(self._flows.begin_sign_in(return_to), self._handlers)

    def callback(
        self, decision: Decision, cookie_header: str, query: Mapping[str, str]
    ) -> tuple[Outcome, str]:
        """A redirect sign-in's callback: the outcome, and the path to return to."""
        return drive(self._flows.complete_sign_in(decision, cookie_header, query),
                     self._handlers)

    async def acallback(
        self, decision: Decision, cookie_header: str, query: Mapping[str, str]
    ) -> tuple[Outcome, str]:
        return await adrive(self._flows.complete_sign_in(decision, cookie_header, query),
                            self._handlers)

    def signed_out(self, decision: Decision, outcome: Outcome, everywhere: bool) -> Outcome:
        """The outcome of signing out a request whose current outcome is ``outcome``."""
        return drive(self._flows.sign_out(decision, outcome, self._everywhere(everywhere)),
                     self._handlers)

    async def asigned_out(self, decision: Decision, outcome: Outcome,
                          everywhere: bool) -> Outcome:
        return await adrive(self._flows.sign_out(decision, outcome,
                                                 self._everywhere(everywhere)), self._handlers)

    def end_session_url(self, session: Session | None) -> str | None:
        """Where to send the browser after a sign-out, if the provider ends sessions too."""
        id_token = session.id_token if session is not None else None
        return self.provider.end_session_url(id_token.raw if id_token is not None else None)

    def _everywhere(self, everywhere: bool) -> bool:
        if everywhere and self.provider.sign_out_everywhere is None:
            logger.warning("ssrauth: the provider has no global sign-out; signing out here "
                           "only (an OpenID Connect provider ends sessions at end_session_url)")
            return False
        return everywhere

    # -- the response ----------------------------------------------------------------------------

    def rechecked(self, decision: Decision, outcome: Outcome, signed_in: bool) -> Outcome:
        """``outcome``, or a clear if it would re-write a session signed out meanwhile."""
        return drive(self._flows.recheck(decision, outcome, signed_in), self._handlers)

    async def arechecked(self, decision: Decision, outcome: Outcome, signed_in: bool) -> Outcome:
        return await adrive(self._flows.recheck(decision, outcome, signed_in), self._handlers)

    def set_cookie_lines(
        self,
        decision: Decision,
        outcome: Outcome,
        extra: Iterable[str] = (),
        app_set_cookies: Iterable[str] = (),
    ) -> list[str]:
        """The response's Set-Cookie lines for ``outcome`` (no I/O)."""
        return self._flows.set_cookie_lines(decision, outcome, extra, app_set_cookies)

    # -- I/O: one blocking and one async handler per step ---------------------------------------

    def _fetch_jwks(self, _: steps.FetchJwks) -> JwkSet:
        return self.jwks.fetch()

    async def _afetch_jwks(self, _: steps.FetchJwks) -> JwkSet:
        return await self.jwks.afetch()

    def _refresh(self, step: steps.Refresh) -> Refreshed:
        key = self._not_resting(step.refresh_token)

        def call() -> TokenSet:
            self.events.emit(Event.REFRESH_STARTED)  # runs in the leader only
            with self._provider_call("refresh"), self._counting_rejection(), self._timing(key):
                return self.provider.refresh(step.refresh_token, step.username)

        return self.coordinator.refresh(step.refresh_token, call)

    async def _arefresh(self, step: steps.Refresh) -> Refreshed:
        key = self._not_resting(step.refresh_token)

        async def acall() -> TokenSet:
            self.events.emit(Event.REFRESH_STARTED)  # runs in the leader only
            with self._provider_call("refresh"), self._counting_rejection(), self._timing(key):
                return await self.provider.arefresh(step.refresh_token, step.username)

        return await self.coordinator.arefresh(step.refresh_token, acall)

    def _not_resting(self, refresh_token: str) -> bytes:
        """The token's digest, unless its last provider call timed out less than a backoff
        ago: then "unavailable" without a call (in this process; another process's own
        timeout rests it there)."""
        key = token_digest(refresh_token)
        resting = self._timed_out.remaining(key, self.clock.now())
        if resting > 0:
            error = ProviderUnavailable("the provider timed out on this refresh token; "
                                        f"retrying in {resting:.1f} s")
            error.retry_after = retry_after(resting)
            raise error
        return key

    @contextlib.contextmanager
    def _timing(self, key: bytes) -> Iterator[None]:
        """The leader's provider call, timed out (the token rests) or answered (it does not)."""
        try:
            yield
        except ProviderTimeout as error:
            error.retry_after = retry_after(self._timed_out.failed(key, self.clock.now()))
            raise
        except ProviderRejected:
            self._timed_out.succeeded(key)
            raise
        self._timed_out.succeeded(key)

    def _sign_in(self, step: steps.SignIn) -> SignInResult:
        password = self._password()
        with self._provider_call("sign_in"):
            return password.sign_in(step.username, step.password)

    async def _asign_in(self, step: steps.SignIn) -> SignInResult:
        password = self._password()
        with self._provider_call("sign_in"):
            return await password.asign_in(step.username, step.password)

    def _sign_out(self, step: steps.SignOut) -> bool:
        self.coordinator.revoke(token_digest(step.refresh_token))
        if not step.at_provider:
            return False
        with self._provider_call("revoke"):
            return self.provider.revoke(step.refresh_token)

    async def _asign_out(self, step: steps.SignOut) -> bool:
        await self.coordinator.arevoke(token_digest(step.refresh_token))
        if not step.at_provider:
            return False
        with self._provider_call("revoke"):
            return await self.provider.arevoke(step.refresh_token)

    def _global_sign_out(self, step: steps.GlobalSignOut) -> None:
        with self._provider_call("global_sign_out"):
            self._all_devices().global_sign_out(step.access_token)

    async def _aglobal_sign_out(self, step: steps.GlobalSignOut) -> None:
        with self._provider_call("global_sign_out"):
            await self._all_devices().aglobal_sign_out(step.access_token)

    def _authorize(self, step: steps.Authorize) -> str:
        state = step.state
        return self._redirect().authorization_url(state.state, state.verifier, state.nonce)

    async def _aauthorize(self, step: steps.Authorize) -> str:
        state = step.state
        return await self._redirect().aauthorization_url(state.state, state.verifier,
                                                         state.nonce)

    def _exchange(self, step: steps.Exchange) -> TokenSet:
        redirect = self._redirect()
        with self._provider_call("exchange"):
            return redirect.exchange_code(step.code, step.verifier)

    async def _aexchange(self, step: steps.Exchange) -> TokenSet:
        redirect = self._redirect()
        with self._provider_call("exchange"):
            return await redirect.aexchange_code(step.code, step.verifier)

    def _any_revoked(self, step: steps.AnyRevoked) -> bool:
        coordinator = self.coordinator
        if step.confirm and isinstance(coordinator, ConfirmsRevocation):
            return any(coordinator.confirm_revoked(digest) for digest in step.digests)
        return self._revoked(step.digests)

    async def _aany_revoked(self, step: steps.AnyRevoked) -> bool:
        coordinator = self.coordinator
        if step.confirm and isinstance(coordinator, ConfirmsRevocation):
            for digest in step.digests:
                if await coordinator.aconfirm_revoked(digest):
                    return True
            return False
        return await self._arevoked(step.digests)

    # The quiet path of load / aload asks these directly, building no step and no Loaded: every
    # signed-in request pays for what it builds (about 1 µs of a 5 µs aload; bench/_micro.py).

    def _revoked(self, digests: tuple[bytes, ...]) -> bool:
        return any(self.coordinator.is_revoked(digest) for digest in digests)

    async def _arevoked(self, digests: tuple[bytes, ...]) -> bool:
        for digest in digests:
            if await self.coordinator.ais_revoked(digest):
                return True
        return False

    def _all_superseded(self, step: steps.AllSuperseded) -> bool:
        return all(self.coordinator.is_superseded(digest) for digest in step.digests)

    async def _aall_superseded(self, step: steps.AllSuperseded) -> bool:
        for digest in step.digests:
            if not await self.coordinator.ais_superseded(digest):
                return False
        return True

    # -- capabilities ----------------------------------------------------------------------------

    def _password(self) -> PasswordSignIn:
        capability = self.provider.password_sign_in
        if capability is None:
            raise ConfigError("OpenID Connect signs in by redirect: use begin_sign_in")
        return capability

    def _redirect(self) -> RedirectSignIn:
        capability = self.provider.redirect_sign_in
        if capability is None:
            raise ConfigError("the redirect sign-in flow needs an OidcConfig")
        return capability

    def _all_devices(self) -> EverywhereSignOut:
        capability = self.provider.sign_out_everywhere
        assert capability is not None  # asked only of a provider that has it (_everywhere)
        return capability

    @contextlib.contextmanager
    def _provider_call(self, operation: str) -> Iterator[None]:
        """Time one call to the provider, whichever face makes it: PROVIDER_CALL with its
        ``operation`` (``PROVIDER_OPERATIONS``), ``outcome`` (``CALL_OUTCOMES``) and wall-clock
        ``seconds`` (``time.perf_counter``, not the manager's clock: a test's ManualClock stands
        still while the call takes real time). Only the provider call is inside: a refresh's
        coordinator wait, a revocation's tombstone are not the provider's latency."""
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        except ProviderRejected:
            outcome = "rejected"
            raise
        except ProviderUnavailable:
            outcome = "unavailable"
            raise
        finally:
            self.events.emit(Event.PROVIDER_CALL, operation=operation, outcome=outcome,
                             seconds=time.perf_counter() - started)

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
        """Close the provider's HTTP clients and the coordinator's connections, for each that
        has ``close``/``aclose`` (at shutdown;
        an async client whose loop is still running elsewhere is closed on that loop)."""
        if isinstance(self.provider, Closeable):
            self.provider.close()
        if isinstance(self.coordinator, Closeable):
            self.coordinator.close()

    async def aclose(self) -> None:
        """:meth:`close` from a coroutine: this loop's async clients are closed here."""
        if isinstance(self.provider, Closeable):
            await self.provider.aclose()
        if isinstance(self.coordinator, Closeable):
            await self.coordinator.aclose()
