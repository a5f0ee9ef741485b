"""Secure cookies on a plain-http origin: every adapter warns once per host, at the first request
that arrives over http on a host other than loopback (where browsers drop Secure cookies), and
never for https, loopback, a proxy that reports https, or a policy without Secure."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from ssrauth import CookiePolicy, Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.apps import build_app
from tests.integration.rig.flask_app import build_flask_app

from . import django_site

django_site.configure()

from django.core.handlers.asgi import ASGIHandler  # noqa: E402 - needs the settings
from django.test import Client  # noqa: E402

#: GET ``url`` (scheme, host and path) with extra request headers; answers the status code.
Visit = Callable[[str, dict[str, str]], int]


def asgi_visits(manager: SessionManager) -> Visit:
    client = TestClient(build_app(manager))
    return lambda url, headers: client.get(url, headers=headers).status_code


def flask_visits(manager: SessionManager) -> Visit:
    client = build_flask_app(manager).test_client()
    return lambda url, headers: client.get(url, headers=headers).status_code


def split(url: str) -> tuple[bool, str, str]:
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return scheme == "https", host, "/" + path


def django_wsgi_visits(manager: SessionManager) -> Visit:
    django_site.manager = manager
    client = Client()

    def visit(url: str, headers: dict[str, str]) -> int:
        secure, host, path = split(url)
        return client.get(path, headers={"host": host, **headers}, secure=secure).status_code

    return visit


def django_asgi_visits(manager: SessionManager) -> Visit:
    django_site.manager = manager
    client = TestClient(ASGIHandler())
    return lambda url, headers: client.get(url, headers=headers).status_code


ADAPTERS = {"starlette": asgi_visits, "flask": flask_visits, "django-wsgi": django_wsgi_visits,
            "django-asgi": django_asgi_visits}


@pytest.fixture(params=list(ADAPTERS))
def visit(request: pytest.FixtureRequest, manager: SessionManager) -> Iterator[Visit]:
    yield ADAPTERS[request.param](manager)
    django_site.manager = None


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger="ssrauth")
    return lambda: [record.getMessage() for record in caplog.records
                    if "Secure cookies" in record.getMessage()]


def test_the_first_plain_http_request_per_remote_host_warns_once(
    visit: Visit, manager: SessionManager, warnings: Callable[[], list[str]]
) -> None:
    for _ in range(3):
        assert visit("http://10.0.0.5:8000/api/me", {}) == 401
    visit("http://app.example.com/api/me", {})

    assert [message.split(": browsers")[0] for message in warnings()] == [
        "ssrauth: ssrauth writes Secure cookies, but this app is served over plain "
        "http://10.0.0.5:8000",
        "ssrauth: ssrauth writes Secure cookies, but this app is served over plain "
        "http://app.example.com",
    ]
    assert manager.events.count(Event.INSECURE_ORIGIN) == 2


@pytest.mark.parametrize(("url", "headers"), [
    ("https://10.0.0.5:8000/api/me", {}),
    ("http://localhost:8000/api/me", {}),
    ("http://127.0.0.1/api/me", {}),
    ("http://app.example.com/api/me", {"x-forwarded-proto": "https"}),
    ("http://app.example.com/api/me", {"forwarded": "for=192.0.2.60;proto=https"}),
])
def test_https_loopback_and_a_proxy_that_reports_https_never_warn(
    visit: Visit, manager: SessionManager, warnings: Callable[[], list[str]],
    url: str, headers: dict[str, str],
) -> None:
    assert visit(url, headers) == 401

    assert warnings() == []
    assert manager.events.count(Event.INSECURE_ORIGIN) == 0


@pytest.mark.parametrize("policy", [CookiePolicy(secure=False)])
def test_cookies_without_secure_never_warn(
    visit: Visit, warnings: Callable[[], list[str]]
) -> None:
    assert visit("http://10.0.0.5:8000/api/me", {}) == 401

    assert warnings() == []


def test_threads_meeting_a_new_host_at_once_warn_once(
    emulator: CognitoEmulator, clock: ManualClock, warnings: Callable[[], list[str]]
) -> None:
    with SessionManager(emulator.config(), clock=clock) as manager:
        start = threading.Barrier(8)

        def first_request() -> None:
            start.wait()
            manager.origins.check("http", "10.0.0.7:8000")

        threads = [threading.Thread(target=first_request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(warnings()) == 1
        assert manager.events.count(Event.INSECURE_ORIGIN) == 1


def test_a_flood_of_host_names_is_bounded(
    emulator: CognitoEmulator, clock: ManualClock, warnings: Callable[[], list[str]]
) -> None:
    """The Host header is the client's: a client inventing names gets a bounded table and a
    bounded number of log lines, not one per name."""
    from ssrauth._manager.origin import MAX_JUDGED_HOSTS

    with SessionManager(emulator.config(), clock=clock) as manager:
        for number in range(MAX_JUDGED_HOSTS * 3):
            manager.origins.check("http", f"host-{number}.example.com")
            manager.origins.check("http", f"host-{number}.example.com")

        assert len(warnings()) == MAX_JUDGED_HOSTS
        assert manager.events.count(Event.INSECURE_ORIGIN) == MAX_JUDGED_HOSTS
