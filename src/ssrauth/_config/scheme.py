"""A configuration's cookie scheme: the names and token rules a server configured with it uses."""

from __future__ import annotations

from .._core.scheme import CookieScheme, cognito_scheme, oidc_scheme
from .cognito import CognitoConfig
from .oidc import OidcConfig

__all__ = ["scheme_of"]


def scheme_of(config: CognitoConfig | OidcConfig) -> CookieScheme:
    """The keys and rules a server configured with ``config`` uses."""
    if isinstance(config, OidcConfig):
        return oidc_scheme(config.cookie_client_id, config.client_id, config.cookie_prefix,
                     config.audience)
    return cognito_scheme(config.client_id)
