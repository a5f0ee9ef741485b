"""The sign-in state cookie of the OpenID Connect redirect flow: what ``begin_sign_in`` must
remember until the provider sends the browser back (state, PKCE verifier, nonce, where to go).

Pure. The cookie is ``__Host-``-prefixed over HTTPS, so no sibling subdomain or other path can
plant or shadow it, HttpOnly (script never needs it), ``SameSite=Lax`` (the provider's redirect
back is a top-level GET) and short-lived. Its values are random; ``complete_sign_in`` compares
the state with the one in the callback's query, so a forged callback lacks the verifier and a
planted cookie lacks a code bound to it.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from .cookies import CookiePolicy, SetCookie, parse_cookie_header, render_set_cookie
from .errors import SignInError

__all__ = ["SignInError", "SignInState", "safe_return_to", "state_cookie"]

#: Ten minutes to get through the provider's sign-in pages.
STATE_MAX_AGE = 600
#: Longest return path kept; the state cookie's other values take about 200 bytes.
MAX_RETURN_TO = 2048


def safe_return_to(value: str) -> str:
    """Only a path on this site: ``//evil.example`` and ``/\\evil.example`` are other hosts to
    a browser, and an absolute URL is an open redirect. At most ``MAX_RETURN_TO`` characters:
    a longer one would push the state cookie past the 4096 bytes a browser keeps, and the
    sign-in would fail for want of it."""
    if not value.startswith("/") or value.startswith(("//", "/\\")) or any(
        ch in value for ch in "\r\n\t"
    ) or len(value) > MAX_RETURN_TO:
        return "/"
    return value


@dataclass(frozen=True, slots=True)
class SignInState:
    state: str
    verifier: str
    nonce: str
    return_to: str

    @classmethod
    def new(cls, return_to: str) -> SignInState:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(48),
                   secrets.token_urlsafe(24), safe_return_to(return_to))

    def encode(self) -> str:
        data = json.dumps([self.state, self.verifier, self.nonce, self.return_to],
                          separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, value: str) -> SignInState | None:
        try:
            data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, RecursionError):
            # RecursionError: a cookie of nested "[[[[…" (2 KB is enough); it must be "no
            # sign-in in progress", never an exception (a 500) on the callback.
            return None
        if not (isinstance(data, list) and len(data) == 4
                and all(isinstance(item, str) and item for item in data)):
            return None
        return cls(data[0], data[1], data[2], safe_return_to(data[3]))

    def matches(self, query: Mapping[str, str]) -> bool:
        return hmac.compare_digest(self.state.encode(), query.get("state", "").encode())


@dataclass(frozen=True, slots=True)
class StateCookie:
    """Name and attributes of the state cookie for one cookie prefix and policy."""

    name: str
    policy: CookiePolicy

    def write(self, state: SignInState) -> str:
        return render_set_cookie(SetCookie(self.name, state.encode(), "/", None), self.policy)

    def delete(self) -> str:
        return render_set_cookie(SetCookie(self.name, None, "/", None), self.policy)

    def pending(self, cookie_header: str, query: Mapping[str, str]) -> SignInState | None:
        """The sign-in this callback answers: a copy whose state matches the query's."""
        for cookie in parse_cookie_header(cookie_header):
            if cookie.name == self.name:
                state = SignInState.decode(cookie.value)
                if state is not None and state.matches(query):
                    return state
        return None


def state_cookie(prefix: str, secure: bool) -> StateCookie:
    name = f"__Host-{prefix}-signin" if secure else f"{prefix}-signin"
    policy = CookiePolicy(secure=secure, http_only=True, same_site="lax",
                          max_age=STATE_MAX_AGE)
    return StateCookie(name, policy)
