"""The demo app does what its dashboard claims, so a person watching it sees the library's truth.

Driven as a browser would: a :class:`BrowserJar` stores what each response sets and sends what a
browser would send, over ``httpx.ASGITransport`` (the client's own cookie store is bypassed).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from ssrauth.demo import create_app
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar


class Browser:
    """One browser: its cookie jar, and a client that only carries what the jar sends."""

    def __init__(self, app: Starlette) -> None:
        self.jar = BrowserJar(HOST)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url=f"http://{HOST}")

    async def request(self, method: str, path: str, *, cookie: str | None = None,
                      **kwargs: Any) -> httpx.Response:
        """``cookie`` pins the header sent (requests already in flight); else the jar's now."""
        headers = dict(kwargs.pop("headers", {}))
        headers["cookie"] = self.jar.cookie_header(path) if cookie is None else cookie
        response = await self.client.request(method, path, headers=headers, **kwargs)
        self.client.cookies.clear()
        self.jar.apply(response.headers.get_list("set-cookie"), request_path=path)
        return response

    def auth_names(self) -> list[str]:
        return [n for n in self.jar.names() if n.startswith("CognitoIdentityServiceProvider.")]

    async def sign_in(self, username: str = "alice", password: str = PASSWORD) -> httpx.Response:
        return await self.request("POST", "/signin",
                                  data={"username": username, "password": password})


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_sign_in_then_one_refresh_for_ten_concurrent_polls_then_sign_out(
    emulator: CognitoEmulator,
) -> None:
    async def scenario() -> None:
        browser = Browser(create_app(emulator))
        assert (await browser.request("GET", "/api/me")).status_code == 401
        anonymous = await browser.request("GET", "/dashboard")
        assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/")

        wrong = await browser.sign_in(password="not-the-password")
        assert wrong.status_code == 401
        assert "Wrong username or password" in wrong.text
        assert browser.auth_names() == []

        signed_in = await browser.sign_in()
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/dashboard")
        page = await browser.request("GET", "/dashboard")
        assert page.status_code == 200
        assert "alice" in page.text

        me = await browser.request("GET", "/api/me")
        assert me.status_code == 200
        before = me.json()
        assert before["user"]["username"] == "alice"
        assert 3500 < before["expires_in"] <= 3600
        assert all(dup is False for _, _, dup in before["cookies_seen"])
        assert emulator.refresh_calls() == 0

        moved = await browser.request("POST", "/api/clock", json={"seconds": 3660})
        assert moved.status_code == 200
        assert moved.json()["clock_offset"] == 3660

        # Ten polls leave with the same expired cookies before any answer comes back.
        header = browser.jar.cookie_header("/api/me")
        storm = await asyncio.gather(
            *(browser.request("GET", "/api/me", cookie=header) for _ in range(10))
        )
        assert [r.status_code for r in storm] == [200] * 10
        # Per request: exactly one called Cognito, the others waited for it or reused it.
        roles = Counter(e for r in storm for e in r.json()["this_request"]
                        if e in ("refresh_started", "refresh_coalesced", "refresh_reused"))
        assert roles["refresh_started"] == 1
        assert roles["refresh_coalesced"] + roles["refresh_reused"] == 9
        assert emulator.refresh_calls() == 1
        after = (await browser.request("GET", "/api/me")).json()
        counters = after["counters"]
        assert counters["refresh_started"] == 1
        # Every poll got the new tokens: one from Cognito, nine from that same call.
        served = ("refresh_succeeded", "refresh_coalesced", "refresh_reused")
        assert sum(counters[name] for name in served) == 10
        assert after["refresh_calls"] == 1
        assert after["exp"] > before["exp"]
        assert after["clock_offset"] == 3660
        assert after["calls"]["InitiateAuth:USER_PASSWORD_AUTH"] == 2  # wrong, then right
        assert Counter(browser.auth_names()).most_common(1)[0][1] == 1  # one copy of each

        signed_out = await browser.request("POST", "/signout")
        assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/")
        assert browser.auth_names() == []
        gone = await browser.request("GET", "/api/me")
        assert gone.status_code == 401
        assert gone.json()["user"] is None

    run(scenario())


def test_nested_page_polls_heal_a_stale_seed_bug_copy(emulator: CognitoEmulator) -> None:
    """The dashboard's "seed bug" flow: copies under /orders go stale, /orders/42 heals them."""

    async def scenario() -> None:
        browser = Browser(create_app(emulator))
        await browser.sign_in()
        for cookie in list(browser.jar.cookies):
            browser.jar.seed(cookie.name, cookie.value, path="/orders")
        await browser.request("POST", "/api/clock", json={"seconds": 3660})
        # A refresh on "/" cannot see (or delete) the /orders copies: they are stale now.
        assert (await browser.request("GET", "/dashboard")).status_code == 200
        assert emulator.refresh_calls() == 1
        stale = [c for c in browser.jar.cookies if c.path == "/orders"]
        assert stale

        page = await browser.request("GET", "/orders/42")
        assert page.status_code == 200
        assert '"api": "/orders/42/api/me"' in page.text
        assert [c for c in browser.jar.cookies if c.path == "/orders"] == []

        # Seed again and let the page's own API endpoint (not a page load) see and heal them.
        for cookie in list(browser.jar.cookies):
            browser.jar.seed(cookie.name, cookie.value, path="/orders")
        me = await browser.request("GET", "/orders/42/api/me")
        assert me.status_code == 200
        body = me.json()
        assert body["path"] == "/orders/42/api/me"
        seen = body["cookies_seen"]
        assert seen
        assert all(dup for name, _, dup in seen if "CognitoIdentity" in name)
        assert body["counters"]["duplicates_seen"] >= 1
        assert [c for c in browser.jar.cookies if c.path == "/orders"] == []
        assert emulator.refresh_calls() == 1  # healing is not refreshing

    run(scenario())


@pytest.mark.parametrize("body", ["{}", '{"seconds": "soon"}', '{"seconds": -60}',
                                  '{"seconds": 1e9}', "[60]", '{"seconds": NaN}', "60 please"])
def test_clock_endpoint_rejects_what_is_not_a_sane_step(
    emulator: CognitoEmulator, body: str
) -> None:
    async def scenario() -> None:
        browser = Browser(create_app(emulator))
        response = await browser.request("POST", "/api/clock", content=body,
                                         headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert emulator.clock.offset == 0

    run(scenario())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(30)
def test_python_m_ssrauth_demo_starts_serves_and_stops() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ssrauth.demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=1, trust_env=False)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"demo did not come up:\n{process.communicate()[0]}")
                time.sleep(0.1)
        assert response.status_code == 200
        assert "Sign in" in response.text
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert process.returncode == 0, output
    for shown in ("demo@example.com", "Demo-passw0rd!", "us-east-1_", f":{port}/", "stopped"):
        assert shown in output


def test_the_first_screen_says_what_ssrauth_is_and_what_to_try(emulator: CognitoEmulator) -> None:
    async def scenario() -> None:
        page = await Browser(create_app(emulator)).request("GET", "/")
        assert page.status_code == 200
        intro = page.text.split('id="intro"', 1)[1].split("</section>", 1)[0]
        assert "Amplify JS v6" in intro
        assert intro.count("<li>") == 3
        for step in ("Sign in", "+61 min", "Burst", "/orders/42", "seed bug"):
            assert step in intro
        assert 'id="insecure-origin"' not in page.text  # the demo's own cookies are not Secure

    run(scenario())


def test_counters_that_matter_come_first_and_deletions_are_explained(
    emulator: CognitoEmulator,
) -> None:
    async def scenario() -> None:
        browser = Browser(create_app(emulator))
        await browser.sign_in()
        counters = list((await browser.request("GET", "/api/me")).json()["counters"])
        assert counters[:3] == ["refresh_started", "refresh_coalesced", "refresh_reused"]
        assert counters.index("cookies_deleted") < counters.index("signed_in")
        page = await browser.request("GET", "/orders/42")
        assert "ancestor path" in page.text.split('id="deletions-note"', 1)[1]

    run(scenario())


@pytest.mark.parametrize(("host", "warned"), [("10.0.0.5:8000", True), ("localhost:8000", False)])
def test_a_manager_with_secure_cookies_on_plain_http_gets_a_banner(
    emulator: CognitoEmulator, host: str, warned: bool,
) -> None:
    from ssrauth import SessionManager

    manager = SessionManager(emulator.config(), clock=emulator.clock)  # Secure by default

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=create_app(emulator, manager=manager))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            page = await client.get("/")
        assert page.status_code == 200
        assert ('id="insecure-origin"' in page.text) is warned
        if warned:
            assert f"plain http://{host}" in page.text

    run(scenario())
