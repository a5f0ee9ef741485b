"""Real-browser fixtures: Playwright on Debian's Chromium, fresh profiles, the demo app served on
loopback (the helpers they use are in :mod:`tests.browser.chromium`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from ssrauth import CookiePolicy
from tests.browser.chromium import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS_ENV,
    WAIT_MS,
    Demo,
    demo_policy,
    running_demo,
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
    with running_demo(demo_policy()) as running:
        yield running


@pytest.fixture
def host_only_demo() -> Iterator[Demo]:
    """The demo with the default host-only policy (Secure off for plain http)."""
    with running_demo(CookiePolicy(secure=False)) as running:
        yield running
