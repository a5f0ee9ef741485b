"""Hostile request parts never amplify into huge responses or malformed Set-Cookie lines.

The hostile-input review drew 18,019 Set-Cookie lines (38 MB) from a 4,012-byte Host of many
labels plus one duplicated auth cookie, through uvicorn with httptools; a ``;`` in the path or Host
landed in deletion lines as attributes. These run the same requests through the real middleware.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from ssrauth import Event, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import cookie_name, last_auth_user, set_cookies

pytestmark = pytest.mark.anyio

#: Bytes and lines a response may carry in Set-Cookie (the plan's cap, with its header framing).
MAX_LINES = 320
MAX_BYTES = 32 * 1024
#: What a deletion or write line may look like; no ";" inside a name, value, path or domain.
LINE = re.compile(r"[^;\x00-\x1f\x7f]+=[^;\x00-\x1f\x7f]*; Path=/[\x20-\x3a\x3c-\x7e]*"
                  r"(?:; Domain=[a-z0-9_.-]+)?; Max-Age=\d+(?:; [A-Za-z=]+)*")
MANY_LABELS = ".".join(["a"] * 1990) + ".example.com"  # 3,991 bytes of Host


def assert_bounded(lines: list[str]) -> None:
    assert len(lines) <= MAX_LINES
    assert sum(len("Set-Cookie: \r\n") + len(line) for line in lines) <= MAX_BYTES
    for line in lines:
        assert LINE.fullmatch(line), line


async def duplicated_session(browser: Browser, emulator: CognitoEmulator) -> str:
    """alice's real cookies with her access token sent twice (as after the seed bug)."""
    await browser.sign_in("alice")
    header = browser.cookie_header("/")
    access = cookie_name(emulator.client_id, "alice", "accessToken")
    twin = next(p for p in header.split("; ") if p.startswith(access + "="))
    return f"{twin}; {header}"


async def test_a_host_of_many_labels_gets_no_deletion_per_label(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager
) -> None:
    header = await duplicated_session(browser, emulator)
    response = await browser.client.get("/a/b/c/d", headers={"host": MANY_LABELS,
                                                             "cookie": header})
    assert response.status_code == 200
    lines = set_cookies(response)
    assert_bounded(lines)
    # Host-only deletions (the Host is no DNS name: longer than 253 bytes) and the write.
    assert not any("Domain=" in line for line in lines)
    assert manager.events.count(Event.SET_COOKIE_CAPPED) == 0


async def test_an_ordinary_host_gets_its_own_spelling_and_no_parent(
    browser: Browser, emulator: CognitoEmulator
) -> None:
    header = await duplicated_session(browser, emulator)
    host = "x.y.z.app.example.com"
    response = await browser.client.get("/", headers={"host": host, "cookie": header})
    domains = {m.group(1) for line in set_cookies(response)
               for m in [re.search(r"Domain=([^;]+)", line)] if m}
    assert domains == {host}


async def test_a_header_padded_with_made_up_users_is_capped_and_logged(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager,
    caplog: pytest.LogCaptureFixture
) -> None:
    """No token needed (the client id is public): hundreds of stale-looking families, each name
    deleted on every ancestor path, would make a response of hundreds of KiB."""
    await browser.sign_in("alice")
    cid = emulator.client_id
    padding = "; ".join(f"{cookie_name(cid, f'u{i}', 'refreshToken')}=x" for i in range(150))
    header = f"{browser.cookie_header('/')}; {padding}"
    with caplog.at_level(logging.WARNING, logger="ssrauth"):
        response = await browser.client.get("/a/b/c/d/e", headers={"cookie": header})
    assert response.status_code == 200
    assert response.json()["user"] == "alice"
    assert_bounded(set_cookies(response))
    assert manager.events.count(Event.SET_COOKIE_CAPPED) > 0
    assert any("set_cookie_capped" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("path", ["/a;Domain=evil.example/b", "/a;b", "/x/%3B;Secure"])
async def test_a_semicolon_in_the_path_never_becomes_an_attribute(
    browser: Browser, emulator: CognitoEmulator, path: str
) -> None:
    header = await duplicated_session(browser, emulator)
    response = await browser.client.get(path, headers={"cookie": header})
    assert response.status_code == 200
    lines = set_cookies(response)
    assert lines  # the duplicate is still healed at the paths a cookie can have
    assert_bounded(lines)
    assert not any("evil" in line or ";Secure" in line for line in lines)


async def test_a_semicolon_in_the_host_never_becomes_an_attribute(
    browser: Browser, emulator: CognitoEmulator
) -> None:
    header = await duplicated_session(browser, emulator)
    response = await browser.client.get("/", headers={"host": "app.example.com;Domain=evil.example",
                                                      "cookie": header})
    lines = set_cookies(response)
    assert_bounded(lines)
    assert not any("Domain=" in line for line in lines)


async def test_control_characters_given_to_load_reach_no_line_and_no_log_line(
    emulator: CognitoEmulator, manager: SessionManager, browser: Browser,
    caplog: pytest.LogCaptureFixture
) -> None:
    """``SessionManager.load`` is public: a framework we do not know may hand it raw parts."""
    header = await duplicated_session(browser, emulator)
    cid = emulator.client_id
    evil_name = f"{last_auth_user(cid)}\r\nX-Injected: 1"
    with caplog.at_level(logging.DEBUG, logger="ssrauth"):
        auth = await manager.aload(f"{header}; {evil_name}=alice; {evil_name}=bob",
                                   "/p\r\nX-Injected: 1/q\x00", "app.example.com\r\nX: 1")
        lines = auth.set_cookie_headers()
    assert auth.session is not None
    assert_bounded(lines)
    assert not any("\r" in line or "\n" in line or "\x00" in line for line in lines)
    for record in caplog.records:
        message = record.getMessage()
        assert "\r" not in message
        assert "\n" not in message


async def test_a_non_latin1_path_without_raw_path_is_served(
    app: FastAPI, browser: Browser, emulator: CognitoEmulator
) -> None:
    """``raw_path`` is optional in the ASGI spec: the decoded path is escaped back."""
    header = await duplicated_session(browser, emulator)
    messages: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "https", "path": "/caf\u00e9/\u65e5\u672c/x", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"app.example.com"),
                                          (b"cookie", header.encode("latin-1"))],
             "client": ("127.0.0.1", 5000), "server": ("app.example.com", 443)}
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = messages[0]
    assert start["status"] == 200
    lines = [v.decode("latin-1") for k, v in start["headers"]  # type: ignore[attr-defined]
             if k == b"set-cookie"]
    assert_bounded(lines)
    assert any("Path=/caf%C3%A9" in line for line in lines)


# -- the same attack through uvicorn with httptools, as the review measured it ------------------


@pytest.fixture
def httptools_server(app: FastAPI) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools",
                                           loop="asyncio", log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


async def test_the_reviewed_request_through_uvicorn_httptools_stays_small(
    browser: Browser, emulator: CognitoEmulator, httptools_server: int
) -> None:
    header = await duplicated_session(browser, emulator)
    request = (f"GET /a/b/c/d HTTP/1.1\r\nHost: {MANY_LABELS}\r\nCookie: {header}\r\n"
               "Connection: close\r\n\r\n").encode("latin-1")
    assert len(request) > 4000
    with socket.create_connection(("127.0.0.1", httptools_server), timeout=15) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
            assert len(received) < 64 * 1024, "the response is amplified"
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 200")
    lines = [line.split(": ", 1)[1] for line in head.split("\r\n")
             if line.lower().startswith("set-cookie:")]
    assert lines
    assert_bounded(lines)
