"""ssrauth against a real OpenID Connect provider (oidc-provider 9.13 on loopback), through the
ASGI middleware and a browser's cookie jar: sign-in by redirect, one refresh for a burst,
rotation with late requests, revocation, outages, sign-out and forged tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ssrauth import ManualClock, SessionManager
from tests.accounts import HOST
from tests.integration.oidc.idp import AT_TTL, CLIENT_ID, TestIdp
from tests.integration.oidc.oidc_app import PREFIX, expired_burst, log_in
from tests.integration.rig.browsers import Browser
from tests.integration.rig.checks import (
    assert_anonymous_not_an_error,
    assert_canonical,
    assert_served_through_an_outage,
)
from tests.integration.rig.cookies import (
    attributes,
    jar_state,
    set_cookies,
    value_of,
    written_value,
)

pytestmark = pytest.mark.anyio

FIELDS = ("accessToken", "idToken", "refreshToken", "clockDrift", "expiresAt")
NAMES = [f"{PREFIX}.LastAuthUser"] + [f"{PREFIX}.alice.{f}" for f in FIELDS]
REFRESH = "token:refresh_token"


def ours(browser: Browser) -> list[str]:
    return sorted(c.name for c in browser.jar.cookies if c.name.startswith(PREFIX + "."))


def field(browser: Browser, name: str) -> str:
    return value_of(browser.jar, f"{PREFIX}.alice.{name}")


async def test_sign_in_by_redirect_writes_one_session_and_drops_the_state(
    browser: Browser, idp: TestIdp
) -> None:
    start = await browser.get("/login?return_to=/orders/7")
    (state_line,) = set_cookies(start)
    assert state_line.startswith("__Host-ssrauth-signin=")
    assert attributes(state_line).keys() >= {"httponly", "secure", "path", "samesite"}
    assert attributes(state_line)["path"] == "/"
    assert "domain" not in attributes(state_line)
    back = idp.login(start.headers["location"])
    done = await browser.get(back.removeprefix(f"https://{HOST}"))
    assert done.status_code == 303
    assert done.headers["location"] == "/orders/7"
    assert ours(browser) == sorted(NAMES)
    assert_canonical(browser.jar, NAMES)
    assert not browser.jar.copies("__Host-ssrauth-signin")
    me = (await browser.get("/api/me")).json()
    assert me["sub"] == "alice"
    assert me["email"] == "alice@example.com"
    assert me["access_token"] == field(browser, "accessToken")


async def test_open_redirects_are_not_followed(browser: Browser, idp: TestIdp) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        await log_in(browser, idp, return_to=target, lands_on="/")


async def test_an_expired_session_and_twenty_requests_make_one_refresh(
    browser: Browser, idp: TestIdp, clock: ManualClock
) -> None:
    await log_in(browser, idp)
    old_refresh = field(browser, "refreshToken")
    answers = await expired_burst(browser, idp, clock)
    written = {written_value(set_cookies(a), f"{PREFIX}.alice.accessToken") for a in answers}
    assert len(written) == 1
    assert field(browser, "refreshToken") != old_refresh  # oidc-provider always rotates
    assert_canonical(browser.jar, NAMES)
    for _ in range(3):  # the refreshed session is settled again: no refresh per request
        assert (await browser.get("/api/me")).status_code == 200
    assert idp.proxy.count(REFRESH) == 1


async def test_a_late_request_with_the_rotated_away_token_shares_the_refresh(
    browser: Browser, idp: TestIdp, clock: ManualClock
) -> None:
    """The tab that missed the Set-Cookie sends the old refresh token: it gets the new tokens
    from the grace window, and the IdP never sees the old token again (reuse detection there
    would revoke the whole grant)."""
    await log_in(browser, idp)
    clock.advance(AT_TTL + 5)
    stale = browser.cookie_header("/")
    first = await browser.get("/api/me")
    assert first.status_code == 200
    new_access = field(browser, "accessToken")
    idp.reset_counts()
    late = await browser.get("/api/me", cookie_header=stale)
    assert late.status_code == 200
    assert written_value(set_cookies(late), f"{PREFIX}.alice.accessToken") == new_access
    assert idp.proxy.count(REFRESH) == 0
    clock.advance(AT_TTL + 5)
    again = await browser.get("/api/me")
    assert again.status_code == 200, "the grant survived: no reuse was detected"
    assert idp.proxy.count(REFRESH) == 1


async def test_a_grant_revoked_at_the_idp_clears_the_cookies_once(
    browser: Browser, idp: TestIdp, clock: ManualClock
) -> None:
    await log_in(browser, idp)
    idp.revoke(field(browser, "refreshToken"))
    clock.advance(AT_TTL + 5)
    gone = await browser.get("/api/me")
    assert gone.status_code == 401
    assert ours(browser) == []
    after = await browser.get("/")
    assert "set-cookie" not in after.headers
    assert after.json()["user"] is None


@pytest.mark.parametrize("outage", [500, 503, "closed port"])
async def test_an_idp_outage_keeps_the_session(
    browser: Browser, idp: TestIdp, clock: ManualClock, outage: int | str
) -> None:
    await log_in(browser, idp)
    before = jar_state(browser.jar)
    clock.advance(AT_TTL + 5)
    if isinstance(outage, int):
        idp.proxy.fail_with = outage
    else:
        idp.proxy.close()
    try:
        api, page = await browser.get("/api/me"), await browser.get("/")
    finally:
        idp.proxy.fail_with = None
        if not isinstance(outage, int):
            idp.proxy.reopen()
    assert_served_through_an_outage(api, page)
    assert jar_state(browser.jar) == before
    assert (await browser.get("/api/me")).status_code == 200  # back: refreshed, still signed in


async def test_sign_out_revokes_at_the_idp_and_a_stale_copy_stays_out(
    browser: Browser, idp: TestIdp
) -> None:
    await log_in(browser, idp)
    stale = browser.cookie_header("/")
    refresh_token = field(browser, "refreshToken")
    idp.reset_counts()
    out = await browser.post("/signout")
    assert out.json()["logout"].startswith(f"{idp.issuer}/session/end?")
    assert idp.proxy.count("/token/revocation") == 1
    assert ours(browser) == []
    replay = await browser.get("/api/me", cookie_header=stale)
    assert replay.status_code == 401
    assert all("Max-Age=0" in line for line in set_cookies(replay))
    assert ours(browser) == []
    assert idp.refresh_directly(refresh_token).json()["error"] == "invalid_grant"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forgeries(idp: TestIdp) -> dict[str, str]:
    """id tokens an attacker could bring; only the dev key pair's are correctly signed."""
    dev = idp.dev_signing_key()
    kid = dev.get("kid", "keystore-CHANGE-ME")
    dev_key = jwt.PyJWK(dev, algorithm="RS256").key
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": "alice", "aud": CLIENT_ID, "iss": idp.issuer, "iat": now, "exp": now + 600}
    public_pem = dev_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    hs_input = f"{_b64({'alg': 'HS256', 'kid': kid})}.{_b64(claims)}"
    hs_signature = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()
    return {
        "our kid, another key": jwt.encode(claims, own, "RS256", headers={"kid": kid}),
        "wrong aud": jwt.encode({**claims, "aud": "another-client"}, dev_key, "RS256",
                                headers={"kid": kid}),
        "wrong iss": jwt.encode({**claims, "iss": "https://evil.example"}, dev_key, "RS256",
                                headers={"kid": kid}),
        "alg none": f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(claims)}.",
        "HS256 with the public key": hs_input + "." + base64.urlsafe_b64encode(
            hs_signature).rstrip(b"=").decode(),
        "not a JWT": "garbage",
        "exp as a string": jwt.encode({**claims, "exp": str(now + 600)}, dev_key, "RS256",
                                      headers={"kid": kid}),
    }


async def test_forged_id_tokens_are_anonymous_and_earn_no_provider_call(
    browser: Browser, idp: TestIdp
) -> None:
    await log_in(browser, idp)  # warms discovery and the JWKS: forgeries meet real keys
    real = field(browser, "idToken")
    header_b, payload_b, signature = real.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b + "=="))
    tampered = f"{header_b}.{_b64({**payload, 'sub': 'mallory'})}.{signature}"
    forgeries = {**_forgeries(idp), "tampered claims": tampered}
    idp.reset_counts()
    for name, forged in forgeries.items():
        header = (f"{PREFIX}.LastAuthUser=alice; {PREFIX}.alice.idToken={forged}; "
                  f"{PREFIX}.alice.accessToken=attacker-chosen; "
                  f"{PREFIX}.alice.refreshToken=whatever")
        try:
            await assert_anonymous_not_an_error(browser, header)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
    assert idp.proxy.count(REFRESH) == 0


async def test_an_opaque_access_token_proves_nothing_beyond_the_id_token(
    browser: Browser, idp: TestIdp
) -> None:
    """A cookie pairing someone's real id token with a made-up access token: the identity is
    the id token's and nothing else; the access token is carried, never believed."""
    await log_in(browser, idp)
    header = (f"{PREFIX}.LastAuthUser=alice; {PREFIX}.alice.idToken={field(browser, 'idToken')}; "
              f"{PREFIX}.alice.accessToken=attacker-chosen; "
              f"{PREFIX}.alice.expiresAt={int(time.time()) + 600}")
    me = await browser.get("/api/me", cookie_header=header)
    assert me.json() == {"sub": "alice", "email": "alice@example.com",
                         "access_token": "attacker-chosen"}


async def test_a_callback_without_this_browsers_state_makes_no_session(
    browser: Browser, idp: TestIdp
) -> None:
    start = await browser.get("/login")
    back = idp.login(start.headers["location"])
    forged = back.replace("state=", "state=x")
    refused = await browser.get(forged.removeprefix(f"https://{HOST}"))
    assert refused.status_code == 400
    assert "state" in refused.json()["error"]
    assert ours(browser) == []
    # Login CSRF: an attacker's own (valid) callback sent to a victim who began no sign-in.
    victim = Browser(browser.app)
    csrf = await victim.get(back.removeprefix(f"https://{HOST}"))
    assert csrf.status_code == 400
    assert not [c for c in victim.jar.cookies if c.name.startswith(PREFIX)]


async def test_a_replayed_code_is_refused_and_makes_no_session(
    browser: Browser, idp: TestIdp
) -> None:
    start = await browser.get("/login")
    state_cookie = browser.jar.copies("__Host-ssrauth-signin")[0].value
    back = idp.login(start.headers["location"]).removeprefix(f"https://{HOST}")
    assert (await browser.get(back)).status_code == 303
    again = await browser.get(back)
    assert again.status_code == 400  # the state was used up with the first callback
    other = Browser(browser.app)
    other.jar.apply([f"__Host-ssrauth-signin={state_cookie}; Path=/; Secure"])
    replayed = await other.get(back)  # state and verifier stolen too: the IdP refuses the code
    assert replayed.status_code == 400
    assert "invalid_grant" in replayed.json()["error"]
    assert not [c for c in other.jar.cookies if c.name.startswith(PREFIX)]


async def test_a_signed_in_session_needs_no_idp_call_per_request(
    browser: Browser, idp: TestIdp, manager: SessionManager
) -> None:
    await log_in(browser, idp)
    idp.reset_counts()
    for _ in range(5):
        assert (await browser.get("/api/me")).status_code == 200
    assert sum(idp.proxy.calls.values()) == 0
    assert manager.keys.prefix == PREFIX + "."


async def test_a_forged_error_callback_cannot_put_line_breaks_in_the_sign_in_error(
    browser: Browser
) -> None:
    """``error`` and ``error_description`` come from whoever wrote the link: the SignInError
    an app logs (or shows) must not carry their line breaks (forged log lines)."""
    answer = await browser.get("/callback", params={
        "error": "access_denied\r\nINFO forged", "error_description": "x\n" + "y" * 5000})
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert "\n" not in message
    assert "\r" not in message
    assert "access_denied" in message
    assert len(message) < 1000
