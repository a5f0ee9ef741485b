"""OIDC fixtures: one oidc-provider for the session (tests/oidc, behind a counting proxy), and per
test a fresh ssrauth manager on a movable clock in front of a FastAPI app with /login and
/callback, as docs/oidc.md shows (built in :mod:`tests.integration.oidc.oidc_app`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssrauth import (
    LocalCoordinator,
    ManualClock,
    SessionManager,
)
from tests.integration.oidc.idp import TestIdp
from tests.integration.oidc.oidc_app import build_oidc_app, oidc_config
from tests.integration.rig.browsers import Browser


@pytest.fixture
def manager(idp: TestIdp, clock: ManualClock) -> Iterator[SessionManager]:
    idp.proxy.fail_with = None
    with SessionManager(oidc_config(idp), clock=clock,
                        coordinator=LocalCoordinator(clock=clock)) as manager:
        yield manager


@pytest.fixture
def browser(manager: SessionManager) -> Browser:
    return Browser(build_oidc_app(manager))
