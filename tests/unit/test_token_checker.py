"""Verifying one token outside any session (``ssrauth.TokenChecker``): claims or a typed reason,
keys from an injected source, both faces. The clock is a ``ManualClock``."""

from __future__ import annotations

import pytest

from ssrauth import (
    ExpiredToken,
    InvalidToken,
    JwksSource,
    OidcConfig,
    ProviderUnavailable,
    StaticKeys,
    TokenChecker,
    UnknownSigningKey,
)
from ssrauth._providers.jwks import DEFAULT_REFETCH_INTERVAL
from tests.unit import oidc_factory as oidc
from tests.unit.factory import (
    CLIENT_ID,
    NOW,
    OTHER_CLIENT_ID,
    TOKEN_LIFETIME,
    CountingKeys,
    Minter,
    StoppedClock,
    cognito_config,
    minter,
    pool_key,
)


def checker_over(keys: CountingKeys, clock: StoppedClock) -> TokenChecker:
    return TokenChecker(cognito_config(), keys=JwksSource(keys), clock=clock)


def test_a_valid_access_token_answers_its_claims_after_one_fetch() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW + 10)
    checker = checker_over(keys, clock)

    checked = checker.check(minter().access("alice"))
    again = checker.check(minter().access("alice"))

    assert (checked.token_use, checked.username, checked.claims["client_id"]) == (
        "access", "alice", CLIENT_ID)
    assert again.username == "alice"
    assert keys.fetches.count == 1


def test_an_id_token_is_checked_as_one() -> None:
    checker = checker_over(CountingKeys(), StoppedClock(NOW + 10))

    assert checker.check(minter().id("alice"), use="id").claims["aud"] == CLIENT_ID
    with pytest.raises(InvalidToken):
        checker.check(minter().id("alice"))  # Cognito's default: the access token


def test_an_expired_token_says_so() -> None:
    checker = checker_over(CountingKeys(), StoppedClock(NOW + TOKEN_LIFETIME))

    with pytest.raises(ExpiredToken) as expired:
        checker.check(minter().access("alice"))
    assert expired.value.exp == NOW + TOKEN_LIFETIME


def test_another_clients_token_is_refused_with_a_reason() -> None:
    checker = checker_over(CountingKeys(), StoppedClock(NOW + 10))
    foreign = Minter(pool_key(), client_id=OTHER_CLIENT_ID).access("alice")

    with pytest.raises(InvalidToken) as refused:
        checker.check(foreign)
    assert refused.value.reason == "access token was issued to another app client"


def test_a_rotated_key_verifies_within_the_refetch_interval() -> None:
    old, new = pool_key(), pool_key("k2")
    keys, clock = CountingKeys(old), StoppedClock(NOW + 10)
    checker = checker_over(keys, clock)
    checker.check(Minter(old).access())
    keys.publish(old, new)
    token = Minter(new).access()
    clock.advance(1)

    with pytest.raises(UnknownSigningKey):
        checker.check(token)  # fetched a second ago: not yet
    clock.advance(DEFAULT_REFETCH_INTERVAL)
    assert checker.check(token).username == "alice"
    assert keys.fetches.count == 2


def test_keys_out_of_reach_leave_the_token_unjudged_until_a_retry_gets_them() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW + 10)
    checker = checker_over(keys, clock)
    keys.down = True

    with pytest.raises(ProviderUnavailable):
        checker.check(minter().access())
    with pytest.raises(ProviderUnavailable):
        checker.check(minter().access())  # the retry is not due: no second fetch
    keys.down = False
    clock.advance(0.5)

    assert checker.check(minter().access()).username == "alice"
    assert keys.fetches.count == 2


@pytest.mark.anyio
async def test_the_async_face_answers_the_same() -> None:
    keys = CountingKeys()
    async with checker_over(keys, StoppedClock(NOW + 10)) as checker:
        checked = await checker.acheck(minter().access("bob"))

    assert checked.username == "bob"
    assert keys.fetches.count == 1


def test_an_openid_connect_checker_verifies_id_tokens_by_their_own_algorithm() -> None:
    document = {"keys": [oidc.jwk(oidc.RSA_KEY, "r1"), oidc.jwk(oidc.EC_KEY, "e1")]}
    config = OidcConfig(issuer=oidc.ISSUER, client_id=oidc.CLIENT)
    with TokenChecker(config, keys=JwksSource(StaticKeys(document)),
                      clock=StoppedClock(oidc.NOW + 10)) as checker:
        by_ec = checker.check(oidc.id_token(oidc.EC_KEY, "e1", "ES256"))
        by_rsa = checker.check(oidc.id_token())

        with pytest.raises(InvalidToken):
            checker.check(oidc.id_token(aud="another-app"))

    assert (by_ec.token_use, by_ec.claims["sub"], by_rsa.claims["sub"]) == ("id", "alice", "alice")
