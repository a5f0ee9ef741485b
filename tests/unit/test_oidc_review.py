"""Found in the OIDC security review: pure values (and a mocked wire), no network."""

from __future__ import annotations

import base64

import httpx
import jwt
import pytest

from ssrauth._core.session import State
from ssrauth._core.signin_state import SignInState, state_cookie
from ssrauth._core.tokens import InvalidToken
from tests.unit.test_oidc_provider import provider
from tests.unit.test_oidc_rules import (
    ISSUER,
    JWKS,
    NOW,
    RSA_KEY,
    TARGET,
    core,
    header,
    id_token,
    verifier,
)


def test_an_id_token_filed_under_another_users_cookie_names_is_not_that_users_session() -> None:
    """The cookie user of an OIDC family is the sub (``username_is_sub``): mallory's real id
    token planted among alice's cookies must not make a session that is mallory by its id
    token and alice by its access and refresh tokens (which a refresh would then mint)."""
    decision = core().decide(header(idToken=id_token(sub="mallory"), accessToken="alice-at",
                                    refreshToken="alice-rt", expiresAt=str(NOW + 60)),
                             TARGET, JWKS, NOW)
    assert decision.session is None
    assert decision.state is State.ANONYMOUS


def test_alice_keeps_her_own_id_token_beside_a_fresher_planted_one() -> None:
    planted = f"ssrauth.web-app.alice.idToken={id_token(sub='mallory', iat=NOW + 10)}"
    cookies = header(idToken=id_token(), accessToken="alice-at", refreshToken="alice-rt",
                     expiresAt=str(NOW + 60)) + "; " + planted
    decision = core().decide(cookies, TARGET, JWKS, NOW)
    assert decision.session is not None
    assert decision.session.sub == "alice"


def test_an_rfc9068_access_token_is_never_taken_for_an_id_token() -> None:
    """RFC 9068 §4: a JWT access token whose aud happens to be our client id (the app's own
    API) must not pass as an id token: it may have been issued to any client."""
    access = jwt.encode({"iss": ISSUER, "aud": "web-app", "sub": "alice", "iat": NOW,
                         "exp": NOW + 300, "client_id": "other-app"}, RSA_KEY, "RS256",
                        headers={"kid": "r1", "typ": "at+jwt"})
    with pytest.raises(InvalidToken, match="access token"):
        verifier().verify(access, "id", JWKS, NOW)


def test_a_deeply_nested_state_cookie_is_no_sign_in_not_an_exception() -> None:
    nested = base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=")
    assert SignInState.decode(nested) is None
    cookie = state_cookie("ssrauth", secure=True)
    assert cookie.pending(f"{cookie.name}={nested}", {"state": "x"}) is None


def test_an_overflowing_expires_in_is_no_lifetime_not_an_exception() -> None:
    body = b'{"access_token": "a", "id_token": "i", "refresh_token": "r", "expires_in": 1e999}'
    oidc, _ = provider(lambda request: httpx.Response(
        200, content=body, headers={"content-type": "application/json"}))
    assert oidc.refresh("r", None).expires_in is None


def test_an_oidc_sessions_username_is_the_sub_not_a_claim_the_user_may_choose() -> None:
    """Generic providers may let users pick a ``username``-like claim; authorising on it would
    let one user pass for another. Under OpenID Connect the name to authorise on is ``sub``."""
    token = id_token(username="admin", **{"cognito:username": "admin"})
    decision = core().decide(header(idToken=token, accessToken="alice-at",
                                    refreshToken="alice-rt", expiresAt=str(NOW + 60)),
                             TARGET, JWKS, NOW)
    assert decision.session is not None
    assert decision.session.username == decision.session.sub == "alice"


def test_a_return_path_too_long_for_the_state_cookie_becomes_the_home_page() -> None:
    assert SignInState.new("/orders/" + "x" * 2000).return_to.startswith("/orders/")
    assert SignInState.new("/orders/" + "x" * 5000).return_to == "/"
