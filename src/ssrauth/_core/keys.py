"""Amplify JS v6 cookie names: build them, and recognise ours among everything a browser sends.

Names follow Amplify's TokenStore (``CognitoIdentityServiceProvider.<clientId>.LastAuthUser`` and
``CognitoIdentityServiceProvider.<clientId>.<username>.<field>``), percent-encoded by js-cookie.
Other providers reuse the same family shape under another prefix (``ssrauth.<clientId>.…``), so
every rule about copies, paths and stale users applies to them unchanged.
Pure; see docs/amplify-compat.md for the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .cookies import encode_name
from .errors import ConfigError
from .memo import Memo

__all__ = [
    "DEVICE_FIELDS",
    "EXPIRES_AT",
    "KNOWN_FIELDS",
    "LAST_AUTH_USER",
    "OIDC_PREFIX",
    "OIDC_SESSION_FIELDS",
    "PREFIX",
    "SESSION_FIELDS",
    "AmplifyKeys",
    "AuthCookieName",
]

PREFIX = "CognitoIdentityServiceProvider"
#: The default first segment of an OpenID Connect family (``OidcConfig.cookie_prefix``).
OIDC_PREFIX = "ssrauth"
LAST_AUTH_USER = "LastAuthUser"

#: What Amplify's ``clearTokens`` removes on sign-out or a rejected refresh, so what we clear too.
SESSION_FIELDS: tuple[str, ...] = (
    "accessToken",
    "idToken",
    "refreshToken",
    "clockDrift",
    "signInDetails",
    "oauthMetadata",
)
#: An opaque OpenID Connect access token's expiry (issuer time, epoch seconds), recorded from
#: ``expires_in`` when it was issued: the token itself cannot tell.
EXPIRES_AT = "expiresAt"
OIDC_SESSION_FIELDS: tuple[str, ...] = (*SESSION_FIELDS, EXPIRES_AT)
#: Remembered-device keys. Amplify keeps them across sign-out (``clearDeviceMetadata`` is separate),
#: so a user is not asked to confirm the device again; we never delete them either.
DEVICE_FIELDS: tuple[str, ...] = ("deviceKey", "deviceGroupKey", "randomPasswordKey")
KNOWN_FIELDS: frozenset[str] = frozenset(SESSION_FIELDS + DEVICE_FIELDS + ("oidcProvider",))

#: Amplify's ``getLastAuthUser`` falls back to this literal when the LastAuthUser cookie is absent.
FALLBACK_USERNAME = "username"


@dataclass(frozen=True, slots=True)
class AuthCookieName:
    """A recognised auth cookie name. ``username is None`` for the LastAuthUser cookie."""

    username: str | None
    field: str


class AmplifyKeys:
    """The cookie-name family of one user-pool client id.

    Everything outside ``CognitoIdentityServiceProvider.<our client id>.`` is not ours: another
    client id, another app, analytics. :meth:`classify` answers ``None`` for those and the rest of
    ssrauth never reads, rewrites or deletes them.
    """

    __slots__ = ("_classified", "_names", "client_id", "last_auth_user_name", "prefix",
                 "session_fields")

    def __init__(
        self,
        client_id: str,
        *,
        prefix: str = PREFIX,
        session_fields: tuple[str, ...] = SESSION_FIELDS,
    ) -> None:
        if not client_id or "." in client_id:
            raise ConfigError(f"not a Cognito app client id: {client_id!r}")
        if not prefix or "." in prefix or encode_name(prefix) != prefix:
            raise ConfigError(f"cookie prefix {prefix!r} must be a plain name without dots")
        self.client_id = client_id
        #: ``<prefix>.<client id>.``: every name of ours starts with it.
        self.prefix = f"{prefix}.{client_id}."
        #: What a sign-out or a rejected refresh deletes (device keys are never among them).
        self.session_fields = session_fields
        self.last_auth_user_name = encode_name(self.prefix + LAST_AUTH_USER)
        # Every request repeats the same few names; percent-coding them each time would be most
        # of the per-request cost of the whole decision.
        self._names: Memo[tuple[str, str], str] = Memo(4096)
        self._classified: Memo[str, AuthCookieName] = Memo(4096)

    def name(self, username: str, field: str) -> str:
        """The cookie name as Amplify writes it (``@`` in an email username becomes ``%40``)."""
        key = (username, field)
        name = self._names.get(key)
        if name is None:
            name = self._names.put(key, encode_name(f"{self.prefix}{username}.{field}"))
        return name

    def classify(self, raw_name: str) -> AuthCookieName | None:
        """Recognise one of our names, whether the writer percent-encoded it or not."""
        # Cheap reject first: nearly every cookie on a request is not ours. The prefix has no
        # character js-cookie encodes, so only a name with "%" can still turn out to be ours.
        if not raw_name.startswith(self.prefix) and "%" not in raw_name:
            return None
        known = self._classified.get(raw_name)
        if known is None:
            known = self._classified.put(raw_name, self._classify(raw_name))
        return None if known is _FOREIGN else known

    def _classify(self, raw_name: str) -> AuthCookieName:
        name = unquote(raw_name) if "%" in raw_name else raw_name
        if not name.startswith(self.prefix):
            return _FOREIGN
        rest = name[len(self.prefix) :]
        if rest == LAST_AUTH_USER:
            return AuthCookieName(None, LAST_AUTH_USER)
        # Usernames may contain dots (e-mail addresses); the field is always the last segment.
        username, dot, field = rest.rpartition(".")
        if not dot or not username or not field:
            return _FOREIGN
        return AuthCookieName(username, field)


#: Memo marker for "looked like ours, is not" (the memo cannot store None).
_FOREIGN = AuthCookieName(None, "")
