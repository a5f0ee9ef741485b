"""OpenID Connect values for unit tests: an issuer with an RSA and an EC signing key (and an HMAC
entry that must never be used), id tokens signed by them, and the decision core under OidcRules
with Cookie headers built by hand."""

from __future__ import annotations

import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ssrauth._core.cookies import CookiePolicy, encode_value
from ssrauth._core.keys import OIDC_SESSION_FIELDS, AmplifyKeys
from ssrauth._core.plan import RequestTarget
from ssrauth._core.rules import OidcRules
from ssrauth._core.session import SessionRules
from ssrauth._core.tokens import JwkSet
from ssrauth._core.verify import TokenVerifier

ISSUER = "https://idp.example"
CLIENT = "web-app"
NOW = 1_700_000_000
TARGET = RequestTarget("/", "app.example.com")
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(key: Any, kid: str, **extra: str) -> dict[str, Any]:
    """The public half of ``key`` as a JWKS entry."""
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else (
        jwt.algorithms.ECAlgorithm)
    entry: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**entry, "kid": kid, "use": "sig", **extra}


JWKS = JwkSet.from_json({"keys": [jwk(RSA_KEY, "r1"), jwk(EC_KEY, "e1"),
                                  {"kty": "oct", "k": "c2VjcmV0", "kid": "h1"}]},
                        OidcRules(CLIENT).algorithms)


def id_token(key: Any = RSA_KEY, kid: str = "r1", alg: str = "RS256", **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "alice", "iat": NOW, "exp": NOW + 300,
            "email": "alice@example.com", **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, alg,
                      headers={"kid": kid})


def verifier(audience: str | None = None) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, client_id=CLIENT, rules=OidcRules(CLIENT, audience))


KEYS = AmplifyKeys(CLIENT, prefix="ssrauth", session_fields=OIDC_SESSION_FIELDS)


def core() -> SessionRules:
    return SessionRules(keys=KEYS, verifier=verifier(), policy=CookiePolicy())


def header(**fields: str) -> str:
    parts = [f"ssrauth.{CLIENT}.LastAuthUser=alice"]
    parts += [f"ssrauth.{CLIENT}.alice.{k}={encode_value(v)}" for k, v in fields.items()]
    return "; ".join(parts)
