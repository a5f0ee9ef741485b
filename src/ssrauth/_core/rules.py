"""Token rules: which token says who the user is, and how each token is checked, per provider.

One small object per provider kind instead of ``if cognito`` branches in the verifier and the
decision core. Pure (no I/O).

* Cognito (:class:`CognitoRules`): the access token authenticates (RS256, ``token_use``,
  ``client_id``); the id token rides along (``aud``, same ``sub``). Amplify's own rules.
* OpenID Connect (:class:`OidcRules`): the id token authenticates (``aud`` contains our client
  id, ``azp`` when several audiences). Access tokens are meant for resource servers, and most
  providers make them opaque: one is verified only when it says it is an RFC 9068 JWT
  (``typ: at+jwt``) and an ``audience`` is configured; otherwise it is carried, never trusted,
  and its expiry is the ``expiresAt`` cookie written from ``expires_in`` when it was issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from jwt.exceptions import PyJWTError

from .tokens import AT_JWT_TYPES, InvalidToken, TokenUse, VerifiedToken

__all__ = [
    "CognitoRules",
    "OidcRules",
    "TokenRules",
    "checked_claims",
    "field_of",
    "opaque_access_token",
]



def field_of(use: TokenUse) -> str:
    """The Amplify cookie field a token of this use lives in."""
    return "accessToken" if use == "access" else "idToken"


def opaque_access_token(
    raw: str, identity: VerifiedToken, expires_at: int | None
) -> VerifiedToken:
    """An access token we cannot read, as the session carries it: no claims (so it proves
    nothing) and the expiry recorded on our clock when it was issued; without one, expired."""
    exp = 0 if expires_at is None else expires_at
    return VerifiedToken(raw=raw, claims={}, token_use="access", exp=exp, iat=identity.iat)


class TokenRules(Protocol):
    """What differs between providers, and nothing else."""

    @property
    def identity_use(self) -> TokenUse:
        """The token that authenticates a request; the other one is its companion."""

    @property
    def companion_use(self) -> TokenUse: ...

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Signature algorithms accepted at all; each key is further pinned to its own."""

    @property
    def companion_required(self) -> bool:
        """Whether a session without a (usable) companion token is no session."""

    @property
    def username_is_sub(self) -> bool:
        """Whether the user name in the cookie keys must be the identity token's ``sub``."""

    def audience(self, use: TokenUse) -> str | None:
        """The ``aud`` PyJWT must find, or None not to check it."""

    def required(self, use: TokenUse) -> list[str]:
        """Claims that must be present."""

    def check(self, token: str, claims: Mapping[str, Any], use: TokenUse) -> VerifiedToken:
        """The claim rules that follow signature and issuer checks."""

    def is_opaque(self, token: str) -> bool:
        """True for an access token this provider's rules cannot verify locally."""


@dataclass(frozen=True, slots=True)
class CognitoRules:
    """Cognito user pools (Amplify JS v6): today's rules, unchanged."""

    client_id: str
    identity_use: TokenUse = "access"
    companion_use: TokenUse = "id"
    algorithms: tuple[str, ...] = ("RS256",)
    companion_required: bool = False
    username_is_sub: bool = False

    def audience(self, use: TokenUse) -> str | None:
        # Access tokens carry no aud (Cognito docs): the app client is in client_id instead.
        return self.client_id if use == "id" else None

    def required(self, use: TokenUse) -> list[str]:  # noqa: ARG002 (same for both uses)
        return ["exp", "iat", "iss", "token_use"]

    def check(self, token: str, claims: Mapping[str, Any], use: TokenUse) -> VerifiedToken:
        return checked_claims(token, claims, use, self.client_id)

    def is_opaque(self, token: str) -> bool:  # noqa: ARG002 (Cognito tokens are all JWTs)
        return False


@dataclass(frozen=True, slots=True)
class OidcRules:
    """Any OpenID Connect provider: the id token is the identity (see the module docstring)."""

    client_id: str
    #: The resource-server audience of RFC 9068 access tokens; None: access tokens are opaque.
    access_audience: str | None = None
    identity_use: TokenUse = "id"
    companion_use: TokenUse = "access"
    algorithms: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA")
    companion_required: bool = True
    username_is_sub: bool = True

    def audience(self, use: TokenUse) -> str | None:
        return self.client_id if use == "id" else self.access_audience

    def required(self, use: TokenUse) -> list[str]:  # noqa: ARG002 (same for both uses)
        return ["exp", "iat", "iss", "sub", "aud"]

    def check(self, token: str, claims: Mapping[str, Any], use: TokenUse) -> VerifiedToken:
        if use == "id":
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            # OIDC Core 3.1.3.7: with several audiences azp names the client it was issued to;
            # a present azp must be us in any case.
            azp = claims.get("azp")
            if (len(audiences) > 1 or azp is not None) and azp != self.client_id:
                raise InvalidToken("id token was issued to another client (azp)")
        elif claims.get("client_id") != self.client_id:
            raise InvalidToken("access token was issued to another client")
        sub, exp, iat = claims.get("sub"), claims.get("exp"), claims.get("iat")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("sub must be a non-empty string")
        if type(exp) is not int or type(iat) is not int:
            raise InvalidToken("exp and iat must be integers")
        return VerifiedToken(raw=token, claims=claims, token_use=use, exp=exp, iat=iat)

    def is_opaque(self, token: str) -> bool:
        if self.access_audience is None:
            return True
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            return True
        return str(header.get("typ", "")).lower() not in AT_JWT_TYPES


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
