"""Typed configuration for any OpenID Connect provider: from code or ``SSRAUTH_OIDC_*``
environment variables. Endpoints are not configured: they come from the issuer's discovery
document (``/.well-known/openid-configuration``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .._core.cookies import CookiePolicy
from .._core.errors import ConfigError
from .._core.keys import OIDC_PREFIX
from .._core.session import DEFAULT_REFRESH_MARGIN
from .cognito import policy_from_env

__all__ = ["OidcConfig"]

TokenAuth = Literal["client_secret_basic", "client_secret_post"]


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """Everything ssrauth needs to know about one OpenID Connect client.

    ``issuer`` must equal the discovery document's ``issuer`` exactly (and every token's
    ``iss``). ``client_secret`` None is a public client (PKCE only). ``audience`` is set only
    when the provider issues RFC 9068 JWT access tokens for a resource server and the app wants
    them verified; without it access tokens are carried as opaque strings.
    """

    issuer: str
    client_id: str
    redirect_uri: str = ""
    client_secret: str | None = None
    #: How the secret is sent to the token and revocation endpoints.
    token_auth: TokenAuth = "client_secret_basic"
    #: ``offline_access`` is what earns a refresh token from most providers.
    scopes: str = "openid offline_access email"
    #: Extra authorization-request parameters, e.g. ``{"prompt": "consent"}`` (oidc-provider and
    #: Google grant offline access only with consent) or Google's ``access_type=offline``.
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    audience: str | None = None
    #: Where the signing keys are; empty: the discovery document's ``jwks_uri``.
    jwks_url: str = ""
    cookie_policy: CookiePolicy = field(default_factory=CookiePolicy)
    #: First segment of every cookie name: ``<cookie_prefix>.<client id>.<sub>.<field>``.
    cookie_prefix: str = OIDC_PREFIX
    refresh_margin: float = DEFAULT_REFRESH_MARGIN
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.issuer.startswith(("https://", "http://")):
            raise ConfigError(f"issuer {self.issuer!r} is not an http(s) URL")
        if not self.client_id:
            raise ConfigError("client_id is empty")
        if not self.cookie_prefix or "." in self.cookie_prefix:
            raise ConfigError(f"cookie_prefix {self.cookie_prefix!r} must be a name without dots")
        if "openid" not in self.scopes.split():
            raise ConfigError("scopes must include 'openid'")

    @property
    def cookie_client_id(self) -> str:
        """The client id as a cookie-name segment: a dot would end it early (Google's client
        ids are ``….apps.googleusercontent.com``), so dots become underscores."""
        return self.client_id.replace(".", "_")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def with_changes(self, **changes: Any) -> OidcConfig:
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, prefix: str = "SSRAUTH_"
    ) -> OidcConfig:
        """Read ``SSRAUTH_OIDC_*`` (ISSUER, CLIENT_ID, CLIENT_SECRET, TOKEN_AUTH, REDIRECT_URI,
        SCOPES, AUDIENCE, JWKS_URL, COOKIE_PREFIX, PROMPT) and the cookie variables shared with
        Cognito (``SSRAUTH_COOKIE_DOMAIN``, ``_SECURE``, ``_MODE``)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(prefix + name)
            return value if value else None

        fields: dict[str, Any] = {}
        for key in ("issuer", "client_id", "client_secret", "token_auth", "redirect_uri",
                    "scopes", "audience", "jwks_url", "cookie_prefix"):
            value = get("OIDC_" + key.upper())
            if value is not None:
                fields[key] = value
        missing = [k for k in ("issuer", "client_id") if k not in fields]
        if missing:
            names = ", ".join(f"{prefix}OIDC_{k.upper()}" for k in missing)
            raise ConfigError(f"missing environment variables: {names}")
        if fields.get("token_auth", "client_secret_basic") not in (
            "client_secret_basic", "client_secret_post"
        ):
            raise ConfigError("OIDC_TOKEN_AUTH must be client_secret_basic or client_secret_post")
        prompt = get("OIDC_PROMPT")
        if prompt is not None:
            fields["authorize_params"] = {"prompt": prompt}
        fields["cookie_policy"] = policy_from_env(get)
        return cls(**fields)
