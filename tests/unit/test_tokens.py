"""Token verification: what a Cognito token must be to count, and what the cache may skip."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssrauth._core.tokens import (
    InvalidToken,
    JwkSet,
    TokenUse,
    UnknownSigningKey,
    VerifiedToken,
)
from ssrauth._core.verify import TokenVerifier
from tests.unit.factory import (
    CLIENT_ID,
    ISSUER,
    KID,
    NOW,
    OTHER_CLIENT_ID,
    UNICODE,
    Minter,
    b64url,
    compact_jwt,
    jwks,
    minter,
    pool_key,
    unsigned_token,
    verifier,
)


def test_valid_access_token_verifies() -> None:
    token = minter().access("alice", iat=NOW)
    verified = verifier().verify(token, "access", jwks(), NOW)
    assert verified.raw == token
    assert (verified.token_use, verified.iat, verified.exp) == ("access", NOW, NOW + 3600)
    assert verified.username == "alice"
    assert verified.claims["client_id"] == CLIENT_ID


def test_valid_id_token_verifies() -> None:
    verified = verifier().verify(minter().id("a@b.com"), "id", jwks(), NOW)
    assert verified.token_use == "id"
    assert verified.username == "a@b.com"  # from cognito:username
    assert verified.claims["aud"] == CLIENT_ID


def test_id_token_with_audience_list_verifies() -> None:
    token = minter().id(aud=["another-audience", CLIENT_ID])
    assert verifier().verify(token, "id", jwks(), NOW).token_use == "id"


def test_expiry_is_not_part_of_verification() -> None:
    # Results are cached for the process lifetime; callers compare exp with their clock per use.
    token = minter().access(iat=NOW - 86_400)
    assert verifier().verify(token, "access", jwks(), NOW).exp == NOW - 86_400 + 3600


def _signed_with(algorithm: str) -> Callable[[], str]:
    def build() -> str:
        claims = minter().claims("access", "alice")
        return jwt.encode(claims, pool_key().private_key, algorithm=algorithm,
                          headers={"kid": KID})
    return build


def _hs256_with_public_pem() -> str:
    """The key-confusion forgery: HMAC keyed with the pool's public key, which anyone can fetch."""
    claims = minter().claims("access", "alice")
    header = {"alg": "HS256", "kid": KID, "typ": "JWT"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(pool_key().public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def _tampered() -> str:
    """A real token whose payload was edited to another user after signing."""
    header, _, signature = minter().access("alice").split(".")
    claims = minter().claims("access", "mallory")
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


FORGERIES: dict[str, tuple[Callable[[], str], TokenUse]] = {
    "alg-none": (lambda: unsigned_token(minter().claims("access", "alice")), "access"),
    "hs256-keyed-with-public-pem": (_hs256_with_public_pem, "access"),
    "rs512-with-the-pool-key": (_signed_with("RS512"), "access"),
    "ps256-with-the-pool-key": (_signed_with("PS256"), "access"),
    "attacker-key-under-our-kid": (lambda: Minter(pool_key(KID, seed=1)).access(), "access"),
    "wrong-issuer": (lambda: Minter(pool_key(), issuer=ISSUER + "x").access(), "access"),
    "access-for-another-client": (lambda: Minter(pool_key(), client_id=OTHER_CLIENT_ID).access(),
                                  "access"),
    "access-without-client-id": (lambda: minter().access(client_id=None), "access"),
    "id-for-another-client": (lambda: Minter(pool_key(), client_id=OTHER_CLIENT_ID).id(), "id"),
    "id-presented-as-access": (lambda: minter().id(client_id=CLIENT_ID), "access"),
    "access-presented-as-id": (lambda: minter().access(aud=CLIENT_ID), "id"),
    "missing-token-use": (lambda: minter().access(token_use=None), "access"),
    "missing-exp": (lambda: minter().access(exp=None), "access"),
    "missing-iat": (lambda: minter().access(iat=None), "access"),
    "float-exp": (lambda: minter().access(exp=NOW + 0.5), "access"),
    "string-iat": (lambda: minter().access(iat=str(NOW)), "access"),
    "missing-kid": (lambda: jwt.encode({"iss": ISSUER}, pool_key().private_key,
                                       algorithm="RS256"), "access"),
    "numeric-kid": (lambda: compact_jwt({"alg": "RS256", "kid": 1}, minter().claims(
        "access", "alice"), b"sig"), "access"),
    "tampered-payload": (_tampered, "access"),
    "truncated": (lambda: minter().access()[:-20], "access"),
    "no-signature-segment": (lambda: minter().access().rsplit(".", 1)[0], "access"),
    "garbage": (lambda: "not.a.jwt", "access"),
    "empty": (lambda: "", "access"),
    "header-is-a-list": (lambda: compact_jwt([], {}, b"x"), "access"),  # type: ignore[arg-type]
    "payload-is-a-list": (lambda: compact_jwt({"alg": "RS256", "kid": KID}, [], b"x"),  # type: ignore[arg-type]
                          "access"),
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_or_foreign_tokens_are_invalid_and_nothing_else(
    forgery: tuple[Callable[[], str], TokenUse],
) -> None:
    build, use = forgery
    with pytest.raises(InvalidToken) as raised:
        verifier().verify(build(), use, jwks(), NOW)
    assert type(raised.value) is InvalidToken  # not UnknownSigningKey: the kid is ours
    assert raised.value.reason


def test_rejection_reason_never_contains_the_token() -> None:
    token = _tampered()
    with pytest.raises(InvalidToken) as raised:
        verifier().verify(token, "access", jwks(), NOW)
    assert token.split(".")[1] not in raised.value.reason


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.text(UNICODE),
    st.lists(st.text(alphabet="abcXYZ-_=019", max_size=30), min_size=2, max_size=4).map(".".join),
))
def test_arbitrary_text_is_only_ever_an_invalid_token(text: str) -> None:
    with pytest.raises(InvalidToken):
        verifier().verify(text, "access", jwks(), NOW)


def test_lone_surrogate_is_an_invalid_token() -> None:
    # Unreachable from a latin-1 decoded Cookie header today, but verify() documents the contract.
    with pytest.raises(InvalidToken):
        verifier().verify("\ud800.x.y", "access", jwks(), NOW)


# -- unknown keys and the cache ------------------------------------------------------------------


class CountingVerifier(TokenVerifier):
    """Counts real verifications, so cache hits are visible."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(issuer=ISSUER, client_id=CLIENT_ID, **kwargs)
        self.uncached = 0

    def _verify_uncached(self, token: str, token_use: TokenUse, keys: JwkSet) -> VerifiedToken:
        self.uncached += 1
        return super()._verify_uncached(token, token_use, keys)


def test_unknown_kid_raises_unknown_signing_key_and_is_not_cached() -> None:
    rotated = Minter(pool_key("k2")).access()
    counting = CountingVerifier()
    keys = jwks()
    for _ in range(2):
        with pytest.raises(UnknownSigningKey) as raised:
            counting.verify(rotated, "access", keys, NOW)
        assert raised.value.kid == "k2"
    assert counting.uncached == 2  # asked again each time: a JWKS refetch may know the key
    both = JwkSet.from_json({"keys": [pool_key().public_jwk, pool_key("k2").public_jwk]})
    assert counting.verify(rotated, "access", both, NOW).claims["iss"] == ISSUER


def test_cache_returns_the_same_result_without_reverifying() -> None:
    counting = CountingVerifier()
    keys = jwks()
    token = minter().access()
    first = counting.verify(token, "access", keys, NOW)
    second = counting.verify(token, "access", keys, NOW)
    assert second is first
    assert counting.uncached == 1


def test_cache_remembers_rejections_too() -> None:
    counting = CountingVerifier()
    keys = jwks()
    forged = Minter(pool_key(KID, seed=1)).access()
    errors = []
    for _ in range(3):
        with pytest.raises(InvalidToken) as raised:
            counting.verify(forged, "access", keys, NOW)
        errors.append(raised.value)
    assert counting.uncached == 1
    assert errors[0] is errors[1] is errors[2]


def test_cache_is_per_token_use() -> None:
    # The same string checked as an access token and as an id token is two different questions.
    counting = CountingVerifier()
    keys = jwks()
    token = minter().access()
    counting.verify(token, "access", keys, NOW)
    with pytest.raises(InvalidToken):
        counting.verify(token, "id", keys, NOW)
    assert counting.uncached == 2


def test_new_key_set_empties_the_cache() -> None:
    # A token must verify against the keys the pool publishes now, not the ones it had.
    counting = CountingVerifier()
    token = minter().access()
    counting.verify(token, "access", jwks(), NOW)
    only_other_key = JwkSet.from_json({"keys": [pool_key("k2").public_jwk]})
    with pytest.raises(UnknownSigningKey):
        counting.verify(token, "access", only_other_key, NOW)


def test_cache_is_bounded_and_evicts_the_oldest() -> None:
    counting = CountingVerifier(cache_size=2)
    keys = jwks()
    first, second, third = (minter().access(iat=NOW + i) for i in range(3))
    for token in (first, second, third):
        counting.verify(token, "access", keys, NOW)
    counting.verify(third, "access", keys, NOW)
    assert counting.uncached == 3
    counting.verify(first, "access", keys, NOW)  # evicted by the third
    assert counting.uncached == 4


# -- JwkSet.from_json ----------------------------------------------------------------------------


def test_jwks_keeps_only_usable_rs256_signing_keys() -> None:
    good = pool_key().public_jwk
    document = {"keys": [
        good,
        {**pool_key("enc").public_jwk, "use": "enc"},
        {**pool_key("rs512").public_jwk, "alg": "RS512"},
        {**pool_key("nokid").public_jwk, "kid": None},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "not-an-object",
    ]}
    assert set(JwkSet.from_json(document).keys) == {KID}


def test_jwks_key_without_use_or_alg_is_accepted() -> None:
    bare = {k: v for k, v in pool_key().public_jwk.items() if k not in ("use", "alg")}
    token = minter().access()
    assert verifier().verify(token, "access", JwkSet.from_json({"keys": [bare]}), NOW).raw == token


@pytest.mark.parametrize("document", [{"keys": "nope"}, {}, [], "text"])
def test_jwks_document_without_a_key_list_is_refused(document: Any) -> None:
    with pytest.raises(ValueError, match="JWKS document"):
        JwkSet.from_json(document)
