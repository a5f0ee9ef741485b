"""Real-browser rig: Debian's Chromium driven by Playwright, apps served by uvicorn on loopback.

Chromium resolves every ``*.example.test`` name to 127.0.0.1 (``--host-resolver-rules``), so the
apps are reached as ``http://app.example.test:<port>`` and a configured ``Domain=example.test``
is a real parent domain to the browser: host-only and Domain copies of a cookie can coexist in
its jar, as they do in production. Assertions read the browser's own jar
(``context.cookies()``), never our model of it.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import BrowserContext, Page, expect
from starlette.types import ASGIApp

from ssrauth import CookiePolicy, ManualClock, SessionManager
from ssrauth.demo import create_app
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD

CHROMIUM = os.environ.get("SSRAUTH_CHROMIUM", "/usr/bin/chromium")
#: The flags DEVELOPERS.md prescribes, plus the name mapping described above.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--host-resolver-rules=MAP *.example.test 127.0.0.1",
]
#: The registrable domain the apps configure, and the host the browser visits under it.
SITE = "example.test"
APP_HOST = f"app.{SITE}"
PREFIX = "CognitoIdentityServiceProvider"
#: Upper bound for every wait here: generous for two noisy cores, never a timing claim.
WAIT_MS = 15_000
USERNAME = "alice@example.com"
#: Where screenshots go: a temporary folder, or ``docs/img`` when SSRAUTH_SCREENSHOTS says so
#: (``make screenshots`` refreshes the pictures in the docs that way).
SCREENSHOTS_ENV = "SSRAUTH_SCREENSHOTS"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(app: ASGIApp) -> Iterator[int]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_MS / 1000
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Demo:
    """The demo app on the embedded emulator, as the browser reaches it."""

    url: str
    emulator: CognitoEmulator
    clock: ManualClock
    manager: SessionManager
    username: str = USERNAME
    password: str = PASSWORD

    @property
    def client_id(self) -> str:
        return self.emulator.client_id


def demo_policy() -> CookiePolicy:
    """Plain http on loopback: Secure off (see the demo); the site's parent domain configured."""
    return CookiePolicy(secure=False, domain=SITE)

@contextmanager
def running_demo(policy: CookiePolicy) -> Iterator[Demo]:
    """The demo app on a fresh emulator under ``policy``, served for the browser."""
    clock = ManualClock()
    with CognitoEmulator(clock) as emulator:
        emulator.create_user(USERNAME, PASSWORD, email=USERNAME, email_verified="true")
        manager = SessionManager(emulator.config(cookie_policy=policy), clock=clock)
        app = create_app(emulator, manager=manager, demo_user=(USERNAME, PASSWORD))
        with serve(app) as port:
            yield Demo(f"http://{APP_HOST}:{port}", emulator, clock, manager)


def auth_cookies(context: BrowserContext, prefix: str = PREFIX) -> list[dict[str, Any]]:
    """The browser's own jar, auth cookies only (every client id)."""
    return [dict(c) for c in context.cookies() if c["name"].startswith(prefix + ".")]


def assert_one_canonical_copy_each(context: BrowserContext,
                                   prefix: str = PREFIX) -> dict[str, str]:
    """At most one copy of each auth cookie, all at Path=/ under the configured domain.

    Returns name -> value for the caller's further checks.
    """
    cookies = auth_cookies(context, prefix)
    copies = Counter(c["name"] for c in cookies)
    assert [name for name, n in copies.items() if n > 1] == []
    assert {(c["path"], c["domain"]) for c in cookies} == {("/", "." + SITE)}
    return {c["name"]: c["value"] for c in cookies}


def sign_in(context: BrowserContext, demo: Demo, screenshot: Path | None = None) -> Page:
    """Sign in through the demo's form; returns the dashboard page."""
    page = context.new_page()
    page.goto(demo.url + "/")
    if screenshot is not None:
        page.screenshot(path=screenshot)
    page.fill("input[name=username]", demo.username)
    page.fill("input[name=password]", demo.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    expect(page.locator("#status")).to_have_text("200")
    return page


def start_fetch(page: Page, url: str) -> None:
    """Send a request from the page's script and return at once (it completes in the page)."""
    page.evaluate("(url) => { window.__answer = fetch(url, {cache: 'no-store'})"
                  ".then(async (r) => ({status: r.status, body: await r.json()})); }", url)


def fetch_answer(page: Page) -> dict[str, Any]:
    answer: dict[str, Any] = page.evaluate("window.__answer")
    return answer


def fetch_now(page: Page, url: str) -> dict[str, Any]:
    start_fetch(page, url)
    return fetch_answer(page)


def node_available() -> bool:
    return shutil.which("node") is not None
