"""What moto's real Cognito API answers to bad sign-ins, as the handler sees it: a real "no" is
``ProviderRejected`` (never a 500), a pending step is ``SignInChallenge``, and nothing is set."""

from __future__ import annotations

import pytest

from ssrauth import ProviderRejected, SessionManager, SignInChallenge
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("alice", "wrong-Passw0rd!", "NotAuthorizedException"),
        ("nobody", PASSWORD, "UserNotFoundException"),
    ],
)
async def test_bad_credentials_are_rejections(
    manager: SessionManager, username: str, password: str, code: str
) -> None:
    auth = await manager.aload("", "/signin", HOST)

    with pytest.raises(ProviderRejected) as rejected:
        await auth.asign_in(username, password)

    assert rejected.value.code == code
    assert auth.session is None
    assert auth.set_cookie_headers() == []


async def test_a_temporary_password_is_a_challenge_not_a_session(
    manager: SessionManager, emulator: CognitoEmulator
) -> None:
    emulator.call("AdminCreateUser", {"UserPoolId": emulator.user_pool_id, "Username": "dave",
                                      "TemporaryPassword": PASSWORD, "MessageAction": "SUPPRESS"})
    auth = manager.load("", "/signin", HOST)

    with pytest.raises(SignInChallenge) as challenge:
        auth.sign_in("dave", PASSWORD)

    assert challenge.value.challenge == "NEW_PASSWORD_REQUIRED"
    assert challenge.value.session
    assert auth.set_cookie_headers() == []
