"""Token rules: which token says who the user is, and how each token is checked, per provider.

One rule set for what Cognito and OpenID Connect agree on, and one small object per provider kind
for where they differ, instead of ``if cognito`` branches in the verifier and the decision core.
Pure (no I/O).

Shared (:func:`checked_header`, :func:`registered_claims`, :func:`check_times`), for every
token before the provider's rules see it, after :func:`ssrauth._core.jws.read_compact` has
refused every non-canonical spelling:

* the header: no ``crit`` (RFC 7515 §4.1.11: we understand no extension, so a token that needs
  one is refused); ``alg`` one the provider signs with, then pinned to the key's own (the
  verifier); ``kid`` a string of at most :data:`MAX_KID_LENGTH` characters, looked up in the
  key set we fetched: ``jku``, ``x5u``, ``jwk`` and ``x5c`` are never read, so a key a token
  brings along is never used; an RFC 9068 access token (``typ: at+jwt``) is never an id token;
* the claims: ``iss`` exactly ours (OIDC Core §3.1.3.7 item 2); ``aud``, where present (the
  provider's rules say where it must be), a string or a list of strings naming us (RFC 7519
  §4.1.3); ``exp`` and ``iat`` present; ``exp``, ``iat`` and ``nbf`` NumericDates as
  :func:`numeric_date` reads them;
* time, per use and never cached (:func:`check_times`): not before ``nbf`` and not issued
  after now, each with :data:`CLOCK_LEEWAY`. ``exp`` is the decision core's, per use too: it
  refreshes ``DEFAULT_REFRESH_MARGIN`` (5 s, Amplify's) before ``exp``, so it needs no leeway.

Where they differ:

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

from .jws import read_compact
from .tokens import AT_JWT_TYPES, InvalidToken, TokenUse, VerifiedToken

__all__ = [
    "CLOCK_LEEWAY",
    "MAX_KID_LENGTH",
    "MAX_NUMERIC_DATE",
    "CognitoRules",
    "OidcRules",
    "TokenRules",
    "check_times",
    "checked_header",
    "field_of",
    "numeric_date",
    "opaque_access_token",
    "registered_claims",
]

#: Seconds of clock skew forgiven on ``nbf`` and ``iat``. RFC 7519 §4.1.5 (``nbf``: "the
#: current date/time MUST be after or equal to the not-before date/time ... Implementers MAY
#: provide for some small leeway, usually no more than a few minutes, to account for clock
#: skew") and §4.1.4 (the same words for ``exp``); §4.1.6 (``iat``) only says when the token was
#: issued, and one issued after our now is one our clock cannot place, refused past the same
#: leeway. Servers keep NTP time, so a minute covers real skew with room to spare while a
#: token made for later stays refused until then.
CLOCK_LEEWAY = 60
#: The last second of 9999-12-31 UTC: no issuer dates a token later, and every date below it is
#: one ``datetime`` can show (and ``exp * 1000``, Amplify's comparison, is exact in JavaScript).
MAX_NUMERIC_DATE = 253_402_300_799
#: Cognito's ``kid`` is 44 characters (base64 of a SHA-256); providers use UUIDs or thumbprints.
#: A longer one is no key of ours, and is refused before it can ask for a JWKS refetch.
MAX_KID_LENGTH = 256
#: Claims every token must carry, whoever issued it (OIDC Core §2 for id tokens; Cognito's
#: tokens all carry them).
_SHARED_REQUIRED = ("iss", "exp", "iat")


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


# -- what Cognito and OpenID Connect agree on ----------------------------------------------------


def checked_header(header: Mapping[str, Any], use: TokenUse,
                   algorithms: tuple[str, ...]) -> tuple[str, str]:
    """``(alg, kid)`` of a header we can judge (see the module docstring), or InvalidToken."""
    if "crit" in header:
        # RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood
        # and supported by the recipient, then the JWS is invalid." We support none.
        raise InvalidToken("token header names critical extensions (crit) we do not support")
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in algorithms:
        # Exact and case-sensitive (RFC 7515 §4.1.1): "none", "None" and "HS256" are all refused.
        raise InvalidToken(f"algorithm {str(alg)[:20]!r} is not allowed")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("token header has no kid")
    if len(kid) > MAX_KID_LENGTH:
        raise InvalidToken(f"kid longer than {MAX_KID_LENGTH} characters")
    if use == "id" and str(header.get("typ", "")).lower() in AT_JWT_TYPES:
        # RFC 9068 §4: a JWT access token is never an id token, even when its aud is our
        # client id (the app's own API): it may have been issued to any client, and one
        # without azp would otherwise sign its bearer in as its user.
        raise InvalidToken("an access token (typ at+jwt) is not an id token")
    return alg, kid


def numeric_date(claims: Mapping[str, Any], name: str) -> int | None:
    """The NumericDate claim ``name``, or None when absent; InvalidToken when malformed.

    RFC 7519 §2 lets a NumericDate be any JSON number, fractions included. We accept JSON
    integers only, from 0 to :data:`MAX_NUMERIC_DATE`: Cognito and every OpenID Connect
    provider we know send integers, :class:`VerifiedToken` holds integers, and a float brings
    ``1e400`` (infinity) and rounding into comparisons. Never a boolean, although Python counts
    ``True`` as the integer 1 (``isinstance(True, int)``), so ``exp: true`` is no date.
    """
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if type(value) is not int or not 0 <= value <= MAX_NUMERIC_DATE:
        raise InvalidToken(f"{name} must be an integer NumericDate (exp, iat and nbf are "
                           "integers from 1970 to 9999)")
    return value


def registered_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str | None,
    audience: str | None,
    required: tuple[str, ...],
) -> tuple[int, int]:
    """``(exp, iat)`` once the claims every provider agrees on check out (module docstring);
    ``issuer=None`` skips the issuer (the audit's offline reader has none to compare)."""
    for name in (*_SHARED_REQUIRED, *required):
        if name not in claims:
            raise InvalidToken(f"token lacks the {name!r} claim")
    if issuer is not None and claims["iss"] != issuer:
        raise InvalidToken("token was issued by another issuer (iss)")
    if "aud" in claims:
        # RFC 7519 §4.1.3: "If the principal processing the claim does not identify itself with
        # a value in the "aud" claim when this claim is present, then the JWT MUST be rejected."
        aud = claims["aud"]
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise InvalidToken("audience (aud) is neither a string nor a list of strings")
        if audience is None or audience not in audiences:
            raise InvalidToken("token was issued for another audience (aud)")
    numeric_date(claims, "nbf")
    exp, iat = numeric_date(claims, "exp"), numeric_date(claims, "iat")
    assert exp is not None  # required above
    assert iat is not None
    return exp, iat


def check_times(token: VerifiedToken, now: float, leeway: int = CLOCK_LEEWAY) -> None:
    """Raise InvalidToken when ``token`` may not be used yet at ``now`` (module docstring).

    Per use, never cached: a token refused now for its ``nbf`` is accepted once that time comes.
    """
    nbf = token.claims.get("nbf")
    if isinstance(nbf, int) and now + leeway < nbf:
        raise InvalidToken("token is not valid yet (nbf, RFC 7519 §4.1.5)")
    if now + leeway < token.iat:
        raise InvalidToken("token was issued in the future (iat, RFC 7519 §4.1.6)")


# -- where they differ ---------------------------------------------------------------------------


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
        """Who we are to a token of this use: its ``aud``, when it has one, must name this.
        None: a token of this use that names any audience is not for us."""

    def required(self, use: TokenUse) -> tuple[str, ...]:
        """Claims that must be present besides ``iss``, ``exp`` and ``iat``."""

    def check(self, claims: Mapping[str, Any], use: TokenUse) -> None:
        """The provider's own claim rules, after the shared ones; raise InvalidToken."""

    def is_opaque(self, token: str) -> bool:
        """True for an access token this provider's rules cannot verify locally."""


@dataclass(frozen=True, slots=True)
class CognitoRules:
    """Cognito user pools (Amplify JS v6)."""

    client_id: str
    identity_use: TokenUse = "access"
    companion_use: TokenUse = "id"
    algorithms: tuple[str, ...] = ("RS256",)
    companion_required: bool = False
    username_is_sub: bool = False

    def audience(self, use: TokenUse) -> str | None:  # noqa: ARG002 (same for both uses)
        return self.client_id

    def required(self, use: TokenUse) -> tuple[str, ...]:
        # Access tokens carry no aud (Cognito docs): the app client is in client_id instead.
        # Both always carry sub (the user), which pairs an access token with its id token.
        return ("token_use", "sub", "aud") if use == "id" else ("token_use", "sub")

    def check(self, claims: Mapping[str, Any], use: TokenUse) -> None:
        if claims.get("token_use") != use:
            raise InvalidToken(f"token_use is {str(claims.get('token_use'))[:20]!r}, "
                               f"expected {use!r}")
        # Access tokens carry no aud (Cognito docs): the app client is in client_id instead.
        if use == "access" and claims.get("client_id") != self.client_id:
            raise InvalidToken("access token was issued to another app client")

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

    def required(self, use: TokenUse) -> tuple[str, ...]:  # noqa: ARG002 (same for both uses)
        return ("sub", "aud")

    def check(self, claims: Mapping[str, Any], use: TokenUse) -> None:
        if use == "id":
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            # OIDC Core 3.1.3.7: with several audiences azp names the client it was issued to;
            # a present azp must be us in any case.
            azp = claims.get("azp")
            if (len(audiences) > 1 or azp is not None) and azp != self.client_id:
                raise InvalidToken("id token was issued to another client (azp)")
        elif claims.get("client_id") != self.client_id:
            raise InvalidToken("access token was issued to another client")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("sub must be a non-empty string")

    def is_opaque(self, token: str) -> bool:
        if self.access_audience is None:
            return True
        try:
            header = read_compact(token).header
        except InvalidToken:
            return True
        return str(header.get("typ", "")).lower() not in AT_JWT_TYPES
