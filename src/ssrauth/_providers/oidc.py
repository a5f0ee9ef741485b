"""OpenID Connect provider client over httpx: discovery, authorization-code exchange (PKCE
S256), refresh_token grant, RFC 7009 revocation.

The I/O edge for any OIDC issuer, the counterpart of ``cognito``. Every answer is classified
once, here: :class:`ProviderRejected` only for a real "no" about the grant (``invalid_grant``,
``invalid_token``): the session is over; :class:`ProviderUnavailable` for everything else,
including ``invalid_client`` (a configuration problem: logging every user out would not fix it),
throttling and 5xx. Each operation is a protocol of typed steps (``_core.steps``) run blocking
or async.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from .._config.oidc import OidcConfig
from .._core.errors import ProviderRejected, ProviderUnavailable
from .._core.steps import Handlers, Step, Steps, adrive, ask, drive
from .._core.tokens import TokenSet
from .http import HttpClients, endpoint, transport_error

__all__ = ["OidcMetadata", "OidcProvider", "pkce_challenge"]

logger = logging.getLogger("ssrauth")

#: OAuth error codes that say "this grant (or token) is dead": the only ones that end a session.
REJECTIONS = frozenset({"invalid_grant", "invalid_token"})


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class OidcMetadata:
    """The parts of the discovery document ssrauth uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str | None
    end_session_endpoint: str | None

    @classmethod
    def from_json(cls, document: Any, issuer: str, url: str) -> OidcMetadata:
        """The metadata of ``document``, fetched from ``url`` (named in every refusal)."""
        where = f"discovery at {endpoint(url)}"
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"{where}: document is not a JSON object")
        # OIDC Discovery §4.3: the issuer must be identical to the one we asked; anything else
        # is a mix-up (or an attacker's document), never something to adapt to.
        if document.get("issuer") != issuer:
            raise ProviderUnavailable(
                f"{where}: issuer {document.get('issuer')!r} is not {issuer!r}")
        required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not all(isinstance(document.get(k), str) for k in required):
            raise ProviderUnavailable(f"{where}: document lacks one of {', '.join(required)}")

        def optional(key: str) -> str | None:
            value = document.get(key)
            return value if isinstance(value, str) and value else None

        return cls(issuer, document["authorization_endpoint"], document["token_endpoint"],
                   document["jwks_uri"], optional("revocation_endpoint"),
                   optional("end_session_endpoint"))


@dataclass(frozen=True, slots=True)
class _Get(Step[dict[str, Any]]):
    """A GET whose answer is a JSON object (the discovery document)."""

    url: str
    what: str = "discovery"

    @property
    def where(self) -> str:
        return f"{self.what} at {endpoint(self.url)}"


@dataclass(frozen=True, slots=True)
class _Post(Step[dict[str, Any]]):
    """A form POST to the token or revocation endpoint, with the client's authentication."""

    url: str
    form: Mapping[str, str]
    what: str

    @property
    def where(self) -> str:
        """What was asked where, for error messages: never the form (it carries tokens)."""
        return f"{self.what} at {endpoint(self.url)}"



class OidcProvider:
    """Talks to one OIDC client of one issuer. Thread-safe; one instance per application.

    The discovery document is fetched on first need and kept; a failed fetch is not kept (the
    next request asks again). A :class:`~ssrauth.Provider` that signs in by redirect, finds
    its keys through discovery and offers RP-initiated logout; it has no password sign-in
    and no global sign-out.
    """

    password_sign_in: None = None
    sign_out_everywhere: None = None

    def __init__(
        self,
        config: OidcConfig,
        *,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self._http = HttpClients(config.timeout, client, async_client)
        self.metadata: OidcMetadata | None = None
        self._handlers = (Handlers().on(_Get, self._get, self._aget)
                          .on(_Post, self._post, self._apost))

    # -- capabilities (see Provider) -----------------------------------------------------------

    @property
    def redirect_sign_in(self) -> OidcProvider:
        return self

    @property
    def jwks_locator(self) -> OidcProvider:
        return self

    # -- public faces --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients made here (never a client passed in: its owner closes it)."""
        self._http.close()

    async def aclose(self) -> None:
        await self._http.aclose()

    def discover(self) -> OidcMetadata:
        return drive(self._discover(), self._handlers)

    async def adiscover(self) -> OidcMetadata:
        return await adrive(self._discover(), self._handlers)

    def jwks_uri(self) -> str:
        return self.config.jwks_url or self.discover().jwks_uri

    async def ajwks_uri(self) -> str:
        return self.config.jwks_url or (await self.adiscover()).jwks_uri

    def authorization_url(self, state: str, verifier: str, nonce: str) -> str:
        return drive(self._authorization_url(state, verifier, nonce), self._handlers)

    async def aauthorization_url(self, state: str, verifier: str, nonce: str) -> str:
        return await adrive(self._authorization_url(state, verifier, nonce), self._handlers)

    def exchange_code(self, code: str, verifier: str) -> TokenSet:
        return drive(self._exchange_code(code, verifier), self._handlers)

    async def aexchange_code(self, code: str, verifier: str) -> TokenSet:
        return await adrive(self._exchange_code(code, verifier), self._handlers)

    def refresh(self, refresh_token: str, username: str | None) -> TokenSet:  # noqa: ARG002
        return drive(self._refresh(refresh_token), self._handlers)

    async def arefresh(self, refresh_token: str, username: str | None) -> TokenSet:  # noqa: ARG002
        return await adrive(self._refresh(refresh_token), self._handlers)

    def revoke(self, refresh_token: str) -> bool:
        """RFC 7009 revocation. False: the provider advertises no revocation endpoint."""
        return drive(self._revoke(refresh_token), self._handlers)

    async def arevoke(self, refresh_token: str) -> bool:
        return await adrive(self._revoke(refresh_token), self._handlers)

    def end_session_url(
        self, id_token: str | None, post_logout_redirect_uri: str | None = None
    ) -> str | None:
        """RP-initiated logout (OIDC RP-Initiated Logout 1.0), if the provider offers it. No
        I/O: the discovery document is known by the time anyone signs out."""
        metadata = self.metadata
        if metadata is None or metadata.end_session_endpoint is None:
            return None
        params = {"client_id": self.config.client_id}
        if id_token is not None:
            params["id_token_hint"] = id_token
        if post_logout_redirect_uri is not None:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        return _with_query(metadata.end_session_endpoint, params)

    # -- protocols (written once) --------------------------------------------------------------

    def _discover(self) -> Steps[OidcMetadata]:
        if self.metadata is None:
            url = self.config.discovery_url
            document = yield from ask(_Get(url))
            self.metadata = OidcMetadata.from_json(document, self.config.issuer, url)
        return self.metadata

    def _authorization_url(self, state: str, verifier: str, nonce: str) -> Steps[str]:
        metadata = yield from self._discover()
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            **self.config.authorize_params,
        }
        return _with_query(metadata.authorization_endpoint, params)

    def _exchange_code(self, code: str, verifier: str) -> Steps[TokenSet]:
        metadata = yield from self._discover()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.config.redirect_uri, "code_verifier": verifier}
        call = _Post(metadata.token_endpoint, form, "code exchange")
        data = yield from ask(call)
        tokens = _token_set(data, None, call.where)
        if tokens is None:
            raise ProviderUnavailable(
                f"{call.where}: the provider issued no refresh token: request offline_access "
                "(some providers also want prompt=consent, see OidcConfig.authorize_params)")
        return tokens

    def _refresh(self, refresh_token: str) -> Steps[TokenSet]:
        metadata = yield from self._discover()
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        call = _Post(metadata.token_endpoint, form, "refresh")
        data = yield from ask(call)
        tokens = _token_set(data, refresh_token, call.where)
        assert tokens is not None  # the old refresh token stands in for an absent new one
        return tokens

    def _revoke(self, refresh_token: str) -> Steps[bool]:
        metadata = yield from self._discover()
        if metadata.revocation_endpoint is None:
            logger.info("ssrauth: the provider has no revocation endpoint; the refresh token "
                        "is only tombstoned")
            return False
        form = {"token": refresh_token, "token_type_hint": "refresh_token"}
        yield from ask(_Post(metadata.revocation_endpoint, form, "revocation"))
        return True

    # -- transport (the only part that differs between the faces) ------------------------------

    def _authenticated(self, call: _Post) -> tuple[dict[str, str], dict[str, str]]:
        """Form and headers with the client's authentication (RFC 6749 §2.3.1)."""
        form, headers = dict(call.form), {"Accept": "application/json"}
        secret = self.config.client_secret
        if secret is None:
            form["client_id"] = self.config.client_id
        elif self.config.token_auth == "client_secret_post":
            form["client_id"], form["client_secret"] = self.config.client_id, secret
        else:
            pair = f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return form, headers

    def _get(self, call: _Get) -> dict[str, Any]:
        try:
            return _classify(call.where, self._http.sync().get(call.url))
        except httpx.HTTPError as error:
            raise transport_error(call.what, call.url, error) from None

    async def _aget(self, call: _Get) -> dict[str, Any]:
        try:
            return _classify(call.where, await self._http.async_().get(call.url))
        except httpx.HTTPError as error:
            raise transport_error(call.what, call.url, error) from None

    def _post(self, call: _Post) -> dict[str, Any]:
        form, headers = self._authenticated(call)
        try:
            return _classify(call.where, self._http.sync().post(call.url, data=form,
                                                                headers=headers))
        except httpx.HTTPError as error:
            raise transport_error(call.what, call.url, error) from None

    async def _apost(self, call: _Post) -> dict[str, Any]:
        form, headers = self._authenticated(call)
        try:
            return _classify(call.where, await self._http.async_().post(call.url, data=form,
                                                                        headers=headers))
        except httpx.HTTPError as error:
            raise transport_error(call.what, call.url, error) from None


def _with_query(endpoint: str, params: Mapping[str, str]) -> str:
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def _classify(where: str, response: httpx.Response) -> dict[str, Any]:
    """Data, or the one error class that says what to do about the answer; ``where`` (what was
    asked at which endpoint) goes into every message."""
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = None
    if response.is_success:
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{where}: answer is not a JSON object")
        return data
    code = str(data.get("error", "")) or None if isinstance(data, dict) else None
    message = (str(data.get("error_description") or response.reason_phrase)
               if isinstance(data, dict) else response.reason_phrase)
    # Only a 4xx can be a verdict; 429 and 5xx are the provider's trouble, whatever they say.
    if code in REJECTIONS and 400 <= response.status_code < 500 and response.status_code != 429:
        raise ProviderRejected(f"{message} ({where})", code)
    raise ProviderUnavailable(f"{where} answered HTTP {response.status_code}: {message}", code)


def _token_set(
    data: Mapping[str, Any], previous_refresh_token: str | None, where: str
) -> TokenSet | None:
    """The token response; a rotated refresh token replaces the old, an absent one keeps it.
    None when there is no refresh token at all."""
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderUnavailable(f"{where}: token answer has no access_token")
    refresh = data.get("refresh_token") or previous_refresh_token
    if not isinstance(refresh, str):
        return None
    id_token = data.get("id_token")
    expires_in = data.get("expires_in")
    try:
        lifetime = int(expires_in) if expires_in is not None else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's 1e999 is inf
        lifetime = None
    return TokenSet(access_token=access,
                    id_token=id_token if isinstance(id_token, str) else None,
                    refresh_token=refresh, expires_in=lifetime)
