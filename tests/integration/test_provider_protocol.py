"""A provider of one's own (docs/extending.md, "A provider"): the manager asks it only for what
it offers. The page's refresh-only provider, for an app whose users sign in with Amplify JS in
the page, run as written: it reaches the real Cognito API (moto) through CognitoProvider's
refresh and revocation, and offers no sign-in and no global sign-out."""

from __future__ import annotations

import asyncio
import json
import types
from pathlib import Path

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
from tests.doc_examples import extending_doc_blocks, extending_doc_module
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import auth_cookies, value_of
from tests.integration.rig.seeds import sign_in_elsewhere

pytestmark = pytest.mark.anyio

HOUR = 3600.0


def documented_provider() -> types.ModuleType:
    """docs/extending.md's ``CountingRefresher``, the class exactly as the page shows it."""
    return extending_doc_module(extending_doc_blocks("## A provider")[:1])


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
    provider = documented_provider().CountingRefresher(config)
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


async def test_the_documented_provider_refreshes_once_for_requests_arriving_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both blocks of the page as a user runs them: the configuration from the environment (an
    amplify_outputs.json for the emulator's pool, SSRAUTH_ENDPOINT_URL at the emulator) and the
    manager on the real clock. The emulator mints the session's tokens two hours in the past,
    then comes back to now: they expired an hour ago, as a session left overnight does."""
    clock = ManualClock(-2 * HOUR)
    with CognitoEmulator(clock) as emulator:
        emulator.create_user("alice", PASSWORD)
        outputs = tmp_path / "amplify_outputs.json"
        outputs.write_text(json.dumps({"version": "1.3", "auth": {
            "aws_region": emulator.region,
            "user_pool_id": emulator.user_pool_id,
            "user_pool_client_id": emulator.client_id,
        }}))
        monkeypatch.setenv("SSRAUTH_AMPLIFY_OUTPUTS", str(outputs))
        monkeypatch.setenv("SSRAUTH_ENDPOINT_URL", emulator.url)
        monkeypatch.delenv("SSRAUTH_COORDINATOR", raising=False)
        page = extending_doc_module(extending_doc_blocks("## A provider"))

        with page.manager as manager:
            assert isinstance(manager.provider, page.CountingRefresher)
            browser = Browser(build_app(manager))
            with SessionManager(emulator.config(), clock=clock) as elsewhere:
                sign_in_elsewhere(browser.jar, elsewhere, "alice")
            clock.advance(2 * HOUR)
            emulator.reset_calls()

            responses = await asyncio.gather(*(browser.get("/api/me") for _ in range(5)))

            assert [r.json()["username"] for r in responses] == ["alice"] * 5
            assert manager.provider.refreshes == 1
            assert emulator.refresh_calls() == 1
            assert (await browser.get("/api/me")).json()["username"] == "alice"
            assert manager.provider.refreshes == 1


class RevokeRaises:
    """A provider of the app's own with a bug: its revocation raises something unexpected."""

    password_sign_in = None
    redirect_sign_in = None
    sign_out_everywhere = None
    jwks_locator = None

    def __init__(self, config: CognitoConfig) -> None:
        self.cognito = CognitoProvider(config)

    def refresh(self, refresh_token: str, username: str | None) -> TokenSet:
        return self.cognito.refresh(refresh_token, username)

    async def arefresh(self, refresh_token: str, username: str | None) -> TokenSet:
        return await self.cognito.arefresh(refresh_token, username)

    def end_session_url(self, id_token: str | None) -> str | None:
        return None

    def close(self) -> None:
        self.cognito.close()

    async def aclose(self) -> None:
        await self.cognito.aclose()

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
