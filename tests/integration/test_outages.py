"""When Cognito or its signing keys cannot be reached, nobody is logged out: cookies stay exactly
as they were, the request is anonymous (503 + Retry-After where a user is required), and the next
request after the outage refreshes normally. Every outage is a real network condition on
loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from ssrauth import Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.checks import assert_canonical, assert_served_through_an_outage
from tests.integration.rig.cookies import cookie_name, jar_state, session_names, value_of
from tests.integration.rig.outages import FlakyCognito, flaky_config
from tests.integration.rig.waiting import wait_until

pytestmark = pytest.mark.anyio

OUTAGES = ["refused", "timeout", "http500", "html500", "html502", "throttled"]


@pytest.fixture
def flaky_manager(
    emulator: CognitoEmulator, flaky: FlakyCognito, clock: ManualClock
) -> Iterator[SessionManager]:
    with SessionManager(flaky_config(emulator, flaky), clock=clock) as manager:
        yield manager


@pytest.mark.parametrize("outage", OUTAGES)
async def test_outage_keeps_cookies_then_recovers(
    flaky_manager: SessionManager,
    emulator: CognitoEmulator,
    flaky: FlakyCognito,
    clock: ManualClock,
    outage: str,
) -> None:
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")  # through the proxy while it is up
    cid = emulator.client_id
    access_name = cookie_name(cid, "alice", "accessToken")
    old_access = value_of(browser.jar, access_name)
    clock.advance(3600)
    before = jar_state(browser.jar)
    flaky.set_mode(outage)

    api = await browser.get("/api/me")
    page = await browser.get("/orders/42")

    assert_served_through_an_outage(api, page)
    assert jar_state(browser.jar) == before
    assert emulator.refresh_calls() == 0
    assert flaky_manager.events.count(Event.PROVIDER_UNAVAILABLE) == 2
    assert flaky_manager.events.count(Event.REFRESH_REJECTED) == 0
    if outage != "refused":
        assert outage in flaky.answered  # the failure really went over the wire

    flaky.set_mode("up")
    clock.advance(2)  # past the rest a timed-out token takes (2 s after one timeout)
    back = await browser.get("/api/me")

    assert back.status_code == 200
    assert back.json()["username"] == "alice"
    assert emulator.refresh_calls() == 1
    assert_canonical(browser.jar, session_names(cid, "alice"))
    assert value_of(browser.jar, access_name) != old_access


@pytest.mark.parametrize("outage", ["refused", "throttled"])
async def test_outage_inside_the_refresh_margin_keeps_serving_the_user(
    flaky_manager: SessionManager,
    emulator: CognitoEmulator,
    flaky: FlakyCognito,
    clock: ManualClock,
    outage: str,
) -> None:
    """Seconds before expiry ssrauth tries to refresh (Amplify's 5 s margin); if that fails the
    still-valid token keeps serving the request."""
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")
    clock.advance(3600 - 3)
    before = jar_state(browser.jar)
    flaky.set_mode(outage)

    api = await browser.get("/api/me")

    assert api.status_code == 200
    assert api.json()["username"] == "alice"
    assert "set-cookie" not in api.headers
    assert jar_state(browser.jar) == before
    assert flaky_manager.events.count(Event.PROVIDER_UNAVAILABLE) == 1


async def test_a_provider_slower_than_the_timeout_is_called_once_per_token_until_a_backoff(
    flaky_manager: SessionManager,
    emulator: CognitoEmulator,
    flaky: FlakyCognito,
    clock: ManualClock,
) -> None:
    """A provider answering after our timeout (6 s against 5 s in production; 2.5 s against
    1.5 s here) still makes the call we gave up on. The requests waiting for it, and those that
    come within the backoff after it, get 503 + Retry-After without another call; cookies stay.
    Before, every request after the timeout started a new call: two or three per token."""
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")
    clock.advance(3600)
    before = jar_state(browser.jar)
    flaky.delay = 2.5
    flaky.set_mode("slow")

    burst = await asyncio.gather(*(browser.get("/api/me") for _ in range(4)))
    after = [await browser.get("/api/me") for _ in range(3)]
    # moto has no GetTokensFromRefreshToken (a probe, then InitiateAuth): count what arrived.
    await wait_until(lambda: emulator.calls["GetTokensFromRefreshToken"] == 1,
                     "the slow call to reach moto")

    assert [r.status_code for r in [*burst, *after]] == [503] * 7
    assert all(int(r.headers["retry-after"]) in (1, 2) for r in [*burst, *after])
    assert jar_state(browser.jar) == before
    assert flaky.answered == ["up", "slow"]  # the sign-in, then one call for seven requests

    flaky.set_mode("up")
    clock.advance(2)  # the backoff after one timeout
    back = await browser.get("/api/me")

    assert back.status_code == 200
    assert back.json()["username"] == "alice"
    assert emulator.refresh_calls() == 1


def test_the_blocking_face_rests_a_timed_out_token_too(
    flaky_manager: SessionManager, flaky: FlakyCognito, clock: ManualClock
) -> None:
    """WSGI and Django threads: the same rest, through ``load``."""
    signing_in = flaky_manager.load("", "/", HOST)
    signing_in.sign_in("alice", PASSWORD)
    jar = BrowserJar(HOST)
    jar.apply(signing_in.set_cookie_headers())
    clock.advance(3600)
    flaky.delay = 2.5
    flaky.set_mode("slow")

    answers = [flaky_manager.load(jar.cookie_header("/"), "/", HOST) for _ in range(3)]

    assert all(auth.session is None and auth.unavailable is not None for auth in answers)
    assert all(auth.unavailable.retry_after in (1, 2) for auth in answers if auth.unavailable)
    assert flaky.answered == ["up", "slow"]


async def test_sign_in_during_an_outage_sets_nothing(
    flaky_manager: SessionManager, flaky: FlakyCognito
) -> None:
    browser = Browser(build_app(flaky_manager))
    flaky.set_mode("http500")

    response = await browser.post("/signin", data={"username": "alice", "password": "x-1"})

    assert response.status_code == 503
    assert "set-cookie" not in response.headers
    assert browser.jar.cookies == []
    assert flaky.answered == ["http500"]


async def test_an_outage_teaches_the_provider_nothing_about_refresh(
    flaky_manager: SessionManager,
    emulator: CognitoEmulator,
    flaky: FlakyCognito,
    clock: ManualClock,
) -> None:
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")
    clock.advance(3600)
    flaky.set_mode("html500")  # a load balancer's error page, before any refresh succeeded
    assert (await browser.get("/api/me")).status_code == 503
    flaky.set_mode("up")

    assert (await browser.get("/api/me")).status_code == 200

    # Against AWS with refresh-token rotation on, REFRESH_TOKEN_AUTH is refused, so a provider
    # that stopped asking for GetTokensFromRefreshToken after one outage could never refresh
    # again. Here moto is back: the capability must be probed against it, once.
    assert emulator.calls["GetTokensFromRefreshToken"] == 1
    assert emulator.refresh_calls() == 1


async def test_an_outage_during_sign_out_does_not_stop_later_revocations(
    flaky_manager: SessionManager, emulator: CognitoEmulator, flaky: FlakyCognito
) -> None:
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")
    flaky.set_mode("html500")
    assert (await browser.post("/signout")).status_code == 200  # sign-out never fails the user
    flaky.set_mode("up")
    await browser.sign_in("alice")

    assert (await browser.post("/signout")).status_code == 200

    # The tombstone only lives in this process; revocation at Cognito is what protects a copy of
    # the cookies used elsewhere. The endpoint answers again, so it must be asked again.
    assert emulator.calls["RevokeToken"] == 1


#: Amplify 6.15.8's list (``handleErrors``): the answers after which a session is over.
REJECTIONS = [
    "NotAuthorizedException",
    "TokenRevokedException",
    "UserNotFoundException",
    "PasswordResetRequiredException",
    "UserNotConfirmedException",
    "RefreshTokenReuseException",
]
#: Cognito errors that say nothing about the session: never a reason to log anyone out.
NOT_A_VERDICT = [
    "InternalErrorException",
    "ResourceNotFoundException",
    "InvalidParameterException",
    "LimitExceededException",
    "ForbiddenException",
]


@pytest.mark.parametrize("error", REJECTIONS)
async def test_a_real_no_ends_the_session_once(
    flaky_manager: SessionManager, emulator: CognitoEmulator, flaky: FlakyCognito,
    clock: ManualClock, error: str,
) -> None:
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")
    clock.advance(3600)
    flaky.set_mode(f"error:{error}")

    api = await browser.get("/api/me")
    later = await browser.get("/api/me")

    assert api.status_code == 401
    assert later.status_code == 401
    assert jar_state(browser.jar) == []
    assert flaky_manager.events.count(Event.REFRESH_REJECTED) == 1
    assert flaky.answered.count(f"error:{error}") == 1  # one provider call, then no cookies


@pytest.mark.parametrize("error", NOT_A_VERDICT)
async def test_other_errors_keep_the_session(
    flaky_manager: SessionManager, flaky: FlakyCognito, clock: ManualClock, error: str
) -> None:
    browser = Browser(build_app(flaky_manager))
    await browser.sign_in("alice")
    clock.advance(3600)
    before = jar_state(browser.jar)
    flaky.set_mode(f"error:{error}")

    api = await browser.get("/api/me")

    assert api.status_code == 503
    assert jar_state(browser.jar) == before
    assert flaky_manager.events.count(Event.REFRESH_REJECTED) == 0


async def test_a_jwks_outage_never_refreshes_and_never_logs_out(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """While the signing keys cannot be fetched, tokens stay unjudged on every request, not only
    on the one that tried the fetch: no refresh (its tokens could not be checked either), no
    deletion, 503 where a user is required."""
    await browser.sign_in("alice")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_jwks = f"http://127.0.0.1:{closed.getsockname()[1]}/jwks.json"
    blind = SessionManager(emulator.config(jwks_url=dead_jwks, timeout=1.0), clock=clock)
    other_server = Browser(build_app(blind))
    other_server.jar = browser.jar
    clock.advance(3600)
    before = jar_state(browser.jar)

    answers = [(await other_server.get("/api/me")).status_code for _ in range(3)]

    assert answers == [503, 503, 503]
    assert emulator.refresh_calls() == 0
    assert jar_state(browser.jar) == before
