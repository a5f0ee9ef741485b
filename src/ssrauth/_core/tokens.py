"""Token verification: signatures against a JWKS, pinned claims, cached by digest. Pure (no I/O).

Fetching the JWKS is the job of :mod:`ssrauth._providers.jwks`; this module only checks a token
against a key set it is handed, so the decision core can stay free of I/O and be tested with plain
values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from jwt.exceptions import PyJWTError

# Defined with the other errors; importable from here too (verify, rules, session, audit).
from .errors import InvalidToken, UnknownSigningKey

__all__ = [
    "AT_JWT_TYPES",
    "InvalidToken",
    "JwkSet",
    "TokenSet",
    "TokenUse",
    "UnknownSigningKey",
    "VerifiedToken",
    "token_digest",
]

TokenUse = Literal["access", "id"]

#: The algorithm a JWK without an ``alg`` member signs with, by key type (and curve). Symmetric
#: (``oct``) keys have none: a public key set never verifies an HMAC.
_DEFAULT_ALGS = {("RSA", None): "RS256", ("EC", "P-256"): "ES256", ("EC", "P-384"): "ES384",
                 ("EC", "P-521"): "ES512", ("OKP", "Ed25519"): "EdDSA"}
#: Which key type each algorithm family needs: an ``alg`` member must agree with ``kty``.
_ALG_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
#: RFC 7518 §3.3 and §3.5: "A key of size 2048 bits or larger MUST be used with these
#: algorithms" (RS* and PS*); a smaller modulus can be factored, and its signatures forged.
_MIN_RSA_BITS = 2048
#: RFC 9068 §2.1: the media type of a JWT access token, with or without ``application/``.
AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})


@dataclass(frozen=True, slots=True)
class JwkSet:
    """The signing keys of an issuer, by ``kid``, each pinned to its one algorithm."""

    keys: Mapping[str, Any] = field(default_factory=dict)
    #: The algorithm of each key (absent: RS256, the only one Cognito uses).
    algorithms: Mapping[str, str] = field(default_factory=dict)

    def algorithm(self, kid: str) -> str:
        return self.algorithms.get(kid, "RS256")

    @classmethod
    def from_json(
        cls, document: Mapping[str, Any], accepted: tuple[str, ...] = ("RS256",)
    ) -> JwkSet:
        """Keep the signature keys of a JWKS document whose algorithm is ``accepted``; skip
        anything else without failing."""
        keys: dict[str, Any] = {}
        algorithms: dict[str, str] = {}
        if not isinstance(document, Mapping):
            raise ValueError("JWKS document is not a JSON object")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ValueError("JWKS document has no 'keys' list")
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            key_ops = entry.get("key_ops", ["verify"])
            if not isinstance(key_ops, list) or "verify" not in key_ops:
                continue  # RFC 7517 §4.3: a key not meant to verify signatures
            kty, kid = str(entry.get("kty")), entry.get("kid")
            curve = None if kty == "RSA" else str(entry.get("crv"))
            alg = entry.get("alg", _DEFAULT_ALGS.get((kty, curve)))
            if not isinstance(kid, str) or alg not in accepted:
                continue
            if _ALG_KTY.get(str(alg)[:2]) != kty:
                continue  # an alg that does not fit the key: never let the header choose
            if kty == "EC" and _DEFAULT_ALGS.get((kty, curve)) != alg:
                continue  # RFC 7518 §3.4: ES256 is P-256, ES384 P-384, ES512 P-521
            try:
                key = jwt.PyJWK(entry, algorithm=alg).key
            except (PyJWTError, ValueError, TypeError):  # PyJWT 2.8 raises ValueError for a bad n
                continue
            if kty == "RSA" and getattr(key, "key_size", 0) < _MIN_RSA_BITS:
                continue
            keys[kid] = key
            algorithms[kid] = alg
        return cls(keys, algorithms)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A JWT whose signature, issuer, audience and ``token_use`` checked out.

    ``exp`` is deliberately *not* part of verification (results are cached); callers compare it
    with their clock on every use.
    """

    raw: str
    claims: Mapping[str, Any]
    token_use: TokenUse
    exp: int
    iat: int

    @property
    def username(self) -> str | None:
        """Cognito's username claim: ``username`` on access, ``cognito:username`` on id tokens."""
        value = self.claims.get("username", self.claims.get("cognito:username"))
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a sign-in or refresh returns. ``refresh_token`` is the one to keep from now on."""

    access_token: str
    id_token: str | None
    refresh_token: str
    #: The access token's lifetime in seconds from the answer (OAuth ``expires_in``), for
    #: opaque access tokens whose expiry cannot be read from the token itself.
    expires_in: int | None = None


def token_digest(token: str) -> bytes:
    """SHA-256 of a token: the cache and coordination key, so tokens themselves are never stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
