"""The framework faces: FastAPI dependencies, Starlette's ``request.user`` and ``@requires``,
websockets, and an application that writes one of the auth cookies itself."""

from __future__ import annotations

import json

import pytest
from starlette.types import ASGIApp, Message

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.integration.rig.apps import APP_VALUE, build_starlette_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import (
    attributes,
    cookie_name,
    lines_named,
    set_cookies,
    value_of,
)

pytestmark = pytest.mark.anyio


async def test_fastapi_dependencies(browser: Browser) -> None:
    me = await browser.get("/api/me")
    assert me.status_code == 401
    assert me.json() == {"detail": "sign-in required"}
    assert (await browser.get("/api/session")).json() == {"username": None}

    await browser.sign_in("alice")

    me = await browser.get("/api/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert (await browser.get("/api/session")).json() == {"username": "alice"}


async def test_starlette_request_user_and_requires(
    manager: SessionManager, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    browser = Browser(build_starlette_app(manager))
    anonymous = await browser.get("/whoami")
    assert anonymous.json() == {"authenticated": False, "user": None, "scopes": []}
    assert (await browser.get("/private")).status_code == 401

    # Sign in as a browser would with Amplify JS in the page: the cookies arrive from elsewhere.
    signed_in = manager.load("", "/", HOST)
    signed_in.sign_in("alice", PASSWORD)
    browser.jar.apply(signed_in.set_cookie_headers(), request_path="/")

    assert (await browser.get("/whoami")).json() == {
        "authenticated": True, "user": "alice", "scopes": ["authenticated"]}
    assert (await browser.get("/private")).json() == {"user": "alice"}

    clock.advance(3600)
    refreshed = await browser.get("/private")
    assert refreshed.status_code == 200
    assert emulator.refresh_calls() == 1
    assert set_cookies(refreshed)
    assert "set-cookie" not in (await browser.get("/private")).headers


async def websocket_user(app: ASGIApp, cookie_header: str) -> object:
    """Open a websocket on the raw ASGI interface (httpx has no websocket transport) and return
    what the endpoint says about ``websocket.user``."""
    sent: list[Message] = []
    incoming: list[Message] = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"host", HOST.encode())]
    if cookie_header:
        headers.append((b"cookie", cookie_header.encode()))
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "wss", "path": "/ws",
             "raw_path": b"/ws", "query_string": b"", "root_path": "", "headers": headers,
             "server": (HOST, 443), "client": ("127.0.0.1", 50000), "subprotocols": []}
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    return json.loads(sent[1]["text"])["user"]


async def test_websocket_sees_the_session(browser: Browser, manager: SessionManager) -> None:
    await browser.sign_in("alice")
    app = build_starlette_app(manager)

    assert await websocket_user(app, browser.cookie_header("/ws")) == "alice"
    assert await websocket_user(app, "") is None


@pytest.mark.parametrize("field", ["signInDetails", "clockDrift"])
async def test_the_apps_own_auth_cookie_wins_and_is_sent_once(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock, field: str
) -> None:
    cid = emulator.client_id
    await browser.sign_in("alice")
    clock.advance(3600)  # ssrauth refreshes, so it wants to write this field too

    response = await browser.get(f"/own-cookie/{field}")

    assert response.status_code == 200
    assert emulator.refresh_calls() == 1
    name = cookie_name(cid, "alice", field)
    canonical = [line for line in lines_named(set_cookies(response), name)
                 if attributes(line).get("path") == "/" and "domain" not in attributes(line)]
    assert len(canonical) == 1
    assert canonical[0].startswith(f"{name}={APP_VALUE};")
    assert value_of(browser.jar, name) == APP_VALUE
    # ssrauth still wrote the rest of the refreshed session.
    access = cookie_name(cid, "alice", "accessToken")
    assert len([line for line in lines_named(set_cookies(response), access)
                if "Max-Age=0" not in line]) == 1
