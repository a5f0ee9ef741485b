"""Forged tokens never authenticate, and no cookie input, however broken or large, makes a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from ssrauth import Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.integration.rig.browsers import Browser
from tests.integration.rig.checks import assert_anonymous_not_an_error
from tests.integration.rig.cookies import (
    PREFIX,
    auth_cookies,
    cookie_name,
    last_auth_user,
    set_cookies,
    value_of,
)

pytestmark = pytest.mark.anyio

Claims = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: Claims, claims: Claims) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def claims_of(token: str) -> Claims:
    return jwt.decode(token, options={"verify_signature": False})


def moto_private_key() -> Any:
    """moto signs every pool's tokens with this key, shipped inside the package."""
    return jwt.algorithms.RSAAlgorithm.from_jwk(
        load_resource("cognitoidp/resources/jwks-private.json"))


def foreign_client_tokens(emulator: CognitoEmulator) -> dict[str, str]:
    """Genuine tokens, signed by the pool, but issued to another app client of the same pool."""
    client = emulator.call("CreateUserPoolClient", {
        "UserPoolId": emulator.user_pool_id, "ClientName": "another-app",
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]})
    result = emulator.call("InitiateAuth", {
        "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client["UserPoolClient"]["ClientId"],
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD}})
    tokens: dict[str, str] = result["AuthenticationResult"]
    return tokens


@dataclass(frozen=True)
class Genuine:
    """What an attacker starts from: alice's real tokens, and the claims they would like
    (everything copied, valid for a day from now)."""

    emulator: CognitoEmulator
    access: str
    id_token: str
    access_claims: Claims
    id_claims: Claims


def sign_both(g: Genuine, key: Any, changes: Claims) -> tuple[str, str]:
    def sign(claims: Claims) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": "dummy"})

    return sign(g.access_claims), sign(g.id_claims)


def other_rsa_key(g: Genuine) -> tuple[str, str]:
    """Signed with the attacker's own key under the pool's kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return sign_both(g, key, {})


def alg_none(g: Genuine) -> tuple[str, str]:
    header = {"alg": "none", "kid": "dummy", "typ": "JWT"}
    return unsigned(header, g.access_claims) + ".", unsigned(header, g.id_claims) + "."


def hs256_with_public_key(g: Genuine) -> tuple[str, str]:
    """The key-confusion attack: HMAC with the pool's public key as the secret."""
    jwks = httpx.get(g.emulator.config().jwks_url).json()
    public = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(claims: Claims) -> str:
        signing_input = unsigned({"alg": "HS256", "kid": "dummy", "typ": "JWT"}, claims)
        mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"

    return sign(g.access_claims), sign(g.id_claims)


def wrong_issuer(g: Genuine) -> tuple[str, str]:
    """Signed with the very key the JWKS publishes, but issued by another user pool."""
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_attackerpool"
    return sign_both(g, moto_private_key(), {"iss": issuer})


def tampered_payload(g: Genuine) -> tuple[str, str]:
    """A genuine signature over a payload that no longer says what was signed."""

    def tamper(token: str, claims: Claims) -> str:
        header, _, signature = token.split(".")
        return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"

    return tamper(g.access, g.access_claims), tamper(g.id_token, g.id_claims)


def another_client_id(g: Genuine) -> tuple[str, str]:
    tokens = foreign_client_tokens(g.emulator)
    return tokens["AccessToken"], tokens["IdToken"]


def id_token_as_access(g: Genuine) -> tuple[str, str]:
    """Genuine tokens in each other's cookie: token_use must be checked both ways."""
    return g.id_token, g.access


FORGERIES: dict[str, Callable[[Genuine], tuple[str, str]]] = {
    "other-rsa-key": other_rsa_key,
    "alg-none": alg_none,
    "hs256-public-key": hs256_with_public_key,
    "wrong-issuer": wrong_issuer,
    "tampered-payload": tampered_payload,
    "another-client-id": another_client_id,
    "id-token-as-access": id_token_as_access,
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_forged_tokens_never_authenticate(
    browser: Browser,
    emulator: CognitoEmulator,
    manager: SessionManager,
    clock: ManualClock,
    forgery: str,
) -> None:
    cid = emulator.client_id
    genuine = Browser(browser.app)
    await genuine.sign_in("alice")
    real_access = value_of(genuine.jar, cookie_name(cid, "alice", "accessToken"))
    real_id = value_of(genuine.jar, cookie_name(cid, "alice", "idToken"))
    now = int(clock.now())
    access, id_token = FORGERIES[forgery](Genuine(
        emulator, real_access, real_id,
        {**claims_of(real_access), "iat": now, "exp": now + 86_400},
        {**claims_of(real_id), "iat": now, "exp": now + 86_400}))
    # No refresh token: nothing but the forged tokens could make this request a user's.
    browser.jar.seed(last_auth_user(cid), "alice")
    browser.jar.seed(cookie_name(cid, "alice", "accessToken"), access)
    browser.jar.seed(cookie_name(cid, "alice", "idToken"), id_token)
    header_before = browser.cookie_header("/")

    me = await browser.get("/api/me", cookie_header=header_before)
    page = await browser.get("/", cookie_header=header_before)

    assert me.status_code == 401
    assert page.status_code == 200
    assert page.json()["user"] is None
    assert manager.events.count(Event.TOKEN_INVALID) >= 1
    # Tokens that can never verify are deleted, like any dead session.
    assert auth_cookies(browser.jar, cid) == []
    assert emulator.refresh_calls() == 0


async def test_forged_fresher_copy_does_not_displace_the_genuine_session(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    cid = emulator.client_id
    await browser.sign_in("alice")
    access_name = cookie_name(cid, "alice", "accessToken")
    genuine = value_of(browser.jar, access_name)
    claims = claims_of(genuine)
    # Later iat than the genuine token, and first in the Cookie header (longer path).
    forged_claims = {**claims, "iat": claims["iat"] + 30, "exp": claims["exp"] + 30,
                     "username": "alice", "sub": "00000000-0000-0000-0000-000000000000"}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(forged_claims, key, algorithm="RS256", headers={"kid": "dummy"})
    browser.jar.seed(access_name, forged, path="/orders")

    response = await browser.get("/orders/42")

    assert response.json()["user"] == "alice"
    assert [c.value for c in browser.jar.copies(access_name)] == [genuine]
    assert (await browser.get("/api/me")).json()["sub"] == claims["sub"]


async def test_unknown_signing_key_is_anonymous_and_cannot_hammer_the_jwks(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock
) -> None:
    cid = emulator.client_id
    await browser.sign_in("alice")
    fetched = manager.events.count(Event.JWKS_FETCHED)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = claims_of(value_of(browser.jar, cookie_name(cid, "alice", "accessToken")))
    forged = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "rotated-key-2"})
    header = f"{last_auth_user(cid)}=alice; {cookie_name(cid, 'alice', 'accessToken')}={forged}"

    statuses = {(await browser.get("/api/me", cookie_header=header)).status_code
                for _ in range(20)}

    assert statuses == {401}
    # An unknown kid may mean the pool rotated its keys: one refetch, then at most once a minute,
    # whatever the number of requests carrying it.
    assert manager.events.count(Event.JWKS_FETCHED) - fetched <= 1
    clock.advance(61)
    assert (await browser.get("/api/me", cookie_header=header)).status_code == 401
    assert manager.events.count(Event.JWKS_FETCHED) - fetched <= 2


GARBAGE = [
    "garbage",
    "",
    "a.b.c",
    "eyJ",
    "eyJhbGciOiJSUzI1NiJ9.%%%.x",
    "%E0%A4%A",
    '"quoted"',
    "x" * 5000,
    base64.b64encode(bytes(range(256))).decode(),
]


@pytest.mark.parametrize("value", GARBAGE, ids=range(len(GARBAGE)))
async def test_garbage_cookie_values_are_anonymous_not_errors(
    browser: Browser, emulator: CognitoEmulator, value: str
) -> None:
    cid = emulator.client_id
    header = "; ".join(f"{name}={value}" for name in (
        last_auth_user(cid), cookie_name(cid, "alice", "accessToken"),
        cookie_name(cid, "alice", "idToken"), cookie_name(cid, "alice", "refreshToken"),
        cookie_name(cid, "alice", "clockDrift"), cookie_name(cid, value[:20], "accessToken")))

    await assert_anonymous_not_an_error(browser, header)


async def test_a_100_kib_cookie_header_is_ignored_not_an_error(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager
) -> None:
    await browser.sign_in("alice")
    padding = "; ".join(f"tracker{i}={'x' * 90}" for i in range(1100))
    header = f"{browser.cookie_header('/')}; {padding}"
    assert len(header) > 100 * 1024

    me = await browser.get("/api/me", cookie_header=header)
    page = await browser.get("/", cookie_header=header)

    # No browser sends that much; it is not parsed, and no cookie is touched because of it.
    assert me.status_code == 401
    assert page.status_code == 200
    assert set_cookies(me) == set_cookies(page) == []
    assert manager.events.count(Event.BAD_REQUEST) == 2
    assert len(auth_cookies(browser.jar, emulator.client_id)) == 6


async def test_non_ascii_bytes_in_the_cookie_header(
    browser: Browser, emulator: CognitoEmulator
) -> None:
    cid = emulator.client_id
    await browser.sign_in("alice")
    session = browser.cookie_header("/").encode("latin-1")
    junk = [
        b"theme=\xff\xfe\x00dark",
        "lang=日本語".encode(),
        f"{PREFIX}.{cid}.".encode() + "älice".encode() + b".accessToken=\xc3\xa4",
        f"{PREFIX}.{cid}.%ZZ%E0.idToken=x".encode(),
        b"\x80\x81=\x82",
    ]
    header = b"; ".join([*junk[:3], session, *junk[3:]])

    me = await browser.get("/api/me", cookie_header=header)
    page = await browser.get("/", cookie_header=header)

    # Other apps' broken cookies never cost the user their session.
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert page.status_code == 200

    only_junk = await browser.get("/api/me", cookie_header=b"; ".join(junk))
    assert only_junk.status_code == 401


async def test_renaming_the_cookies_does_not_rename_the_user(
    browser: Browser, emulator: CognitoEmulator
) -> None:
    """Cookie names are storage, not identity: alice moving her own valid tokens under an
    ``admin`` family (LastAuthUser=admin) is still alice to the app."""
    await browser.sign_in("alice")
    cid = emulator.client_id
    fields = ("accessToken", "idToken", "refreshToken")
    alices = {field: value_of(browser.jar, cookie_name(cid, "alice", field)) for field in fields}
    renamed = "; ".join([f"{last_auth_user(cid)}=admin"] + [
        f"{cookie_name(cid, 'admin', field)}={value}" for field, value in alices.items()])

    me = await browser.get("/api/me", cookie_header=renamed)

    assert me.status_code == 200
    assert me.json()["username"] == "alice"


async def test_made_up_refresh_tokens_never_reach_cognito(
    browser: Browser, emulator: CognitoEmulator
) -> None:
    """Only a verified (if expired) access token earns a provider call, so a flood of invented
    refresh tokens cannot turn ssrauth into a way to hammer, or get throttled by, Cognito."""
    cid = emulator.client_id
    for n in range(20):
        header = "; ".join([
            f"{last_auth_user(cid)}=alice",
            f"{cookie_name(cid, 'alice', 'accessToken')}=not.a.token{n}",
            f"{cookie_name(cid, 'alice', 'refreshToken')}=made-up-{n}",
        ])
        assert (await browser.get("/api/me", cookie_header=header)).status_code == 401

    assert emulator.refresh_calls() == 0
    assert emulator.calls["GetTokensFromRefreshToken"] == 0
