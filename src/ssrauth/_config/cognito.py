"""Typed configuration for a Cognito user pool: from code, environment variables, or the
``amplify_outputs.json`` an Amplify Gen 2 backend writes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._core.cookies import CookiePolicy
from .._core.errors import ConfigError
from .._core.session import DEFAULT_REFRESH_MARGIN

__all__ = ["CognitoConfig"]

#: Amplify's ``isTokenExpired`` tolerance; see ``_session.DEFAULT_REFRESH_MARGIN``.


@dataclass(frozen=True, slots=True)
class CognitoConfig:
    """Everything ssrauth needs to know about one user-pool app client.

    ``endpoint_url`` points the Cognito API at moto, LocalStack or a VPC endpoint. ``jwks_url`` and
    ``issuer`` are separate settings because they differ under emulators: moto serves keys from
    ``http://127.0.0.1:<port>/<pool>/.well-known/jwks.json`` but signs with the real-style issuer.
    """

    user_pool_id: str
    client_id: str
    region: str = ""
    client_secret: str | None = None
    endpoint_url: str | None = None
    jwks_url: str = ""
    issuer: str = ""
    cookie_policy: CookiePolicy = field(default_factory=CookiePolicy)
    #: Refresh when a token expires within this many seconds (Amplify: 5).
    refresh_margin: float = DEFAULT_REFRESH_MARGIN
    #: Seconds to wait for the provider before calling it unavailable.
    timeout: float = 5.0

    def __post_init__(self) -> None:
        check_user_pool_id(self.user_pool_id)
        if not self.client_id or "." in self.client_id:
            raise ConfigError(f"client_id {self.client_id!r} is not a Cognito app client id")
        region = self.region or self.user_pool_id.split("_", 1)[0]
        object.__setattr__(self, "region", region)
        if self.endpoint_url:
            object.__setattr__(self, "endpoint_url", self.endpoint_url.rstrip("/"))
        if not self.issuer:
            issuer = f"https://cognito-idp.{region}.amazonaws.com/{self.user_pool_id}"
            object.__setattr__(self, "issuer", issuer)
        if not self.jwks_url:
            base = self.endpoint_url or f"https://cognito-idp.{region}.amazonaws.com"
            object.__setattr__(
                self, "jwks_url", f"{base}/{self.user_pool_id}/.well-known/jwks.json"
            )

    @property
    def api_url(self) -> str:
        """Where the JSON 1.1 API (InitiateAuth …) lives."""
        return self.endpoint_url or f"https://cognito-idp.{self.region}.amazonaws.com"

    def with_changes(self, **changes: Any) -> CognitoConfig:
        """A copy with ``changes``; settings derived from the pool, region or endpoint are
        derived again unless given."""
        if changes.keys() & {"user_pool_id", "region", "endpoint_url"}:
            if "user_pool_id" in changes and "region" not in changes:
                changes["region"] = ""
            changes.setdefault("issuer", "")
            changes.setdefault("jwks_url", "")
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, prefix: str = "SSRAUTH_"
    ) -> CognitoConfig:
        """Read ``SSRAUTH_*`` variables; ``SSRAUTH_AMPLIFY_OUTPUTS`` may name the outputs file.

        Variables: USER_POOL_ID, CLIENT_ID, REGION, CLIENT_SECRET, ENDPOINT_URL, JWKS_URL, ISSUER,
        COOKIE_DOMAIN, COOKIE_SECURE (true/false), COOKIE_MODE (``amplify`` or ``server-only``).
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(prefix + name)
            return value if value else None

        base: dict[str, Any] = {}
        outputs = get("AMPLIFY_OUTPUTS")
        if outputs:
            base = _outputs_fields(_load_json(Path(outputs)))
        for key in ("user_pool_id", "client_id", "region", "client_secret", "endpoint_url",
                    "jwks_url", "issuer"):
            value = get(key.upper())
            if value is not None:
                base[key] = value
        missing = [k for k in ("user_pool_id", "client_id") if k not in base]
        if missing:
            names = ", ".join(prefix + k.upper() for k in missing)
            raise ConfigError(f"missing environment variables: {names}")
        base["cookie_policy"] = policy_from_env(get)
        return cls(**base)

    @classmethod
    def from_amplify_outputs(
        cls, source: str | Path | Mapping[str, Any], **overrides: Any
    ) -> CognitoConfig:
        """Read an Amplify Gen 2 ``amplify_outputs.json`` (a path or the parsed document)."""
        document = source if isinstance(source, Mapping) else _load_json(Path(source))
        return cls(**{**_outputs_fields(document), **overrides})


#: Cognito's UserPoolId constraint (API reference, CreateUserPool response / every ``UserPoolId``
#: parameter): ``[\w-]+_[0-9a-zA-Z]+``, at most 55 characters; the part before ``_`` is the region.
_POOL_ID = re.compile(r"[A-Za-z0-9-]+_[0-9A-Za-z]+")
_POOL_ID_MAX = 55
#: What newcomers paste instead: the pool's ARN (``arn:aws:cognito-idp:<region>:<account>:
#: userpool/<pool id>``) or its issuer / JWKS URL (``https://cognito-idp.<region>.amazonaws.com/
#: <pool id>[/.well-known/...]``). Both end in (or contain) the pool id itself.
_POOL_ID_INSIDE = re.compile(
    r"^(?:arn:[\w-]+:cognito-idp:[\w-]*:\d*:userpool/"
    r"|https?://cognito-idp\.[\w-]+\.amazonaws\.com(?:\.cn)?/)"
    r"(?P<pool>[A-Za-z0-9-]+_[0-9A-Za-z]+)(?:/.*)?$"
)


def check_user_pool_id(value: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` has Cognito's pool id shape ``<region>_<id>``.

    Checked here, where the value enters, because a bad one otherwise fails much later as a
    network error on a JWKS URL built from it, which names neither the setting nor the value.
    The message suggests the right value when the input is recognisably something else.
    """
    if value != value.strip():
        raise ConfigError(f"user pool id {value!r} has surrounding whitespace: "
                          f"did you mean {value.strip()!r}?")
    if _POOL_ID.fullmatch(value) and len(value) <= _POOL_ID_MAX:
        return
    inside = _POOL_ID_INSIDE.match(value)
    if inside:
        kind = "an ARN" if value.startswith("arn:") else "an issuer URL"
        raise ConfigError(f"user pool id {value!r} is {kind}, not a pool id: "
                          f"did you mean {inside['pool']!r}?")
    region, underscore, pool = value.partition("_")
    if underscore and not (region and pool):
        half = "region" if not region else "id"
        raise ConfigError(f"user pool id {value!r} is not <region>_<id>: the {half} part is "
                          "empty (the Cognito console shows it as e.g. 'eu-west-1_AbC123xyz')")
    raise ConfigError(f"user pool id {value!r} is not <region>_<id> (Cognito's format, e.g. "
                      "'eu-west-1_AbC123xyz')")


def _load_json(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path} is not a JSON object")
    return document


def _outputs_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    auth = document.get("auth")
    if not isinstance(auth, Mapping):
        raise ConfigError("amplify_outputs.json has no 'auth' section")
    try:
        fields: dict[str, Any] = {
            "user_pool_id": str(auth["user_pool_id"]),
            "client_id": str(auth["user_pool_client_id"]),
        }
    except KeyError as error:
        raise ConfigError(f"amplify_outputs.json auth section lacks {error}") from None
    if auth.get("aws_region"):
        fields["region"] = str(auth["aws_region"])
    return fields


def policy_from_env(get: Any) -> CookiePolicy:
    mode = (get("COOKIE_MODE") or "amplify").lower()
    secure_text = (get("COOKIE_SECURE") or "true").lower()
    if secure_text not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"COOKIE_SECURE must be true or false, got {secure_text!r}")
    secure = secure_text in ("true", "1", "yes")
    domain = get("COOKIE_DOMAIN")
    if mode == "server-only":
        return CookiePolicy.server_only(secure=secure, domain=domain)
    if mode != "amplify":
        raise ConfigError(f"COOKIE_MODE must be 'amplify' or 'server-only', got {mode!r}")
    return CookiePolicy(secure=secure, domain=domain)
