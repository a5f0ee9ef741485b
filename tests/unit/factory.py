"""Shared builders for the pure-core tests: a user pool's signing key, Cognito-shaped tokens,
Amplify cookie headers and the decision core wired to them. No network, no moto.

Every test mints its own tokens here, so a test states the claims that matter to it (an ``exp``,
a wrong ``client_id``) and nothing else.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import strategies as st

from ssrauth import CognitoConfig, ProviderUnavailable, StaticKeys
from ssrauth._core.cookies import (
    CookiePolicy,
    SetCookie,
    encode_value,
    parse_set_cookie_target,
    render_set_cookie,
)
from ssrauth._core.keys import LAST_AUTH_USER, SESSION_FIELDS, AmplifyKeys
from ssrauth._core.session import SessionRules
from ssrauth._core.tokens import JwkSet, TokenSet
from ssrauth._core.verify import TokenVerifier
from tests.browser_jar import BrowserJar

REGION = "eu-west-1"
POOL_ID = f"{REGION}_TestPool1"
CLIENT_ID = "5testclient0id0abcdefghijk"
OTHER_CLIENT_ID = "7otherclient0id0zyxwvutsrq"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
KID = "k1"
HOST = "app.example.com"
#: A fixed "now" (2023-11-14): decisions take the time as an argument, so no clock is needed.
NOW = 1_700_000_000
#: Cognito's default access/id token lifetime.
TOKEN_LIFETIME = 3600
#: What Amplify stores in signInDetails after an SRP sign-in (JSON, before js-cookie encoding).
SIGN_IN_DETAILS = '{"loginId":"a@b.com","authFlowType":"USER_SRP_AUTH"}'

KEYS = AmplifyKeys(CLIENT_ID)
OTHER_KEYS = AmplifyKeys(OTHER_CLIENT_ID)

#: Any character a str can hold except lone surrogates, which no HTTP header decodes to.
UNICODE = st.characters(codec="utf-8")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_jwt(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes) -> str:
    """Assemble a JWT by hand, for tokens PyJWT refuses to produce (key-confusion forgeries)."""
    return ".".join(
        (
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        )
    )


def unsigned_token(claims: Mapping[str, Any]) -> str:
    """The ``alg: none`` forgery: genuine-looking claims and no signature at all."""
    return compact_jwt({"alg": "none", "kid": KID, "typ": "JWT"}, claims, b"")


@dataclass(frozen=True)
class PoolKey:
    """One RSA signing key of a user pool, as Cognito publishes it under ``kid``."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
            self.private_key.public_key()
        ))
        # The fields Cognito's /.well-known/jwks.json carries for each key.
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> JwkSet:
        return JwkSet.from_json({"keys": [self.public_jwk]})


@functools.cache
def pool_key(kid: str = KID, seed: int = 0) -> PoolKey:
    """An RSA key, generated once per (kid, seed) for the whole run: keygen costs ~50 ms.

    ``seed`` only tells keys apart: ``pool_key(KID, 1)`` is an attacker's key under our kid.
    """
    del seed  # distinct cache entries are all we need from it
    return PoolKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def jwks() -> JwkSet:
    """The key set of the test pool (one key, ``KID``); a fresh object each call."""
    return pool_key().jwks()


@dataclass(frozen=True)
class Minter:
    """Signs Cognito-shaped tokens for one pool and app client."""

    key: PoolKey
    issuer: str = ISSUER
    client_id: str = CLIENT_ID

    def claims(self, use: str, username: str, /, **overrides: Any) -> dict[str, Any]:
        """Cognito's claims for an ``"access"`` or ``"id"`` token.

        ``overrides`` replace claims and ``None`` drops one. ``iat`` defaults to ``NOW`` and
        ``exp`` to ``iat`` + one hour.
        """
        iat = overrides.get("iat")
        iat = iat if isinstance(iat, int) else NOW
        sub = overrides.get("sub") or f"sub-{username}"
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "token_use": use,
            "iat": iat,
            "exp": iat + TOKEN_LIFETIME,
            "auth_time": iat,
            "origin_jti": f"origin-{sub}",
            "jti": str(uuid.uuid4()),  # distinct tokens even with equal claims
        }
        if use == "access":
            claims |= {"client_id": self.client_id, "username": username, "scope": "aws.cognito"}
        else:
            claims |= {"aud": self.client_id, "cognito:username": username,
                       "email": f"{username}@mail.test"}
        merged = {**claims, **overrides}
        return {k: v for k, v in merged.items() if v is not None}

    def sign(self, claims: Mapping[str, Any], **header: Any) -> str:
        return jwt.encode(dict(claims), self.key.private_key, algorithm="RS256",
                          headers={"kid": self.key.kid, **header})

    def access(self, username: str = "alice", **claims: Any) -> str:
        """A signed access token; see :meth:`claims` for the defaults and overrides."""
        return self.sign(self.claims("access", username, **claims))

    def id(self, username: str = "alice", **claims: Any) -> str:
        """A signed id token; see :meth:`claims` for the defaults and overrides."""
        return self.sign(self.claims("id", username, **claims))

    def token_set(self, username: str = "alice", *, iat: int = NOW,
                  refresh_token: str | None = None) -> TokenSet:
        """What Cognito answers a sign-in or refresh with: fresh access, id and refresh tokens."""
        return TokenSet(
            access_token=self.access(username, iat=iat),
            id_token=self.id(username, iat=iat),
            refresh_token=refresh_token or f"refresh-{username}-{uuid.uuid4().hex}",
        )


def minter() -> Minter:
    """Tokens the test pool really issued to the test client."""
    return Minter(pool_key())


def verifier() -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, client_id=CLIENT_ID)


def rules(policy: CookiePolicy | None = None) -> SessionRules:
    """The decision core for the test client, with a fresh verification cache."""
    return SessionRules(keys=KEYS, verifier=verifier(), policy=policy or CookiePolicy())


# -- Amplify cookies -------------------------------------------------------------------------------


def amplify_cookies(
    username: str,
    *,
    access: str | None = None,
    id_token: str | None = None,
    refresh: str | None = None,
    clock_drift: str | None = None,
    sign_in_details: str | None = None,
    last_auth_user: str | None = "",
    keys: AmplifyKeys = KEYS,
) -> list[tuple[str, str]]:
    """The (name, value) pairs Amplify JS stores for a signed-in ``username``, encoded like
    js-cookie. ``last_auth_user=""`` means ``username``; ``None`` leaves the cookie out."""
    pairs: list[tuple[str, str]] = []
    if last_auth_user is not None:
        pairs.append((keys.last_auth_user_name, encode_value(last_auth_user or username)))
    fields = {"accessToken": access, "idToken": id_token, "refreshToken": refresh,
              "clockDrift": clock_drift, "signInDetails": sign_in_details}
    pairs += [(keys.name(username, field), encode_value(value))
              for field, value in fields.items() if value is not None]
    return pairs


def cookie_header(pairs: Iterable[tuple[str, str]]) -> str:
    return "; ".join(f"{name}={value}" for name, value in pairs)


def signed_in_header(username: str = "alice", *, iat: int = NOW, **fields: Any) -> str:
    """The Cookie header of a browser where ``username`` signed in at ``iat``."""
    tokens = minter()
    defaults: dict[str, Any] = {
        "access": tokens.access(username, iat=iat),
        "id_token": tokens.id(username, iat=iat),
        "refresh": f"refresh-{username}",
        "clock_drift": "0",
    }
    return cookie_header(amplify_cookies(username, **{**defaults, **fields}))


# -- plans and jars --------------------------------------------------------------------------------


def render(plan: Iterable[SetCookie], policy: CookiePolicy) -> list[str]:
    return [render_set_cookie(cookie, policy) for cookie in plan]


def duplicate_targets(lines: Iterable[str], request_path: str) -> list[tuple[str, str | None, str]]:
    """Cookie identities that one response sets more than once (must always be empty)."""
    seen: set[tuple[str, str | None, str]] = set()
    repeated = []
    for line in lines:
        target = parse_set_cookie_target(line, request_path)
        if target in seen:
            repeated.append(target)
        seen.add(target)
    return repeated


def jar_with(pairs: Iterable[tuple[str, str]], *, path: str = "/", host: str = HOST) -> BrowserJar:
    jar = BrowserJar(host)
    for name, value in pairs:
        jar.seed(name, value, path=path)
    return jar


def visible_values(jar: BrowserJar, path: str) -> dict[str, list[str]]:
    """Name → values the browser would send on a request to ``path``."""
    values: dict[str, list[str]] = {}
    for cookie in jar.visible(path):
        values.setdefault(cookie.name, []).append(cookie.value)
    return values


def clone(jar: BrowserJar) -> BrowserJar:
    """An independent copy: the jar replaces stored cookies and never mutates them in place."""
    copy = BrowserJar(jar.host)
    copy.cookies = list(jar.cookies)
    return copy


def auth_copies(jar: BrowserJar, path: str | None = None,
                keys: AmplifyKeys = KEYS) -> list[tuple[str | None, str, str]]:
    """(username, field, value) of each copy of ``keys``' cookies the jar holds, all of them or
    only those visible on ``path``."""
    cookies = jar.cookies if path is None else jar.visible(path)
    copies = []
    for cookie in cookies:
        name = keys.classify(cookie.name)
        if name is not None:
            copies.append((name.username, name.field, cookie.value))
    return copies


def session_cookies(jar: BrowserJar, path: str = "/") -> list[tuple[str | None, str]]:
    """(username, field) of each visible copy a sign-out must remove: every user's session
    fields and LastAuthUser (remembered-device keys stay, as in Amplify)."""
    return [(user, field) for user, field, _ in auth_copies(jar, path)
            if field in SESSION_FIELDS or field == LAST_AUTH_USER]


# -- concurrency -----------------------------------------------------------------------------------


class CallCounter:
    """A thread-safe counter for "the provider was called N times" assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def increment(self) -> int:
        with self._lock:
            self.count += 1
            return self.count


# -- key sources -----------------------------------------------------------------------------------


class CountingKeys(StaticKeys):
    """A JWKS endpoint in memory (an injected :class:`~ssrauth.KeyFetcher`): serves the pool's
    published keys, counts the fetches, and fails while ``down``."""

    def __init__(self, *keys: PoolKey) -> None:
        super().__init__({"keys": [key.public_jwk for key in keys or (pool_key(),)]})
        self.fetches = CallCounter()
        self.down = False

    def publish(self, *keys: PoolKey) -> None:
        """Rotate: the endpoint serves these keys from now on."""
        self.document = {"keys": [key.public_jwk for key in keys]}

    def fetch_document(self) -> Mapping[str, Any]:
        self.fetches.increment()
        if self.down:
            raise ProviderUnavailable("JWKS fetch failed: the test's endpoint is down")
        return self.document

    async def afetch_document(self) -> Mapping[str, Any]:
        return self.fetch_document()


def cognito_config() -> CognitoConfig:
    """The test pool's configuration (its JWKS URL is never fetched where keys are injected)."""
    return CognitoConfig(user_pool_id=POOL_ID, client_id=CLIENT_ID)


class StoppedClock:
    """A :class:`~ssrauth.Clock` that moves only when told (``ManualClock`` keeps running with
    the wall clock): intervals in the pure-edge tests are clock steps, exact to the step."""

    def __init__(self, now: float = NOW) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
