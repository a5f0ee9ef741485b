"""A provider of one's own (docs/extending.md, "A provider"): the manager asks it only for what
it offers. Here a refresh-only provider, for an app whose users sign in with Amplify JS in the
page: it reaches the real Cognito API (moto) through CognitoProvider's refresh and revocation,
and offers no sign-in and no global sign-out."""

from __future__ import annotations

import pytest

from ssrauth import (
    CognitoConfig,
    CognitoProvider,
    ConfigError,
    ManualClock,
    OidcConfig,
    OidcProvider,
    Provider,
    SessionManager,
    TokenSet,
)
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import auth_cookies, value_of
from tests.integration.rig.seeds import sign_in_elsewhere

pytestmark = pytest.mark.anyio


class RefreshOnly:
    """Refreshes and revokes; every capability absent."""

    password_sign_in = None
    redirect_sign_in = None
    sign_out_everywhere = None
    jwks_locator = None

    def __init__(self, config: CognitoConfig) -> None:
        self.cognito = CognitoProvider(config)
        self.refreshes = 0

    def refresh(self, refresh_token: str, username: str | None) -> TokenSet:
        self.refreshes += 1
        return self.cognito.refresh(refresh_token, username)

    async def arefresh(self, refresh_token: str, username: str | None) -> TokenSet:
        self.refreshes += 1
        return await self.cognito.arefresh(refresh_token, username)

    def revoke(self, refresh_token: str) -> bool:
        return self.cognito.revoke(refresh_token)

    async def arevoke(self, refresh_token: str) -> bool:
        return await self.cognito.arevoke(refresh_token)

    def end_session_url(self, id_token: str | None) -> str | None:
        return None


def test_the_shipped_providers_say_what_they_offer(emulator: CognitoEmulator) -> None:
    cognito: Provider = CognitoProvider(emulator.config())
    assert cognito.password_sign_in is cognito
    assert cognito.sign_out_everywhere is cognito
    assert cognito.redirect_sign_in is None
    assert cognito.jwks_locator is None
    assert cognito.end_session_url("id-token") is None
    oidc: Provider = OidcProvider(OidcConfig(issuer="https://login.example.com",
                                             client_id="web", redirect_uri="https://app/cb"))
    assert oidc.redirect_sign_in is oidc
    assert oidc.jwks_locator is oidc
    assert oidc.password_sign_in is None
    assert oidc.sign_out_everywhere is None


async def test_a_refresh_only_provider_refreshes_and_signs_out_but_never_signs_in(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    config = emulator.config()
    provider = RefreshOnly(config)
    manager = SessionManager(config, clock=clock, provider=provider)
    browser = Browser(build_app(manager))
    sign_in_elsewhere(browser.jar, SessionManager(config, clock=clock), "alice")
    access = f"CognitoIdentityServiceProvider.{config.client_id}.alice.accessToken"
    before = value_of(browser.jar, access)

    clock.advance(3600)
    assert (await browser.get("/api/me")).json()["username"] == "alice"
    assert value_of(browser.jar, access) != before
    assert provider.refreshes == 1

    with pytest.raises(ConfigError, match="sign"):
        manager.load("", "/", "app.example.com").sign_in("alice", PASSWORD)

    # No global sign-out on offer: signed out here (tombstone, revocation, cookies deleted).
    assert (await browser.post("/signout", params={"everywhere": "true"})).status_code == 200
    assert auth_cookies(browser.jar, config.client_id) == []
    assert (await browser.get("/api/me")).status_code == 401


class RevokeRaises(RefreshOnly):
    """A provider of the app's own with a bug: its revocation raises something unexpected."""

    def revoke(self, refresh_token: str) -> bool:
        raise RuntimeError("bug in the app's provider")

    async def arevoke(self, refresh_token: str) -> bool:
        raise RuntimeError("bug in the app's provider")


async def test_a_provider_whose_revoke_raises_still_signs_the_user_out(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """Sign-out never fails for the user: the tombstone is written first, the cookies go, and
    the provider's bug is logged, never a 500 (docs/extending.md, "A provider")."""
    config = emulator.config()
    manager = SessionManager(config, clock=clock, provider=RevokeRaises(config))
    browser = Browser(build_app(manager))
    sign_in_elsewhere(browser.jar, SessionManager(config, clock=clock), "alice")
    kept = browser.cookie_header("/")

    assert (await browser.post("/signout")).status_code == 200
    assert auth_cookies(browser.jar, config.client_id) == []
    clock.advance(3600)  # a copy of the old cookies cannot refresh its way back
    assert (await browser.get("/api/me", cookie_header=kept)).status_code == 401
