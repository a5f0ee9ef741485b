"""Token verification: signatures against a JWKS, pinned claims, cached by digest. Pure (no I/O).

Fetching the JWKS is the job of :mod:`ssrauth._providers.jwks`; this module only checks a token
against a key set it is handed, so the decision core can stay free of I/O and be tested with plain
values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import jwt
from jwt.exceptions import PyJWTError

from .memo import Memo

if TYPE_CHECKING:
    from .rules import TokenRules

__all__ = [
    "AT_JWT_TYPES",
    "InvalidToken",
    "JwkSet",
    "OfflineReader",
    "TokenSet",
    "TokenUse",
    "TokenVerifier",
    "UnknownSigningKey",
    "VerifiedToken",
    "checked_claims",
    "token_digest",
]

TokenUse = Literal["access", "id"]

#: The algorithm a JWK without an ``alg`` member signs with, by key type (and curve). Symmetric
#: (``oct``) keys have none: a public key set never verifies an HMAC.
_DEFAULT_ALGS = {("RSA", None): "RS256", ("EC", "P-256"): "ES256", ("EC", "P-384"): "ES384",
                 ("EC", "P-521"): "ES512", ("OKP", "Ed25519"): "EdDSA"}
#: Which key type each algorithm family needs: an ``alg`` member must agree with ``kty``.
_ALG_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
#: RFC 9068 §2.1: the media type of a JWT access token, with or without ``application/``.
AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})


class InvalidToken(Exception):
    """The token is not one we accept; ``reason`` is safe to log (it never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownSigningKey(InvalidToken):
    """Signed with a ``kid`` not in our JWKS: the pool may have rotated keys, so refetch once."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"unknown signing key id {kid!r}")
        self.kid = kid


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
            kty, kid = str(entry.get("kty")), entry.get("kid")
            curve = None if kty == "RSA" else str(entry.get("crv"))
            alg = entry.get("alg", _DEFAULT_ALGS.get((kty, curve)))
            if not isinstance(kid, str) or alg not in accepted:
                continue
            if _ALG_KTY.get(str(alg)[:2]) != kty:
                continue  # an alg that does not fit the key: never let the header choose
            try:
                keys[kid] = jwt.PyJWK(entry, algorithm=alg).key
            except PyJWTError:
                continue
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


class TokenVerifier:
    """Verify access and id tokens by the provider's rules; remember results by token digest.

    A verification costs about 110 µs (one RSA signature check) and a page load sends the same
    two tokens with every request, so positive and negative results are kept in a bounded cache
    (``cache_size`` entries, oldest evicted first). A new key set empties the cache: a token
    must verify against the keys the pool publishes now.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        cache_size: int = 4096,
        rules: TokenRules | None = None,
    ) -> None:
        from .rules import CognitoRules  # _rules builds on this module's types

        self.issuer = issuer
        self.client_id = client_id
        self.rules: TokenRules = rules or CognitoRules(client_id)
        # Each entry remembers the key set it was judged against: a verification racing a key
        # set change must not be read back under the new keys.
        self._cache: Memo[tuple[bytes, str], tuple[JwkSet, VerifiedToken | InvalidToken]] = Memo(
            cache_size
        )
        self._cache_keys: JwkSet | None = None

    def verify(self, token: str, token_use: TokenUse, keys: JwkSet) -> VerifiedToken:
        """Return the verified token or raise :class:`InvalidToken` (never anything else)."""
        if not token.isascii():
            raise InvalidToken("not a JWT: the compact serialisation is ASCII")
        if keys is not self._cache_keys:
            self._cache.clear()  # old keys' entries would never be read again: free them
            self._cache_keys = keys
        cache_key = (token_digest(token), token_use)
        entry = self._cache.get(cache_key)
        if entry is not None and entry[0] is keys:
            result = entry[1]
        else:
            try:
                result = self._verify_uncached(token, token_use, keys)
            except UnknownSigningKey:
                raise  # Not cached: a JWKS refetch may make the same token verify.
            except InvalidToken as error:
                result = error
            self._cache.put(cache_key, (keys, result))
        if isinstance(result, InvalidToken):
            raise result
        return result

    def _verify_uncached(self, token: str, token_use: TokenUse, keys: JwkSet) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token header has no kid")
        rules = self.rules
        if header.get("alg") not in rules.algorithms:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not allowed")
        key = keys.keys.get(kid)
        if key is None:
            raise UnknownSigningKey(kid)
        # The key's own algorithm, never the header's choice among the accepted ones: that is
        # what defeats ``alg: none`` and the HS256-with-the-public-key confusion attack.
        algorithm = keys.algorithm(kid)
        if header.get("alg") != algorithm:
            raise InvalidToken(f"algorithm {header.get('alg')!r} does not match the key")
        if token_use == "id" and str(header.get("typ", "")).lower() in AT_JWT_TYPES:
            # RFC 9068 §4: a JWT access token is never an id token, even when its aud is our
            # client id (the app's own API): it may have been issued to any client, and one
            # without azp would otherwise sign its bearer in as its user.
            raise InvalidToken("an access token (typ at+jwt) is not an id token")
        audience = rules.audience(token_use)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=audience,
                options={
                    "verify_exp": False,  # checked per use against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": audience is not None,
                    "require": rules.required(token_use),
                },
            )
        except PyJWTError as error:
            raise InvalidToken(f"{token_use} token rejected: {error}") from None
        return rules.check(token, claims, token_use)


def checked_claims(
    token: str, claims: Mapping[str, Any], token_use: TokenUse, client_id: str
) -> VerifiedToken:
    """Cognito's claim rules that follow decoding (``CognitoRules.check``), for the server's
    verifier and the audit's :class:`OfflineReader` alike."""
    if claims.get("token_use") != token_use:
        raise InvalidToken(f"token_use is {claims.get('token_use')!r}, expected {token_use!r}")
    # Access tokens carry no aud (Cognito docs): the app client is in client_id instead.
    if token_use == "access" and claims.get("client_id") != client_id:
        raise InvalidToken("access token was issued to another app client")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise InvalidToken("exp and iat must be integers")
    return VerifiedToken(raw=token, claims=claims, token_use=token_use, exp=exp, iat=iat)


class OfflineReader(TokenVerifier):
    """Reads a token's claims by the provider's rules WITHOUT checking its signature or issuer.

    For ``ssrauth audit`` without a pool or provider config: it must still say which copy of a
    duplicated token the server would keep (the freshest), and that is a question about claims,
    not keys. Anyone can forge what it accepts, so nothing that authenticates a request may use
    it; ``SessionManager`` never builds one.
    """

    def __init__(self, rules: TokenRules, *, cache_size: int = 4096) -> None:
        super().__init__(issuer="", client_id="", cache_size=cache_size, rules=rules)

    def _verify_uncached(
        self, token: str, token_use: TokenUse, keys: JwkSet  # noqa: ARG002 (no signature)
    ) -> VerifiedToken:
        audience = self.rules.audience(token_use)
        try:
            claims: dict[str, Any] = jwt.decode(token, audience=audience, options={
                "verify_signature": False,
                "verify_aud": audience is not None,
                "require": self.rules.required(token_use),
            })
        except PyJWTError as error:
            raise InvalidToken(f"{token_use} token rejected: {error}") from None
        return self.rules.check(token, claims, token_use)
