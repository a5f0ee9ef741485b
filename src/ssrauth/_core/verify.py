"""Token verification by a deployment's rules: signature against the key set it is handed,
pinned claims, results remembered by token digest. Pure (no I/O): fetching the keys is
:mod:`ssrauth._providers.jwks`' job."""

from __future__ import annotations

from typing import Any

import jwt
from jwt.exceptions import PyJWTError

from .memo import Memo
from .rules import CognitoRules, TokenRules
from .tokens import (
    AT_JWT_TYPES,
    InvalidToken,
    JwkSet,
    TokenUse,
    UnknownSigningKey,
    VerifiedToken,
    token_digest,
)

__all__ = ["OfflineReader", "TokenVerifier"]


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
