"""Cognito user-pool API client (JSON 1.1 over httpx): sign-in, refresh, revoke, global sign-out.

The I/O edge of ssrauth. Every answer is classified once, here: :class:`ProviderRejected` for a
real "no" (the session is over) and :class:`ProviderUnavailable` for everything else (keep the
cookies, try again later). Each operation is written once as a protocol of typed steps
(``_core.steps``) and run by a blocking and an async face.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from .._config.cognito import CognitoConfig
from .._core.errors import ProviderError, ProviderRejected, ProviderUnavailable, SignInChallenge
from .._core.steps import Handlers, Step, Steps, adrive, ask, drive
from .._core.tokens import TokenSet
from .http import HttpClients, endpoint, transport_error
from .jwks import JwksLocator
from .provider import SignInResult

__all__ = ["CognitoProvider", "SignInResult"]

logger = logging.getLogger("ssrauth")

#: The errors after which Amplify's refresh clears the tokens (aws-amplify 6.15.8 ``handleErrors``)
#: and a password sign-in cannot succeed by retrying: the session (or attempt) is over.
REJECTIONS = frozenset(
    {
        "NotAuthorizedException",
        "TokenRevokedException",
        "UserNotFoundException",
        "PasswordResetRequiredException",
        "UserNotConfirmedException",
        "RefreshTokenReuseException",
    }
)
#: Answers meaning "this endpoint does not have the operation": AWS answers
#: UnknownOperationException; moto 5.2.5 answers a bare HTML 500 for GetTokensFromRefreshToken and
#: RevokeToken. An HTML 500 is only read so before the operation has ever succeeded.
_UNSUPPORTED_CODES = frozenset({"UnknownOperationException", "UnsupportedOperationException"})


class _Unsupported(ProviderUnavailable):
    """The endpoint lacks the operation; the protocol falls back to an older one.

    ``certain``: it said so (UnknownOperationException); otherwise it is a guess from a bare
    HTML 500, which an outage can produce too.
    """

    def __init__(self, message: str, code: str | None, *, certain: bool) -> None:
        super().__init__(message, code)
        self.certain = certain


@dataclass(frozen=True, slots=True)
class _Call(Step[dict[str, Any]]):
    """One Cognito API operation; answered with its JSON body."""

    operation: str
    body: dict[str, Any]


class CognitoProvider:
    """Talks to one user-pool app client. Thread-safe; one instance per application.

    A :class:`~ssrauth.Provider` with password sign-in and global sign-out; its keys are at the
    configured JWKS URL and it has no RP-initiated logout.
    """

    redirect_sign_in: None = None
    jwks_locator: JwksLocator | None = None

    def __init__(
        self,
        config: CognitoConfig,
        *,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self._http = HttpClients(config.timeout, client, async_client)
        #: None until the endpoint told us whether it has GetTokensFromRefreshToken.
        self.supports_token_rotation_api: bool | None = None
        #: None until the endpoint told us whether it has RevokeToken.
        self.supports_revoke_token: bool | None = None
        self._warned_no_revoke = False
        self._handlers = Handlers().on(_Call, self._send, self._asend)

    # -- capabilities (see Provider) -----------------------------------------------------------

    @property
    def password_sign_in(self) -> CognitoProvider:
        return self

    @property
    def sign_out_everywhere(self) -> CognitoProvider:
        return self

    def end_session_url(self, id_token: str | None) -> None:
        """None: a Cognito session lives in its cookies only (the Hosted UI's ``/logout`` is
        for Hosted UI sign-ins, which ssrauth does not make)."""

    # -- public faces --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients made here (never a client passed in: its owner closes it)."""
        self._http.close()

    async def aclose(self) -> None:
        await self._http.aclose()

    def sign_in(self, username: str, password: str) -> SignInResult:
        return drive(self._sign_in(username, password), self._handlers)

    async def asign_in(self, username: str, password: str) -> SignInResult:
        return await adrive(self._sign_in(username, password), self._handlers)

    def refresh(self, refresh_token: str, username: str | None) -> TokenSet:
        return drive(self._refresh(refresh_token, username), self._handlers)

    async def arefresh(self, refresh_token: str, username: str | None) -> TokenSet:
        return await adrive(self._refresh(refresh_token, username), self._handlers)

    def revoke(self, refresh_token: str) -> bool:
        """Revoke a refresh token (and its access tokens). False: the endpoint cannot."""
        return drive(self._revoke(refresh_token), self._handlers)

    async def arevoke(self, refresh_token: str) -> bool:
        return await adrive(self._revoke(refresh_token), self._handlers)

    def global_sign_out(self, access_token: str) -> None:
        """Sign the user out of every device (GlobalSignOut): all their refresh tokens die."""
        drive(self._global_sign_out(access_token), self._handlers)

    async def aglobal_sign_out(self, access_token: str) -> None:
        await adrive(self._global_sign_out(access_token), self._handlers)

    # -- protocols (written once) --------------------------------------------------------------

    def _sign_in(self, username: str, password: str) -> Steps[SignInResult]:
        parameters = {"USERNAME": username, "PASSWORD": password}
        self._add_secret_hash(parameters, username)
        call = _Call("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH",
                                      "ClientId": self.config.client_id,
                                      "AuthParameters": parameters})
        data = yield from ask(call)
        if "AuthenticationResult" not in data:
            raise SignInChallenge(str(data.get("ChallengeName", "unknown")), data.get("Session"))
        challenge = data.get("ChallengeParameters") or {}
        name = challenge.get("USERNAME") or challenge.get("USER_ID_FOR_SRP") or username
        details = json.dumps({"loginId": username, "authFlowType": "USER_PASSWORD_AUTH"},
                             separators=(",", ":"))
        return SignInResult(str(name), _token_set(data, None, self._where(call)), details)

    def _refresh(self, refresh_token: str, username: str | None) -> Steps[TokenSet]:
        """Refresh, preferring the rotation-capable API (what Amplify ≥ 6.15.4 uses).

        Where the endpoint lacks it, InitiateAuth REFRESH_TOKEN_AUTH. An endpoint that said so
        plainly (UnknownOperationException) is believed at once. A bare HTML 500, which is how
        moto says it but also how a broken proxy says anything, is only believed once the
        fallback got a real Cognito answer: an outage must never switch the rotation API off.
        """
        if self.supports_token_rotation_api is not False:
            body: dict[str, Any] = {"ClientId": self.config.client_id,
                                    "RefreshToken": refresh_token}
            if self.config.client_secret:
                body["ClientSecret"] = self.config.client_secret
            try:
                call = _Call("GetTokensFromRefreshToken", body)
                data = yield from ask(call)
            except _Unsupported as unsupported:
                if self.supports_token_rotation_api or not self._may_believe(unsupported):
                    raise ProviderUnavailable(unsupported.message, unsupported.code) from None
                if unsupported.certain:
                    self._learn_no_rotation_api()
            else:
                self.supports_token_rotation_api = True
                return _token_set(data, refresh_token, self._where(call))
        parameters = {"REFRESH_TOKEN": refresh_token}
        if username is not None:
            self._add_secret_hash(parameters, username)
        call = _Call("InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH",
                                      "ClientId": self.config.client_id,
                                      "AuthParameters": parameters})
        try:
            data = yield from ask(call)
        except ProviderError as error:
            if error.code is not None:  # a Cognito JSON answer: the endpoint speaks the API
                self._learn_no_rotation_api()
            raise
        self._learn_no_rotation_api()
        return _token_set(data, refresh_token, self._where(call))

    def _learn_no_rotation_api(self) -> None:
        if self.supports_token_rotation_api is None:
            logger.info("ssrauth: endpoint lacks GetTokensFromRefreshToken; using "
                        "InitiateAuth REFRESH_TOKEN_AUTH (no refresh-token rotation)")
            self.supports_token_rotation_api = False

    def _may_believe(self, unsupported: _Unsupported) -> bool:
        """AWS itself never answers an HTML 500; only a custom endpoint (moto, LocalStack, a
        proxy) may be taken at such a word."""
        return unsupported.certain or self.config.endpoint_url is not None

    def _revoke(self, refresh_token: str) -> Steps[bool]:
        """RevokeToken. Answers False where the endpoint lacks it (moto): the caller's tombstone
        is then all that stands between the old token and a new session, and it logs so. Only
        a plain "unknown operation" is remembered; a bare 500 is asked again next time."""
        if self.supports_revoke_token is False:
            return False
        body: dict[str, Any] = {"ClientId": self.config.client_id, "Token": refresh_token}
        if self.config.client_secret:
            body["ClientSecret"] = self.config.client_secret
        try:
            yield from ask(_Call("RevokeToken", body))
        except _Unsupported as unsupported:
            if self.supports_revoke_token or not self._may_believe(unsupported):
                raise ProviderUnavailable(unsupported.message, unsupported.code) from None
            if not self._warned_no_revoke:
                logger.warning("ssrauth: endpoint lacks RevokeToken; refresh tokens are not "
                               "revoked, only tombstoned by the coordinator")
                self._warned_no_revoke = True
            if unsupported.certain:
                self.supports_revoke_token = False
            return False
        self.supports_revoke_token = True
        return True

    def _global_sign_out(self, access_token: str) -> Steps[None]:
        yield from ask(_Call("GlobalSignOut", {"AccessToken": access_token}))

    def _add_secret_hash(self, parameters: dict[str, str], username: str) -> None:
        """SECRET_HASH = Base64(HMAC-SHA256(client secret, username + client id))."""
        secret = self.config.client_secret
        if secret:
            digest = hmac.new(secret.encode(), (username + self.config.client_id).encode(),
                              hashlib.sha256).digest()
            parameters["SECRET_HASH"] = base64.b64encode(digest).decode()

    # -- transport (the only part that differs between the faces) ------------------------------

    def _url(self) -> str:
        return self.config.api_url + "/"

    def _where(self, call: _Call) -> str:
        """The operation and its endpoint, for error messages (never the request body)."""
        return f"{call.operation} at {endpoint(self._url())}"

    def _request(self, call: _Call) -> tuple[dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{call.operation}",
        }
        return headers, json.dumps(call.body).encode()

    def _send(self, call: _Call) -> dict[str, Any]:
        headers, content = self._request(call)
        try:
            response = self._http.sync().post(self._url(), headers=headers, content=content)
        except httpx.HTTPError as error:
            raise transport_error(call.operation, self._url(), error) from None
        return _classify(self._where(call), response)

    async def _asend(self, call: _Call) -> dict[str, Any]:
        headers, content = self._request(call)
        try:
            response = await self._http.async_().post(self._url(), headers=headers,
                                                      content=content)
        except httpx.HTTPError as error:
            raise transport_error(call.operation, self._url(), error) from None
        return _classify(self._where(call), response)


def _classify(where: str, response: httpx.Response) -> dict[str, Any]:
    """Turn an HTTP answer into data or the one error class that says what to do about it.
    ``where`` (the operation at its endpoint) goes into every message."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.is_success:
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{where}: answer is not a JSON object")
        return data
    code = None
    message = response.reason_phrase
    if isinstance(data, dict):
        code = str(data.get("__type", "")).rpartition("#")[2] or None
        message = str(data.get("message") or data.get("Message") or message)
    code = code or response.headers.get("x-amzn-errortype", "").partition(":")[0] or None
    if code in _UNSUPPORTED_CODES or (response.status_code in (500, 501) and data is None):
        raise _Unsupported(f"{where}: not supported by this endpoint", code,
                           certain=code in _UNSUPPORTED_CODES)
    if code in REJECTIONS:
        raise ProviderRejected(f"{message} ({where})", code)
    raise ProviderUnavailable(f"{where} answered HTTP {response.status_code}: {message}", code)


def _token_set(data: dict[str, Any], previous_refresh_token: str | None, where: str) -> TokenSet:
    result = data.get("AuthenticationResult")
    if not isinstance(result, dict) or not isinstance(result.get("AccessToken"), str):
        raise ProviderUnavailable(f"{where}: answer has no AuthenticationResult.AccessToken")
    refresh = result.get("RefreshToken") or previous_refresh_token
    if not isinstance(refresh, str):
        raise ProviderUnavailable(f"{where}: sign-in answer has no refresh token")
    id_token = result.get("IdToken")
    return TokenSet(
        access_token=result["AccessToken"],
        id_token=id_token if isinstance(id_token, str) else None,
        refresh_token=refresh,
    )
