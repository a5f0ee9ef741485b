"""Integration fixtures: the app under test, a browser in front of it, and a failing Cognito
endpoint. The rig they are built from is in :mod:`tests.integration.rig`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from ssrauth import SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.integration.oidc.idp import TestIdp, running_idp
from tests.integration.oidc.oidc_app import REDIRECT_URI
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.outages import FlakyCognito


@pytest.fixture
def app(manager: SessionManager) -> FastAPI:
    return build_app(manager)


@pytest.fixture
def browser(app: FastAPI) -> Browser:
    return Browser(app)


@pytest.fixture(scope="session")
def idp() -> Iterator[TestIdp]:
    """One oidc-provider (tests/oidc) for the session, behind a counting proxy; started only
    when a test asks for it (the OIDC tests, and the no-blocking test's callback)."""
    yield from running_idp(REDIRECT_URI)


@pytest.fixture
def flaky(emulator: CognitoEmulator) -> Iterator[FlakyCognito]:
    server = FlakyCognito(emulator.url).start()
    yield server
    server.stop()
