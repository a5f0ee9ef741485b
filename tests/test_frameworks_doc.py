"""docs/frameworks.md's quick starts, run as written: the Flask app, and the Django project
(manager module, settings, urls) under Django's ASGI handler, each driven through sign-in, a
required user, sign-out."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration import django_site
from tests.integration.rig.browsers import WsgiServer

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parents[1] / "docs" / "frameworks.md"
FORM = {"username": "alice@example.com", "password": "Passw0rd!x"}


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def module(name: str, source: str) -> types.ModuleType:
    loaded = types.ModuleType(name)
    exec(compile(source, f"docs/frameworks.md:{name}", "exec"), loaded.__dict__)
    return loaded


async def walk_through(client: httpx.AsyncClient) -> list[Any]:
    """The README's curl session: sign in, who am I, home, sign out, who am I."""
    signed_in = await client.post("/signin", data=FORM)
    me = await client.get("/api/me")
    home = await client.get("/")
    signed_out = await client.post("/signout")
    after = await client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["username"] == FORM["username"]
    assert after.status_code == 401
    return [signed_in.json(), home.json(), signed_out.json()]


@pytest.fixture
def flask_quickstart() -> Iterator[types.ModuleType]:
    app = module("flask_app", python_blocks()[0])
    yield app
    app.auth.close()
    app.emulator.stop()


@pytest.fixture
def django_quickstart() -> Iterator[dict[str, Any]]:
    django_site.configure()
    auth_source, settings_source, urls_source = python_blocks()[1:4]
    package = types.ModuleType("mysite")
    package.auth = module("mysite.auth", auth_source)  # type: ignore[attr-defined]
    package.urls = module("mysite.urls", urls_source)  # type: ignore[attr-defined]
    sys.modules.update({"mysite": package, "mysite.auth": package.auth,
                        "mysite.urls": package.urls})
    settings: dict[str, Any] = {}
    exec(compile(settings_source, "docs/frameworks.md:settings.py", "exec"), settings)
    yield {name: value for name, value in settings.items() if name.isupper()}
    package.auth.manager.close()
    package.auth.emulator.stop()
    for name in ("mysite", "mysite.auth", "mysite.urls"):
        del sys.modules[name]


async def test_flask_quick_start(flask_quickstart: types.ModuleType) -> None:
    # A real server and httpx's cookie jar over plain http, as in the README's curl session.
    server = WsgiServer(flask_quickstart.app)
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            answers = await walk_through(client)
    finally:
        server.close()

    assert answers == [{"signed_in": FORM["username"]}, {"signed_in": True},
                       {"signed_in": False}]


async def test_django_quick_start(django_quickstart: dict[str, Any]) -> None:
    from django.core.handlers.asgi import ASGIHandler
    from django.test import override_settings

    assert django_quickstart["MIDDLEWARE"][0] == "ssrauth.django.SsrAuthMiddleware"
    with override_settings(ROOT_URLCONF="mysite.urls", **django_quickstart):
        transport = httpx.ASGITransport(app=ASGIHandler())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answers = await walk_through(client)

    assert answers == [{"signed_in": FORM["username"]}, {"signed_in": True},
                       {"signed_in": False}]
