"""The README quick start, run as written: its app.py block against the embedded emulator, and
the curl session it shows, replayed over HTTP with the same cookie jar semantics."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no python block"
    return blocks[0]


@pytest.fixture
def quickstart() -> Iterator[types.ModuleType]:
    module = types.ModuleType("app")
    exec(compile(_python_block(), "README.md:app.py", "exec"), module.__dict__)
    yield module
    module.emulator.stop()


async def test_quick_start_signs_in_serves_the_user_and_signs_out(
    quickstart: types.ModuleType,
) -> None:
    transport = httpx.ASGITransport(app=quickstart.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8001") as curl:
        signed_in = await curl.post(
            "/signin", data={"username": "alice@example.com", "password": "Passw0rd!x"}
        )
        me = await curl.get("/api/me")
        home = await curl.get("/")
        signed_out = await curl.post("/signout")
        after = await curl.get("/api/me")

    assert signed_in.json() == {"signed_in": "alice@example.com"}
    assert me.status_code == 200
    assert me.json()["username"] == "alice@example.com"
    assert home.json() == {"signed_in": True}
    assert signed_out.json() == {"signed_in": False}
    assert after.status_code == 401
