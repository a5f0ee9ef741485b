"""Shared fixtures: a real Cognito API (moto on loopback) on a clock the test can move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssrauth import CookiePolicy, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD


@pytest.fixture(autouse=True, scope="session")
def runtime_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The per-user runtime directory where a SessionManager built without a coordinator keeps
    its default SQLite store: one of this run's own (0700), not the machine's."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_RUNTIME_DIR", str(folder))
        yield


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, what uvicorn serves ssrauth on."""
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[CognitoEmulator]:
    with CognitoEmulator(clock) as emu:
        emu.create_user("alice", PASSWORD)
        emu.create_user("bob@example.com", PASSWORD)
        yield emu


@pytest.fixture
def policy() -> CookiePolicy:
    return CookiePolicy()


@pytest.fixture
def manager(
    emulator: CognitoEmulator, clock: ManualClock, policy: CookiePolicy
) -> Iterator[SessionManager]:
    with SessionManager(emulator.config(cookie_policy=policy), clock=clock) as manager:
        yield manager
