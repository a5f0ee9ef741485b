"""Every provider and JWKS error names the endpoint it tried, and nothing it carried: an operator
reading "refresh failed" in a log sees where the call went (a wrong region, a proxy, an emulator
left in the config). Real failures on loopback: a closed port, a server that never answers, 5xx,
a page that is not JSON, a JWKS URL that answers 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssrauth import (
    CognitoProvider,
    ManualClock,
    ProviderRejected,
    ProviderUnavailable,
    SessionManager,
)
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.outages import FlakyCognito, flaky_config

pytestmark = pytest.mark.anyio

REFRESH_TOKEN = "a-refresh-token-never-to-be-logged"
#: What each failure says besides the endpoint.
FAILURES = {
    "refused": "GetTokensFromRefreshToken failed at",
    "timeout": "GetTokensFromRefreshToken timed out at",
    "http500": "answered HTTP 500",
    "html502": "answered HTTP 502",
    "throttled": "answered HTTP 400",
    "html200": "answer is not a JSON object",
}


@pytest.fixture
def provider(emulator: CognitoEmulator, flaky: FlakyCognito) -> Iterator[CognitoProvider]:
    cognito = CognitoProvider(flaky_config(emulator, flaky))
    yield cognito
    cognito.close()


def raised_by_refresh(provider: CognitoProvider) -> str:
    with pytest.raises(ProviderUnavailable) as raised:
        provider.refresh(REFRESH_TOKEN, "alice")
    return str(raised.value)


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_cognito_failure_names_the_endpoint(
    provider: CognitoProvider, flaky: FlakyCognito, failure: str
) -> None:
    flaky.set_mode(failure)

    message = raised_by_refresh(provider)

    assert f"{flaky.url}/" in message
    assert FAILURES[failure] in message
    assert REFRESH_TOKEN not in message


async def test_the_async_face_names_the_endpoint_too(
    provider: CognitoProvider, flaky: FlakyCognito
) -> None:
    flaky.set_mode("refused")

    with pytest.raises(ProviderUnavailable) as raised:
        await provider.arefresh(REFRESH_TOKEN, "alice")

    assert f"GetTokensFromRefreshToken failed at {flaky.url}/: ConnectError" == str(raised.value)


def test_a_rejection_names_the_endpoint(provider: CognitoProvider, flaky: FlakyCognito) -> None:
    flaky.set_mode("error:NotAuthorizedException")

    with pytest.raises(ProviderRejected) as raised:
        provider.refresh(REFRESH_TOKEN, "alice")

    assert str(raised.value) == ("NotAuthorizedException: NotAuthorizedException from the test "
                                 f"(GetTokensFromRefreshToken at {flaky.url}/)")


@pytest.mark.parametrize(("failure", "said"), [
    ("refused", "JWKS fetch failed at"),
    ("http404", "answered HTTP 404"),
    ("html200", "document unusable"),
])
async def test_a_jwks_failure_names_the_jwks_url(
    emulator: CognitoEmulator, flaky: FlakyCognito, clock: ManualClock,
    failure: str, said: str,
) -> None:
    flaky.set_mode(failure)
    jwks_url = f"{flaky.url}/pool/.well-known/jwks.json"
    config = emulator.config(jwks_url=jwks_url + "?key=secret-api-key", timeout=1.5)

    async with SessionManager(config, clock=clock) as manager:
        with pytest.raises(ProviderUnavailable) as blocking:
            manager.jwks.fetch()
        clock.advance(120)  # past the refetch interval
        with pytest.raises(ProviderUnavailable) as awaited:
            await manager.jwks.afetch()

    for error in (blocking.value, awaited.value):
        assert jwks_url in str(error)
        assert said in str(error)
        assert "secret-api-key" not in str(error)
