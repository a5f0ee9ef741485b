"""A pytest plugin for testing your own app with ssrauth: a local Cognito, a clock you move,
signed-in test clients, and the session troubles worth a test (expiry, revocation, the seed
bug's duplicate cookies).

Installed with ssrauth (a ``pytest11`` entry point, like pytest-django's and pytest-flask's
fixtures); disable it with ``-p no:ssrauth``. Every fixture's name starts with ``ssrauth_`` so it
never shadows one of yours:

* ``ssrauth_clock``: a :class:`~ssrauth.ManualClock`, shared by the emulator and the manager;
* ``ssrauth_cognito``: a started :class:`~ssrauth.emulator.CognitoEmulator` (moto's Cognito
  API on loopback; needs the ``emulator`` extra), stopped after the test;
* ``ssrauth_user``: a :class:`TestUser` created in it;
* ``ssrauth_config`` / ``ssrauth_manager``: a :class:`~ssrauth.CognitoConfig` for the emulator
  (``Secure`` off: test clients speak plain http) and a :class:`~ssrauth.SessionManager` on the
  shared clock. Build your app with ``ssrauth_manager`` in a fixture named ``ssrauth_app``;
* ``ssrauth_client``: a test client for ``ssrauth_app`` (Starlette's ``TestClient`` for an ASGI
  app, Flask's test client for a Flask app), and ``ssrauth_signed_in_client``, the same client
  signed in as ``ssrauth_user``; ``ssrauth_django_client``: Django's test client with
  ``SSRAUTH_MANAGER`` pointed at ``ssrauth_manager`` for the test;
* ``ssrauth``: the :class:`SsrAuthTesting` helpers (sign a client in, expire or revoke its
  session, seed duplicate cookies) over all of the above.

The tokens are moto's, signed with a private key that ships inside moto: never point a production
configuration at the emulator. See ``docs/testing.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ._config.cognito import CognitoConfig
from ._core.clock import ManualClock
from ._core.cookies import CookiePolicy
from ._core.session import Session
from ._manager.manager import SessionManager

__all__ = ["DEFAULT_PASSWORD", "SignedIn", "SsrAuthTesting", "TestUser"]

#: Meets Cognito's default password policy (length, upper, lower, digit, symbol).
DEFAULT_PASSWORD = "Passw0rd!test"

#: Cognito's default access and id token lifetime (and moto's): one hour.
TOKEN_LIFETIME = 3600.0

#: Set for the duration of ``ssrauth_django_client`` so ``SSRAUTH_MANAGER`` can name it.
current_manager: SessionManager | None = None


@dataclass(frozen=True, slots=True)
class TestUser:
    """A confirmed user of the emulator's pool, ready to sign in."""

    __test__ = False  # not a test class, whatever pytest's name pattern says

    username: str
    password: str = DEFAULT_PASSWORD


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What :meth:`SsrAuthTesting.sign_in` put in a client: the session and its cookies."""

    session: Session
    set_cookies: tuple[str, ...]


@dataclass
class SsrAuthTesting:
    """Helpers over one test's emulator, clock and manager (the ``ssrauth`` fixture)."""

    cognito: Any  # CognitoEmulator; typed loosely so this module imports without moto
    clock: ManualClock
    manager: SessionManager
    user: TestUser
    users: list[TestUser] = field(default_factory=list)

    def create_user(self, username: str, password: str = DEFAULT_PASSWORD,
                    **attributes: str) -> TestUser:
        """Another confirmed user of the pool."""
        self.cognito.create_user(username, password, **attributes)
        user = TestUser(username, password)
        self.users.append(user)
        return user

    def sign_in(self, client: Any, user: TestUser | None = None) -> SignedIn:
        """Sign ``client`` in as ``user`` (``ssrauth_user`` by default) without a sign-in page:
        the manager signs in against the emulator and the client's cookie jar takes the
        ``Set-Cookie`` lines as if your app had answered them."""
        user = user or self.user
        host = client_host(client)
        auth = self.manager.load("", "/", host)
        session = auth.sign_in(user.username, user.password)
        lines = tuple(auth.set_cookie_headers())
        store_set_cookies(client, lines)
        return SignedIn(session, lines)

    def expire(self) -> None:
        """Move the clock past the tokens' lifetime: the next request refreshes (one call to
        the emulator's refresh API), exactly as an hour of waiting would."""
        self.clock.advance(TOKEN_LIFETIME)

    def revoke(self, user: TestUser | None = None) -> None:
        """End ``user``'s sessions at the provider (Cognito's AdminUserGlobalSignOut): their
        refresh tokens stop working, so once the access token expires (:meth:`expire`) the next
        request's refresh is rejected and ssrauth deletes the cookies."""
        user = user or self.user
        self.cognito.call("AdminUserGlobalSignOut", {"UserPoolId": self.cognito.user_pool_id,
                                                     "Username": user.username})

    def seed_duplicates(self, client: Any, signed_in: SignedIn, path: str = "/orders") -> None:
        """Put the seed bug's jar in ``client``: a second copy of every auth cookie at ``path``,
        where a server that wrote cookies without ``Path=`` left them (RFC 6265 §5.1.4: the
        default path is the request's directory). A request under ``path`` then carries each
        cookie twice; ssrauth's answer deletes the nested copies."""
        nested = tuple(_with_path(line, path) for line in signed_in.set_cookies
                       if not _is_deletion(line))
        store_set_cookies(client, nested)

    def refresh_calls(self) -> int:
        """Refreshes the emulator served (``CognitoEmulator.refresh_calls``)."""
        count: int = self.cognito.refresh_calls()
        return count


# -- cookie jars of test clients --------------------------------------------------------------


def client_host(client: Any) -> str:
    """The host a test client sends requests to (what ssrauth sees as the request's host)."""
    base_url = getattr(client, "base_url", None)
    if base_url is not None:  # httpx clients, Starlette's TestClient
        return str(base_url.host)
    return "localhost" if hasattr(client, "set_cookie") else "testserver"  # werkzeug, Django


def store_set_cookies(client: Any, lines: tuple[str, ...] | list[str]) -> None:
    """Feed ``Set-Cookie`` lines to a test client's cookie jar as a response would.

    httpx (and Starlette's TestClient) and werkzeug's client keep cookies by (name, domain,
    path) like a browser, so nested copies coexist; Django's test client keeps one per name.
    """
    cookies: Any = getattr(client, "cookies", None)
    if hasattr(cookies, "extract_cookies"):  # httpx.Cookies
        import httpx

        url = f"{client.base_url.scheme}://{client.base_url.host}/"
        response = httpx.Response(200, headers=[("set-cookie", line) for line in lines],
                                  request=httpx.Request("GET", url))
        cookies.extract_cookies(response)
    elif hasattr(client, "set_cookie"):  # werkzeug's test client (Flask)
        for line in lines:
            name, value, path = _name_value_path(line)
            if _is_deletion(line):
                client.delete_cookie(name, domain=client_host(client), path=path)
            else:
                client.set_cookie(name, value, domain=client_host(client), path=path)
    elif cookies is not None:  # Django's test client: a SimpleCookie, one entry per name
        for line in lines:
            name, value, path = _name_value_path(line)
            if _is_deletion(line):
                cookies.pop(name, None)
            else:
                cookies[name] = value
                cookies[name]["path"] = path
    else:
        raise TypeError(f"{type(client).__name__} is not a test client ssrauth.testing knows "
                        "(httpx, Starlette's TestClient, Flask's or Django's test client)")


def _name_value_path(line: str) -> tuple[str, str, str]:
    first, *attributes = line.split(";")
    name, _, value = first.strip().partition("=")
    path = "/"
    for attribute in attributes:
        key, _, attribute_value = attribute.strip().partition("=")
        if key.lower() == "path":
            path = attribute_value
    return name, value, path


def _is_deletion(line: str) -> bool:
    return re.search(r";\s*max-age=0\s*(;|$)", line, re.IGNORECASE) is not None


def _with_path(line: str, path: str) -> str:
    return re.sub(r";\s*Path=[^;]*", f"; Path={path}", line, flags=re.IGNORECASE)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def ssrauth_clock() -> ManualClock:
    """The clock of the emulator and of ``ssrauth_manager``: ``advance(3600)`` expires tokens."""
    return ManualClock()


@pytest.fixture
def ssrauth_cognito(ssrauth_clock: ManualClock) -> Iterator[Any]:
    """A started :class:`~ssrauth.emulator.CognitoEmulator` (moto's Cognito on loopback)."""
    from .emulator import CognitoEmulator

    with CognitoEmulator(ssrauth_clock) as emulator:
        yield emulator


@pytest.fixture
def ssrauth_user(ssrauth_cognito: Any) -> TestUser:
    """``alice@example.com``, confirmed, with :data:`DEFAULT_PASSWORD`."""
    user = TestUser("alice@example.com")
    ssrauth_cognito.create_user(user.username, user.password)
    return user


@pytest.fixture
def ssrauth_config(ssrauth_cognito: Any) -> CognitoConfig:
    """The emulator's configuration; cookies without ``Secure`` (test clients use http)."""
    config: CognitoConfig = ssrauth_cognito.config(cookie_policy=CookiePolicy(secure=False))
    return config


@pytest.fixture
def ssrauth_manager(
    ssrauth_config: CognitoConfig, ssrauth_clock: ManualClock
) -> Iterator[SessionManager]:
    """A :class:`~ssrauth.SessionManager` on the emulator and the shared clock, closed at the
    test's end (its HTTP clients and coordinator connections), as an app closes it at exit."""
    with SessionManager(ssrauth_config, clock=ssrauth_clock) as manager:
        yield manager


@pytest.fixture
def ssrauth(ssrauth_cognito: Any, ssrauth_clock: ManualClock, ssrauth_manager: SessionManager,
            ssrauth_user: TestUser) -> SsrAuthTesting:
    """Helpers: ``sign_in(client)``, ``expire()``, ``revoke()``, ``seed_duplicates(...)``."""
    return SsrAuthTesting(ssrauth_cognito, ssrauth_clock, ssrauth_manager, ssrauth_user,
                          [ssrauth_user])


@pytest.fixture
def ssrauth_app() -> Any:
    """Your app, built with ``ssrauth_manager``: override this fixture in your conftest.py."""
    raise pytest.UsageError(
        "define a fixture named ssrauth_app that returns your ASGI or Flask app, built with the "
        "ssrauth_manager fixture (see docs/testing.md)")


@pytest.fixture
def ssrauth_client(ssrauth_app: Any) -> Iterator[Any]:
    """A signed-out test client for ``ssrauth_app``: Flask's test client for a Flask app,
    otherwise Starlette's ``TestClient`` (httpx over the ASGI app, lifespan run)."""
    if hasattr(ssrauth_app, "test_client"):
        yield ssrauth_app.test_client()
        return
    from starlette.testclient import TestClient

    with TestClient(ssrauth_app) as client:
        yield client


@pytest.fixture
def ssrauth_signed_in_client(ssrauth_client: Any, ssrauth: SsrAuthTesting) -> Any:
    """``ssrauth_client``, signed in as ``ssrauth_user``."""
    ssrauth.sign_in(ssrauth_client)
    return ssrauth_client


@pytest.fixture
def ssrauth_django_client(ssrauth_manager: SessionManager) -> Iterator[Any]:
    """Django's test client, with ``SSRAUTH_MANAGER`` naming ``ssrauth_manager`` for the test
    (Django settings must be configured, as pytest-django does)."""
    global current_manager
    from django.test import Client, override_settings

    current_manager = ssrauth_manager
    try:
        with override_settings(SSRAUTH_MANAGER="ssrauth.testing.current_manager"):
            yield Client()
    finally:
        current_manager = None
