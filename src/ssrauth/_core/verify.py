"""Token verification by a deployment's rules: signature against the key set it is handed,
pinned claims, results remembered by token digest. Pure (no I/O): fetching the keys is
:mod:`ssrauth._providers.jwks`' job.

The order of the checks: the compact serialisation read strictly (:mod:`.jws`), the header
(:func:`~.rules.checked_header`), the key by ``kid`` and its own algorithm, the signature, the
claims every provider agrees on (:func:`~.rules.registered_claims`), the provider's own rules,
and on every use, cached or not, the time (:func:`~.rules.check_times`).
"""

from __future__ import annotations

from typing import Any

from jwt.algorithms import get_default_algorithms
from jwt.exceptions import PyJWTError

from .jws import CompactJws, read_compact
from .memo import Memo
from .rules import CognitoRules, TokenRules, check_times, checked_header, registered_claims
from .tokens import (
    InvalidToken,
    JwkSet,
    TokenUse,
    UnknownSigningKey,
    VerifiedToken,
    token_digest,
)

__all__ = ["OfflineReader", "TokenVerifier"]

#: PyJWT's signature algorithms by name. Only their ``verify(signing input, key, signature)``
#: is used: PyJWT never parses a token here, so its version's leniencies cannot matter.
_SIGNATURES = get_default_algorithms()


class TokenVerifier:
    """Verify access and id tokens by the provider's rules; remember results by token digest.

    A verification costs about 110 µs (one RSA signature check) and a page load sends the same
    two tokens with every request, so positive and negative results are kept in a bounded cache
    (``cache_size`` entries, oldest evicted first). A new key set empties the cache: a token
    must verify against the keys the pool publishes now. What depends on the time is checked on
    every use, after the cache (:func:`~.rules.check_times`; ``exp`` by the decision core).
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

    def verify(self, token: str, token_use: TokenUse, keys: JwkSet, now: float) -> VerifiedToken:
        """The token, verified and usable at ``now``, or :class:`InvalidToken` (never anything
        else). An expired token is returned: whether it still serves is the caller's call."""
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
        check_times(result, now)
        return result

    def _verify_uncached(self, token: str, token_use: TokenUse, keys: JwkSet) -> VerifiedToken:
        jws = read_compact(token)
        alg, kid = checked_header(jws.header, token_use, self.rules.algorithms)
        key = keys.keys.get(kid)
        if key is None:
            raise UnknownSigningKey(kid)
        # The key's own algorithm, never the header's choice among the accepted ones: that is
        # what defeats ``alg: none`` and the HS256-with-the-public-key confusion attack.
        if alg != keys.algorithm(kid):
            raise InvalidToken(f"algorithm {alg!r} does not match the key")
        if not _signature_matches(jws, alg, key):
            raise InvalidToken(f"{token_use} token rejected: signature verification failed")
        return self._checked(token, jws, token_use, self.issuer)

    def _checked(
        self, token: str, jws: CompactJws, token_use: TokenUse, issuer: str | None
    ) -> VerifiedToken:
        """The claims by the shared rules, then the provider's."""
        rules = self.rules
        exp, iat = registered_claims(jws.claims, issuer=issuer, audience=rules.audience(token_use),
                                     required=rules.required(token_use))
        rules.check(jws.claims, token_use)
        return VerifiedToken(raw=token, claims=jws.claims, token_use=token_use, exp=exp, iat=iat)


def _signature_matches(jws: CompactJws, alg: str, key: Any) -> bool:
    try:
        return bool(_SIGNATURES[alg].verify(jws.signing_input, key, jws.signature))
    except (PyJWTError, ValueError, TypeError):  # a signature of the wrong length or shape
        return False


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
        return self._checked(token, read_compact(token), token_use, None)
