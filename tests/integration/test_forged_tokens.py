"""The JWT attack suite's end-to-end slice: through the ASGI middleware, against moto's Cognito.

The browser holds alice's genuine refresh token and id token; the access token, the one that
authenticates, is the attacker's. Most forgeries are signed with the very key moto's pool
signs with, so only the rule under test stands in the way. None may authenticate, none may
make a 500, and none may earn a provider call: the emulator's refresh count stays 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto.utilities.utils import load_resource

from ssrauth import Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import auth_cookies, cookie_name, last_auth_user, value_of

pytestmark = pytest.mark.anyio

Claims = dict[str, Any]


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pool_key() -> rsa.RSAPrivateKey:
    """The private key moto signs every pool's tokens with (shipped inside the package)."""
    key = jwt.algorithms.RSAAlgorithm.from_jwk(
        load_resource("cognitoidp/resources/jwks-private.json"))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def signed(header: Claims | str, claims: Claims | str, key: rsa.RSAPrivateKey) -> str:
    """RS256 over exactly these JSON texts (raw text lets a forgery repeat a member)."""
    head = ".".join(b64(part if isinstance(part, str) else json.dumps(part))
                    for part in (header, claims))
    return f"{head}.{b64(key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


def hs256(header: Claims, claims: Claims, secret: bytes) -> str:
    head = f"{b64(json.dumps(header))}.{b64(json.dumps(claims))}"
    return f"{head}.{b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())}"

#: The attacker's own key, for the header-injection forgeries.
ATTACKER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Rig:
    """What an attacker holds: alice's genuine access token, its header and claims (made
    valid for a day from now), and the pool's published key."""

    def __init__(self, emulator: CognitoEmulator, access: str, now: int) -> None:
        self.access = access
        self.header: Claims = jwt.get_unverified_header(access)
        self.claims: Claims = {**jwt.decode(access, options={"verify_signature": False}),
                               "iat": now, "exp": now + 86_400}
        self.now = now
        self.jwk: Claims = httpx.get(emulator.config().jwks_url).json()["keys"][0]

    def pem(self) -> bytes:
        return jwt.PyJWK(self.jwk).key.public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, header: Claims | None = None, **claims: Any) -> str:
        return signed({**self.header, **(header or {})}, {**self.claims, **claims}, pool_key())

    def raw(self, members: str) -> str:
        """The genuine claims followed by ``members`` in the same JSON object."""
        return signed(self.header, json.dumps(self.claims)[:-1] + ", " + members + "}",
                      pool_key())

    def respelled(self, change: Callable[[str], str]) -> str:
        head, payload, signature = self.access.split(".")
        return f"{head}.{payload}.{change(signature)}"


ATTACKS: dict[str, Callable[[Rig], str]] = {
    **{f"alg-{spelling}": (lambda r, s=spelling: f"{b64(json.dumps({**r.header, 'alg': s}))}."
                                                 f"{b64(json.dumps(r.claims))}.")
       for spelling in ("none", "None", "NONE", "nOnE")},
    "hs256-keyed-with-the-public-pem": lambda r: hs256({**r.header, "alg": "HS256"}, r.claims,
                                                       r.pem()),
    "hs256-keyed-with-the-public-jwk": lambda r: hs256({**r.header, "alg": "HS256"}, r.claims,
                                                       json.dumps(r.jwk).encode()),
    "kid-path-traversal": lambda r: r.sign({"kid": "../../../../dev/null"}),
    "kid-sql": lambda r: r.sign({"kid": "' OR '1'='1"}),
    "kid-not-a-string": lambda r: r.sign({"kid": ["dummy"]}),
    "jwk-embedded": lambda r: signed(
        {**r.header, "jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER.public_key()))},
        r.claims, ATTACKER),
    "jku-to-attacker-keys": lambda r: signed({**r.header, "jku": "https://evil.example/k"},
                                             r.claims, ATTACKER),
    "crit-unknown-extension": lambda r: r.sign({"crit": ["urn:evil"], "urn:evil": True}),
    "wrong-issuer": lambda r: r.sign(iss="https://cognito-idp.us-east-1.amazonaws.com/x"),
    "wrong-client-id": lambda r: r.sign(client_id="another-app-client"),
    "wrong-token-use": lambda r: r.sign(token_use="id"),
    "not-yet-valid": lambda r: r.sign(nbf=r.now + 3600),
    "nbf-not-a-date": lambda r: r.sign(nbf="foobar"),
    "issued-in-the-future": lambda r: r.sign(iat=r.now + 3600),
    "exp-true": lambda r: r.sign(exp=True),
    "iat-true": lambda r: r.sign(iat=True),
    "exp-float": lambda r: r.sign(exp=r.now + 3600.5),
    "exp-negative": lambda r: r.sign(exp=-1),
    "exp-1e400": lambda r: r.raw('"nbf": 1e400'),
    "duplicate-exp": lambda r: r.raw('"exp": 9999999999'),
    "padded-signature": lambda r: r.respelled(lambda s: s + "=" * (-len(s) % 4)),
    "characters-inserted-into-signature": lambda r: r.respelled(lambda s: s[:40] + "!~" + s[40:]),
    "truncated-signature": lambda r: r.respelled(lambda s: s[:-6]),
    "standard-alphabet": lambda r: r.raw('"note": "~~~~~~"').replace("-", "+").replace("_", "/"),
}

#: Forgeries whose kid is a string naming no key of the pool.
NAMES_A_KEY_WE_LACK = {"kid-path-traversal", "kid-sql"}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_forged_access_token_beside_a_genuine_refresh_token_earns_nothing(
    browser: Browser,
    emulator: CognitoEmulator,
    manager: SessionManager,
    clock: ManualClock,
    attack: str,
) -> None:
    cid = emulator.client_id
    genuine = Browser(browser.app)
    await genuine.sign_in("alice")
    access = value_of(genuine.jar, cookie_name(cid, "alice", "accessToken"))
    forged = ATTACKS[attack](Rig(emulator, access, int(clock.now())))
    assert forged != access
    browser.jar.seed(last_auth_user(cid), "alice")
    browser.jar.seed(cookie_name(cid, "alice", "accessToken"), forged)
    for field in ("idToken", "refreshToken"):
        browser.jar.seed(cookie_name(cid, "alice", field),
                         value_of(genuine.jar, cookie_name(cid, "alice", field)))
    refreshes = emulator.refresh_calls()
    header = browser.cookie_header("/")

    me = await browser.get("/api/me", cookie_header=header)
    page = await browser.get("/", cookie_header=header)

    assert me.status_code == 401
    assert page.status_code == 200
    assert page.json()["user"] is None
    assert emulator.refresh_calls() == refreshes == 0
    if attack in NAMES_A_KEY_WE_LACK:
        # Maybe the pool rotated its keys: one JWKS fetch may be tried, never one per request.
        assert manager.events.count(Event.JWKS_FETCHED) <= 2
        return
    assert manager.events.count(Event.TOKEN_INVALID) >= 1
    # Nothing the server could verify: the session's cookies go, like any dead session's.
    assert auth_cookies(browser.jar, cid) == []
