"""Real-browser fixtures: Playwright on Debian's Chromium, fresh profiles, the demo app served on
loopback (the helpers they use are in :mod:`tests.browser.chromium`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from ssrauth import ManualClock, SessionManager
from ssrauth.demo import create_app
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.browser.chromium import (
    APP_HOST,
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS_ENV,
    USERNAME,
    WAIT_MS,
    Demo,
    demo_policy,
    serve,
)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: Playwright's sync API keeps an asyncio loop running on this
    thread while it is started, and the async tests that follow need the thread's loop free."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def new_context(chromium: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser profiles (own cookie jar each), closed after the test.

    Keyword arguments go to ``browser.new_context`` (``record_har_path=...`` records a HAR,
    written when the context closes: call ``context.close()`` before reading it).
    """
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = chromium.new_context(**options)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def demo() -> Iterator[Demo]:
    clock = ManualClock()
    with CognitoEmulator(clock) as emulator:
        emulator.create_user(USERNAME, PASSWORD, email=USERNAME, email_verified="true")
        manager = SessionManager(emulator.config(cookie_policy=demo_policy()), clock=clock)
        app = create_app(emulator, manager=manager, demo_user=(USERNAME, PASSWORD))
        with serve(app) as port:
            yield Demo(f"http://{APP_HOST}:{port}", emulator, clock, manager)
