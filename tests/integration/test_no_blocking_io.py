"""Under ASGI, no request makes a blocking call: every provider and store round trip of a whole
session's life (load, refresh, sign-in, sign-out, the OIDC callback) goes through the async
faces, the revocation re-check before the response included.

The provider's blocking HTTP client and the store's blocking face below refuse every call and
write it down; a blocking call on the event loop would hold every other request of the worker
for a network round trip. The tests assert both the outcome in the browser's jar and that
nothing was refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ssrauth import (
    CognitoProvider,
    ManualClock,
    OidcProvider,
    SessionManager,
    SharedCoordinator,
)
from ssrauth._coordination.sqlite import SqliteStore
from ssrauth._coordination.store import Answer, Op
from ssrauth.emulator import CognitoEmulator
from tests.integration.oidc.idp import AT_TTL, TestIdp
from tests.integration.oidc.oidc_app import PREFIX as OIDC_PREFIX
from tests.integration.oidc.oidc_app import build_oidc_app, log_in, oidc_config
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import PREFIX, value_of

pytestmark = pytest.mark.anyio

class Refused:
    """Blocking calls that were attempted (and refused)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def refuse(self, what: str) -> AssertionError:
        self.calls.append(what)
        return AssertionError(f"blocking call on the event loop: {what}")


class RefusingTransport(httpx.BaseTransport):
    """A provider's blocking HTTP client that never sends anything."""

    def __init__(self, refused: Refused) -> None:
        self.refused = refused

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise self.refused.refuse(f"{request.method} {request.url}")


class AsyncOnlyStore:
    """A real SQLite store whose blocking face refuses on an event loop (the revocation feed's
    own thread may use it: it holds no loop)."""

    def __init__(self, inner: SqliteStore, refused: Refused) -> None:
        self.inner = inner
        self.refused = refused

    def run(self, op: Op) -> Answer:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread
            return self.inner.run(op)
        raise self.refused.refuse(f"store {type(op).__name__}")

    async def arun(self, op: Op) -> Answer:
        return await self.inner.arun(op)


@pytest.fixture
def refused() -> Iterator[Refused]:
    refused = Refused()
    yield refused
    assert refused.calls == []


def shared(tmp_path: Path, clock: ManualClock, refused: Refused) -> SharedCoordinator:
    return SharedCoordinator(AsyncOnlyStore(SqliteStore(tmp_path / "ssrauth.db"), refused),
                             clock=clock)


async def refresh_then_sign_out(
    browser: Browser, clock: ManualClock, lifetime: float, access: str, prefix: str
) -> None:
    """A signed-in browser: a page, a refresh (whose response re-checks for a sign-out), a
    sign-out; the jar holds what each step should leave."""
    signed_in = value_of(browser.jar, access)
    assert (await browser.get("/api/me")).status_code == 200

    clock.advance(lifetime)  # expired: the next request refreshes
    assert (await browser.get("/api/me")).status_code == 200
    assert value_of(browser.jar, access) != signed_in

    assert (await browser.post("/signout")).status_code == 200
    assert not [c for c in browser.jar.cookies if c.name.startswith(prefix + ".")]
    assert (await browser.get("/api/me")).status_code == 401


async def test_a_cognito_session_lives_and_ends_without_a_blocking_call(
    emulator: CognitoEmulator, clock: ManualClock, tmp_path: Path, refused: Refused
) -> None:
    config = emulator.config()
    provider = CognitoProvider(config, client=httpx.Client(transport=RefusingTransport(refused)))
    manager = SessionManager(config, clock=clock, provider=provider,
                             coordinator=shared(tmp_path, clock, refused))
    browser = Browser(build_app(manager))
    access = f"{PREFIX}.{config.client_id}.alice.accessToken"

    await browser.sign_in("alice")
    await refresh_then_sign_out(browser, clock, 3600, access, PREFIX)


async def test_an_oidc_session_lives_and_ends_without_a_blocking_call(
    idp: TestIdp, clock: ManualClock, tmp_path: Path, refused: Refused
) -> None:
    idp.proxy.fail_with = None
    config = oidc_config(idp)
    provider = OidcProvider(config, client=httpx.Client(transport=RefusingTransport(refused)))
    manager = SessionManager(config, clock=clock, provider=provider,
                             coordinator=shared(tmp_path, clock, refused))
    browser = Browser(build_oidc_app(manager))
    access = f"{OIDC_PREFIX}.alice.accessToken"

    await log_in(browser, idp)  # /login, the provider's forms, the callback
    await refresh_then_sign_out(browser, clock, AT_TTL + 5, access, OIDC_PREFIX)
