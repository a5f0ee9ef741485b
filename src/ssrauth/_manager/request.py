"""The auth state of one request: what the session manager decided, and the outcome a handler
may change (sign-in, sign-out) until the adapter renders it into the response.

It holds results and asks :class:`~ssrauth.SessionManager` (its public methods only) for every
flow, handing values in and taking values back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from .._core.errors import ConfigError, ProviderUnavailable
from .._core.session import Decision, Outcome, Session
from .._core.signin_state import SignInState, StateCookie

__all__ = ["ManagerFace", "RequestAuth"]


class ManagerFace(Protocol):
    """The public face of :class:`~ssrauth.SessionManager` a :class:`RequestAuth` uses: every
    flow takes values and answers values, so a request's state lives here and the manager keeps
    none of it (and this module needs no import of the manager's)."""

    state_cookie: StateCookie | None

    def signed_in(self, decision: Decision, username: str, password: str) -> Outcome: ...
    async def asigned_in(self, decision: Decision, username: str, password: str) -> Outcome: ...
    def authorization(self, return_to: str) -> tuple[str, SignInState]: ...
    async def aauthorization(self, return_to: str) -> tuple[str, SignInState]: ...
    def callback(self, decision: Decision, cookie_header: str,
                 query: Mapping[str, str]) -> tuple[Outcome, str]: ...
    async def acallback(self, decision: Decision, cookie_header: str,
                        query: Mapping[str, str]) -> tuple[Outcome, str]: ...
    def signed_out(self, decision: Decision, outcome: Outcome, everywhere: bool) -> Outcome: ...
    async def asigned_out(self, decision: Decision, outcome: Outcome,
                          everywhere: bool) -> Outcome: ...
    def end_session_url(self, session: Session | None) -> str | None: ...
    def rechecked(self, decision: Decision, outcome: Outcome, signed_in: bool) -> Outcome: ...
    async def arechecked(self, decision: Decision, outcome: Outcome,
                         signed_in: bool) -> Outcome: ...
    def set_cookie_lines(self, decision: Decision, outcome: Outcome, extra: Iterable[str] = (),
                         app_set_cookies: Iterable[str] = ()) -> list[str]: ...


class RequestAuth:
    """The auth state of one request, attached to it by the adapters.

    Read ``session`` (or ``user``); call :meth:`sign_in` / :meth:`sign_out` from a handler; the
    adapter adds the final outcome's headers with :meth:`response_headers` (blocking servers) or
    :meth:`aresponse_headers` (event loops), via ``_adapters.respond``.
    """

    __slots__ = ("_fresh_sign_in", "cookie_header", "decision", "extra_set_cookies", "manager",
                 "outcome", "unavailable")

    def __init__(
        self,
        manager: ManagerFace,
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

    # -- signing in ------------------------------------------------------------------------------

    def sign_in(self, username: str, password: str) -> Session:
        """Password sign-in (USER_PASSWORD_AUTH); the response will carry the new cookies.

        Raises ``ProviderRejected`` for wrong credentials, ``ProviderUnavailable`` when the
        provider cannot be reached and ``SignInChallenge`` when Cognito wants another step.
        """
        return self._adopt(self.manager.signed_in(self.decision, username, password))

    async def asign_in(self, username: str, password: str) -> Session:
        return self._adopt(await self.manager.asigned_in(self.decision, username, password))

    def begin_sign_in(self, return_to: str = "/") -> str:
        """OpenID Connect: the provider's authorization URL to redirect the browser to.

        The response carries the sign-in state cookie (state, PKCE verifier, nonce and
        ``return_to``, which must be a path on this site or becomes ``/``).
        """
        return self._begun(*self.manager.authorization(return_to))

    async def abegin_sign_in(self, return_to: str = "/") -> str:
        return self._begun(*await self.manager.aauthorization(return_to))

    def complete_sign_in(self, query_params: Mapping[str, str]) -> str:
        """OpenID Connect callback: establish the session; answers the ``return_to`` path.

        Raises ``SignInError`` (no matching sign-in state, the provider's ``error``, a nonce
        that is not ours), ``ProviderRejected`` (a code that is used, expired or forged) or
        ``ProviderUnavailable``. The state cookie is deleted either way: a callback is
        answered once.
        """
        self.extra_set_cookies = [self._state_cookie().delete()]
        outcome, return_to = self.manager.callback(self.decision, self.cookie_header,
                                                   query_params)
        self._adopt(outcome)
        return return_to

    async def acomplete_sign_in(self, query_params: Mapping[str, str]) -> str:
        self.extra_set_cookies = [self._state_cookie().delete()]
        outcome, return_to = await self.manager.acallback(self.decision, self.cookie_header,
                                                          query_params)
        self._adopt(outcome)
        return return_to

    def _state_cookie(self) -> StateCookie:
        if self.manager.state_cookie is None:
            raise ConfigError("the redirect sign-in flow needs an OidcConfig")
        return self.manager.state_cookie

    def _begun(self, url: str, state: SignInState) -> str:
        self.extra_set_cookies = [self._state_cookie().write(state)]
        return url

    def _adopt(self, outcome: Outcome) -> Session:
        self.outcome = outcome
        self.unavailable = None
        self._fresh_sign_in = True
        assert outcome.session is not None
        return outcome.session

    # -- signing out -----------------------------------------------------------------------------

    def sign_out(self, *, everywhere: bool = False) -> str | None:
        """Revoke the refresh token, tombstone it, delete every auth cookie variant.

        ``everywhere=True`` also signs the user out on every device (Cognito GlobalSignOut).
        Answers the OpenID Connect provider's logout URL (``end_session_endpoint``) to send
        the browser to, if it has one; None otherwise (and always for Cognito).
        """
        session = self.session
        self.outcome = self.manager.signed_out(self.decision, self.outcome, everywhere)
        return self._signed_out(session)

    async def asign_out(self, *, everywhere: bool = False) -> str | None:
        session = self.session
        self.outcome = await self.manager.asigned_out(self.decision, self.outcome, everywhere)
        return self._signed_out(session)

    def _signed_out(self, session: Session | None) -> str | None:
        self.unavailable = None
        self._fresh_sign_in = False
        return self.manager.end_session_url(session)

    # -- the response ----------------------------------------------------------------------------

    def response_headers(self, app_set_cookies: Iterable[str] = ()) -> list[tuple[str, str]]:
        """Headers an adapter adds to the response: ``Set-Cookie`` lines and, when there are
        any, ``Cache-Control: no-store``, which replaces the application's own Cache-Control.

        A response that sets auth cookies must never be stored by a shared cache and replayed
        to someone else, whatever the application said about caching it.
        """
        return _with_no_store(self.set_cookie_headers(app_set_cookies))

    async def aresponse_headers(
        self, app_set_cookies: Iterable[str] = ()
    ) -> list[tuple[str, str]]:
        """:meth:`response_headers` for event loops: the sign-out re-check is awaited."""
        return _with_no_store(await self.aset_cookie_headers(app_set_cookies))

    def set_cookie_headers(self, app_set_cookies: Iterable[str] = ()) -> list[str]:
        """The Set-Cookie values to add to the response.

        A cookie the application set itself (same name, domain and path) is left to it, so no
        response carries two Set-Cookie lines for one cookie. A plan that re-writes a session
        signed out meanwhile (sign-out in another tab while this request ran) becomes a clear.
        """
        self.outcome = self.manager.rechecked(self.decision, self.outcome, self._fresh_sign_in)
        return self._lines(app_set_cookies)

    async def aset_cookie_headers(self, app_set_cookies: Iterable[str] = ()) -> list[str]:
        """:meth:`set_cookie_headers` for event loops: the sign-out re-check is awaited."""
        self.outcome = await self.manager.arechecked(self.decision, self.outcome,
                                                     self._fresh_sign_in)
        return self._lines(app_set_cookies)

    def _lines(self, app_set_cookies: Iterable[str]) -> list[str]:
        return self.manager.set_cookie_lines(self.decision, self.outcome,
                                             self.extra_set_cookies, app_set_cookies)


def _with_no_store(lines: list[str]) -> list[tuple[str, str]]:
    if not lines:
        return []
    return [("Cache-Control", "no-store"), *(("Set-Cookie", line) for line in lines)]
