"""Cognito's refresh-token rotation and revocation rules on top of moto's real API (moto lacks
GetTokensFromRefreshToken and RevokeToken): a retired refresh token is answered
RefreshTokenReuseException (RetryGracePeriodSeconds=0), a revoked one NotAuthorizedException,
as Cognito does."""

from __future__ import annotations

import json
from typing import Any

from .outages import FlakyCognito

_TARGET = "AWSCognitoIdentityProviderService."


class RotatingCognito(FlakyCognito):
    """moto behind Cognito's rotation and revocation rules, for one user whose password the test
    knows."""

    def __init__(self, upstream: str, client_id: str, username: str, password: str) -> None:
        super().__init__(upstream)
        self.client_id, self.username, self.password = client_id, username, password
        self.retired: set[str] = set()
        self.revoked: set[str] = set()
        self.rotations = 0

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        target = headers["x-amz-target"]
        if target == _TARGET + "RevokeToken":
            self.revoked.add(json.loads(body)["Token"])
            return 200, {"content-type": "application/x-amz-json-1.1"}, b"{}"
        if target != _TARGET + "GetTokensFromRefreshToken":
            return super().answer(headers, body)
        refresh_token = json.loads(body)["RefreshToken"]
        if refresh_token in self.revoked:
            return _error("NotAuthorizedException", "Refresh Token has been revoked")
        if refresh_token in self.retired:
            return _error("RefreshTokenReuseException", "already rotated")
        status, kept, payload = self._initiate_auth("REFRESH_TOKEN_AUTH",
                                                    {"REFRESH_TOKEN": refresh_token})
        if status != 200:
            return status, kept, payload
        result = json.loads(payload)
        _, _, fresh = self._initiate_auth("USER_PASSWORD_AUTH",
                                          {"USERNAME": self.username, "PASSWORD": self.password})
        result["AuthenticationResult"]["RefreshToken"] = json.loads(fresh)[
            "AuthenticationResult"]["RefreshToken"]
        self.retired.add(refresh_token)
        self.rotations += 1
        return 200, kept, json.dumps(result).encode()

    def _initiate_auth(
        self, flow: str, parameters: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        body = {"AuthFlow": flow, "ClientId": self.client_id, "AuthParameters": parameters}
        headers = {"content-type": "application/x-amz-json-1.1",
                   "x-amz-target": _TARGET + "InitiateAuth"}
        return self._forward(headers, json.dumps(body).encode())


def _error(name: str, message: str) -> tuple[int, dict[str, str], bytes]:
    payload = json.dumps({"__type": name, "message": message}).encode()
    return 400, {"content-type": "application/x-amz-json-1.1"}, payload
