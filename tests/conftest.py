"""Shared fixtures: a real Cognito API (moto on loopback) on a clock the test can move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssrauth import CookiePolicy, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD


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
