"""Cookie headers exactly as sent, through every server and adapter.

- Two Cookie header lines through each real server ssrauth runs under here (werkzeug, gunicorn,
  uvicorn): werkzeug and gunicorn join them with a bare ``,``, which stays in the value at the
  join (a comma is never read as a separator: a value could plant cookies); uvicorn hands both
  lines over and both ASGI adapters (Starlette's, Django's from the scope) read every pair.
- The Cookie-header cases (tests/cookie_header_cases.py) through the ASGI middleware, Flask,
  Django's WSGI and Django's ASGI handlers: the same session and the same Set-Cookie lines.
- adapter-nextjs's raw JSON signInDetails sent twice is healed, rewritten once and whole.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from werkzeug.serving import make_server

from ssrauth import SessionManager, parse_cookie_header
from ssrauth._core.cookies import decode_value
from ssrauth.emulator import CognitoEmulator
from ssrauth.starlette import _request_parts as asgi_request_parts
from ssrauth.wsgi import request_parts as wsgi_request_parts
from tests.cookie_header_cases import COOKIE_HEADER_CASES
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser, WsgiBrowser
from tests.integration.rig.cookies import cookie_name, last_auth_user, set_cookies
from tests.integration.rig.flask_app import build_flask_app
from tests.integration.rig.seeds import sign_in_elsewhere

from . import django_site

django_site.configure()

from django.core.handlers.asgi import ASGIHandler, ASGIRequest  # noqa: E402 - needs settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest  # noqa: E402

from ssrauth.django import _request_parts as django_request_parts  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
#: What adapter-nextjs writes for signInDetails: the JSON itself, unencoded.
RAW_DETAILS = '{"loginId":"alice","authFlowType":"USER_SRP_AUTH"}'
TWO_LINES = [f"a=1; d={RAW_DETAILS}", f"b=2; d={RAW_DETAILS}"]
READ = [["a", "1"], ["d", RAW_DETAILS], ["b", "2"], ["d", RAW_DETAILS]]  # as JSON lists
#: What a server that joins the two lines with "," hands over: the comma stays in the value at
#: the join (never read as a separator, or a value could plant cookies).
READ_JOINED = [["a", "1"], ["d", RAW_DETAILS + ",b=2"], ["d", RAW_DETAILS]]

Pairs = list[list[str]]


def _pairs(header: str) -> Pairs:
    return [[c.name, c.value] for c in parse_cookie_header(header)]


# -- echo apps: what each adapter reads from the request a server built ----------------------------


def echo_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The pairs the WSGI adapter and the Django adapter (under Django's WSGI request) read."""
    body = json.dumps({
        "wsgi": _pairs(wsgi_request_parts(environ)[0]),
        "django-wsgi": _pairs(django_request_parts(WSGIRequest(environ))[0]),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def echo_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The pairs the ASGI adapter and the Django adapter (under Django's ASGI request) read."""
    if scope["type"] != "http":
        return
    body = json.dumps({
        "asgi": _pairs(asgi_request_parts(scope)[0]),
        "django-asgi": _pairs(django_request_parts(ASGIRequest(scope, io.BytesIO()))[0]),
    }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_with_two_cookie_lines(url: str) -> dict[str, Pairs]:
    response = httpx.get(url, headers=[("cookie", line) for line in TWO_LINES], timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def werkzeug_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, echo_wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def gunicorn_url() -> Iterator[str]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--log-level", "warning", "tests.integration.test_cookie_headers:echo_wsgi"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, child)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(10)
        assert child.stderr is not None
        child.stderr.close()


def _wait_for_port(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {child.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("gunicorn did not start")


@pytest.fixture
def uvicorn_url() -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(echo_asgi, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_two_cookie_lines_through_werkzeug_keep_their_commas_as_values(werkzeug_url: str) -> None:
    # werkzeug.serving joins the lines as "a=1; d={...},b=2; d={...}".
    assert _get_with_two_cookie_lines(werkzeug_url) == {"wsgi": READ_JOINED,
                                                        "django-wsgi": READ_JOINED}


def test_two_cookie_lines_through_gunicorn_keep_their_commas_as_values(gunicorn_url: str) -> None:
    # gunicorn's environ joins repeated headers with "," as well.
    assert _get_with_two_cookie_lines(gunicorn_url) == {"wsgi": READ_JOINED,
                                                        "django-wsgi": READ_JOINED}


def test_two_cookie_lines_through_uvicorn_keep_every_pair_and_comma(uvicorn_url: str) -> None:
    # uvicorn passes both lines in scope["headers"]; both ASGI adapters read them from there.
    assert _get_with_two_cookie_lines(uvicorn_url) == {"asgi": READ, "django-asgi": READ}


# -- the cases through every adapter -----------------------------------------------------------

Site = Browser | WsgiBrowser
ADAPTERS = ["asgi", "flask", "django-wsgi", "django-asgi"]


@pytest.fixture
def sites(manager: SessionManager) -> Iterator[dict[str, Site]]:
    django_site.manager = manager  # read by the middleware as each handler loads it
    opened: dict[str, Site] = {
        "asgi": Browser(build_app(manager)),
        "flask": WsgiBrowser(build_flask_app(manager)),
        "django-wsgi": WsgiBrowser(WSGIHandler()),
        "django-asgi": Browser(ASGIHandler()),
    }
    yield opened
    django_site.manager = None
    for site in opened.values():
        if isinstance(site, WsgiBrowser):
            site.close()


async def _send(site: Site, path: str, lines: list[bytes]) -> httpx.Response:
    headers = [("cookie", line) for line in lines]
    if isinstance(site, WsgiBrowser):
        client = site.client
        return await anyio.to_thread.run_sync(lambda: client.request("GET", path, headers=headers))
    return await site.client.request("GET", path, headers=headers)


def _outcome(response: httpx.Response) -> tuple[int, Any, list[str]]:
    """Status, the session the view saw (its JSON, each framework spacing it its own way) and
    the Set-Cookie lines (Django's WSGI handler writes a space before each: RFC 9110 §5.5 OWS,
    not part of the value)."""
    body = response.json() if response.status_code == 200 else None
    return response.status_code, body, [line.strip() for line in set_cookies(response)]


@pytest.mark.anyio
async def test_every_adapter_reads_the_cookie_header_cases_alike(
    sites: dict[str, Site], manager: SessionManager, emulator: CognitoEmulator
) -> None:
    jar = Browser(build_app(manager)).jar
    sign_in_elsewhere(jar, manager, "alice")
    session = jar.cookie_header("/")
    lau = last_auth_user(emulator.client_id)
    for header, _ in COOKIE_HEADER_CASES:
        # A field value has no whitespace at its edges on the wire (RFC 9110 §5.5).
        case = header.replace("{lau}", lau).encode("utf-8").strip()
        # One line, the session after the case, plus a second LastAuthUser: a plan to write;
        # then the same as three lines, which each server joins its own way.
        # Several lines reach the ASGI adapters as sent (HTTP/2 may split a Cookie header);
        # WSGI servers join them with "," (browsers send one line over HTTP/1.1).
        for lines, adapters in (
                ([case + b"; " + session.encode() + f"; {lau}=alice".encode()], ADAPTERS),
                ([line for line in (case, session.encode(), f"{lau}=alice".encode()) if line],
                 ["asgi", "django-asgi"])):
            outcomes = {name: _outcome(await _send(sites[name], "/api/me", lines))
                        for name in adapters}
            assert all(o == outcomes["asgi"] for o in outcomes.values()), (header, outcomes)
            status, _, written = outcomes["asgi"]
            if "{lau}" not in header:  # our cookies untouched by the case: alice, healed
                assert status == 200, (header, outcomes["asgi"])
                assert any(line.startswith(f"{lau}=alice;") for line in written), written


# -- adapter-nextjs's raw JSON signInDetails -----------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("adapter", ["flask", "django-wsgi", "django-asgi", "asgi"])
async def test_raw_json_sign_in_details_sent_twice_are_healed_whole(
    sites: dict[str, Site], manager: SessionManager, emulator: CognitoEmulator, adapter: str
) -> None:
    site = sites[adapter]
    sign_in_elsewhere(site.jar, manager, "alice")
    name = cookie_name(emulator.client_id, "alice", "signInDetails")
    site.jar.seed(name, RAW_DETAILS, path="/")
    site.jar.seed(name, RAW_DETAILS, path="/orders")  # a Set-Cookie without Path on /orders/…
    assert len(site.jar.copies(name)) == 2

    response = await site.get("/orders/42")

    assert response.status_code == 200
    writes = [line for line in set_cookies(response)
              if line.strip().startswith(f"{name}=") and "Max-Age=0" not in line]
    assert len(writes) == 1, set_cookies(response)  # rewritten once
    copies = site.jar.copies(name)
    assert len(copies) == 1
    assert (copies[0].path, decode_value(copies[0].value)) == ("/", RAW_DETAILS)  # whole
    assert (await site.get("/api/me")).status_code == 200
    assert "set-cookie" not in (await site.get("/orders/42")).headers  # healed for good
