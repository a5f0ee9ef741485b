"""The OpenID Connect token rules and the decision core under them: pure values, no network.

What the rules must guarantee: the id token is the identity (signature by the key's own
algorithm, exact iss, aud/azp, integer times); an opaque access token proves nothing and its
expiry is the one recorded on our clock; never ``alg: none`` or HMAC with a public key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from ssrauth._core.rules import CognitoRules, OidcRules
from ssrauth._core.session import State
from ssrauth._core.tokens import InvalidToken, JwkSet, TokenSet
from tests.unit.oidc_factory import (
    CLIENT,
    EC_KEY,
    ISSUER,
    JWKS,
    NOW,
    RSA_KEY,
    TARGET,
    core,
    header,
    id_token,
    jwk,
    verifier,
)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_the_key_set_keeps_rsa_and_ec_keys_pinned_to_their_algorithm_and_never_hmac() -> None:
    assert JWKS.algorithms == {"r1": "RS256", "e1": "ES256"}
    assert JwkSet.from_json({"keys": [jwk(EC_KEY, "e1")]}).keys == {}  # Cognito: RS256 only
    mismatched = JwkSet.from_json({"keys": [jwk(RSA_KEY, "x", alg="ES256")]}, ("ES256",))
    assert mismatched.keys == {}


def test_rs256_and_es256_id_tokens_verify() -> None:
    assert verifier().verify(id_token(), "id", JWKS, NOW).claims["sub"] == "alice"
    es = id_token(EC_KEY, "e1", "ES256")
    assert verifier().verify(es, "id", JWKS, NOW).exp == NOW + 300


@pytest.mark.parametrize(("token", "reason"), [
    (id_token(aud="other"), "(?i)audience"),
    (id_token(iss="https://evil.example"), "(?i)issuer"),
    (id_token(aud=[CLIENT, "other"]), "azp"),
    (id_token(aud=[CLIENT, "other"], azp="other"), "azp"),
    (id_token(azp="other"), "azp"),
    (id_token(exp=str(NOW + 300)), "integers"),
    (id_token(sub=None), "sub"),
    (id_token(EC_KEY, "r1", "ES256"), "does not match the key"),
    (id_token(RSA_KEY, "e1", "RS256"), "does not match the key"),
    (f"{_b64({'alg': 'none', 'kid': 'r1'})}.{_b64({'sub': 'alice'})}.", "not allowed"),
])
def test_id_tokens_that_are_not_ours_are_refused(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verifier().verify(token, "id", JWKS, NOW)


def test_hmac_signed_with_the_public_key_is_refused() -> None:
    pem = RSA_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    head = f"{_b64({'alg': 'HS256', 'kid': 'r1'})}.{_b64({'sub': 'alice'})}"
    signature = base64.urlsafe_b64encode(hmac.new(pem, head.encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidToken, match="not allowed"):
        verifier().verify(f"{head}.{signature.rstrip(b'=').decode()}", "id", JWKS, NOW)


def test_azp_equal_to_us_with_several_audiences_is_accepted() -> None:
    token = id_token(aud=[CLIENT, "api"], azp=CLIENT)
    assert verifier().verify(token, "id", JWKS, NOW).claims["azp"] == CLIENT


def test_access_tokens_are_opaque_unless_rfc9068_with_a_configured_audience() -> None:
    at_jwt = jwt.encode({"iss": ISSUER, "aud": "urn:api", "sub": "alice", "client_id": CLIENT,
                         "iat": NOW, "exp": NOW + 60}, RSA_KEY, "RS256",
                        headers={"kid": "r1", "typ": "at+jwt"})
    assert OidcRules(CLIENT).is_opaque(at_jwt)
    assert not OidcRules(CLIENT, "urn:api").is_opaque(at_jwt)
    assert OidcRules(CLIENT, "urn:api").is_opaque(id_token())  # typ JWT: not an access token
    assert verifier("urn:api").verify(at_jwt, "access", JWKS, NOW).exp == NOW + 60
    with pytest.raises(InvalidToken):
        verifier("urn:other").verify(at_jwt, "access", JWKS, NOW)
    assert not CognitoRules(CLIENT).is_opaque("anything")


@given(st.text(max_size=200))
def test_any_string_is_opaque_or_verified_never_an_exception(value: str) -> None:
    rules = OidcRules(CLIENT, "urn:api")
    if not rules.is_opaque(value):
        with pytest.raises(InvalidToken):
            verifier("urn:api").verify(value, "access", JWKS, NOW)


# -- the decision core under OIDC rules ------------------------------------------------------


def test_the_id_token_authenticates_and_the_opaque_access_token_rides_along() -> None:
    decision = core().decide(header(idToken=id_token(), accessToken="opaque-1",
                                    refreshToken="rt", expiresAt=str(NOW + 60)),
                             TARGET, JWKS, NOW)
    assert decision.state is State.AUTHENTICATED
    assert decision.session is not None
    assert decision.session.sub == "alice"
    assert decision.session.username == "alice"
    assert decision.session.access_token.raw == "opaque-1"
    assert decision.session.access_token.claims == {}


@pytest.mark.parametrize("expires_at", [str(NOW + 3), "", "soon"])
def test_an_opaque_access_token_near_its_recorded_expiry_or_without_one_is_refreshed(
    expires_at: str
) -> None:
    decision = core().decide(header(idToken=id_token(), accessToken="opaque-1",
                                    refreshToken="rt", expiresAt=expires_at),
                             TARGET, JWKS, NOW)
    assert decision.state is State.NEEDS_REFRESH
    assert decision.refresh_tokens == ("rt",)


def test_a_forged_clock_drift_does_not_delay_an_opaque_tokens_refresh() -> None:
    decision = core().decide(header(idToken=id_token(), accessToken="opaque-1",
                                    refreshToken="rt", expiresAt=str(NOW + 3),
                                    clockDrift="-80000000"), TARGET, JWKS, NOW)
    assert decision.state is State.NEEDS_REFRESH


def test_without_a_verified_id_token_no_provider_call_and_the_session_is_cleared() -> None:
    decision = core().decide(header(idToken=id_token(aud="other"), accessToken="opaque",
                                    refreshToken="rt", expiresAt=str(NOW + 60)),
                             TARGET, JWKS, NOW)
    assert decision.state is State.ANONYMOUS
    assert "no verified id token" in decision.reason
    assert {c.name.rpartition(".")[2] for c in decision.plan} >= {"expiresAt", "accessToken"}


def test_establish_records_the_access_tokens_expiry_and_refuses_another_users_tokens() -> None:
    rules = core()
    decision = rules.decide("", TARGET, JWKS, NOW)
    tokens = TokenSet("opaque-2", id_token(), "rt-2", expires_in=30)
    outcome = rules.establish(decision, "alice", tokens, None, JWKS, NOW + 0.5)
    written = {c.name.rpartition(".")[2]: c.value for c in outcome.plan}
    assert written["expiresAt"] == str(NOW + 30)
    assert written["accessToken"] == "opaque-2"
    with pytest.raises(InvalidToken, match="another user"):
        rules.establish(decision, "mallory", tokens, None, JWKS, NOW)
    with pytest.raises(InvalidToken, match="no id token"):
        rules.establish(decision, "alice", TokenSet("opaque", None, "rt"), None, JWKS, NOW)


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


def test_an_oidc_sessions_username_is_the_sub_not_a_claim_the_user_may_choose() -> None:
    """Generic providers may let users pick a ``username``-like claim; authorising on it would
    let one user pass for another. Under OpenID Connect the name to authorise on is ``sub``."""
    token = id_token(username="admin", **{"cognito:username": "admin"})
    decision = core().decide(header(idToken=token, accessToken="alice-at",
                                    refreshToken="alice-rt", expiresAt=str(NOW + 60)),
                             TARGET, JWKS, NOW)
    assert decision.session is not None
    assert decision.session.username == decision.session.sub == "alice"
