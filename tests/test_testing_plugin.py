"""ssrauth.testing, the pytest plugin: docs/testing.md's example files run as written by pytest in
a subprocess (the plugin loaded through its entry point, as in a user's project), and the helpers
against Flask's and Django's test clients in this process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from ssrauth.flask import SsrAuth, current_session
from ssrauth.testing import SsrAuthTesting, TestUser
from tests.accounts import PASSWORD

DOC = (Path(__file__).resolve().parents[1] / "docs" / "testing.md").read_text(encoding="utf-8")


def example_files() -> dict[str, str]:
    """The doc's files, each a python block under a bold file name."""
    return dict(re.findall(r"\*\*`([\w.]+\.py)`\*\*[^\n]*\n\n```python\n(.*?)```", DOC, re.S))


def test_the_docs_example_passes_under_pytest_with_the_plugin(tmp_path: Path) -> None:
    files = example_files()
    assert sorted(files) == ["conftest.py", "myapp.py", "test_myapp.py"]
    for name, source in files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    # Only to keep the run to this folder: no configuration of ssrauth's own above it.
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_myapp.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout


@pytest.fixture
def helpers(emulator: CognitoEmulator, clock: ManualClock,
            manager: SessionManager) -> SsrAuthTesting:
    user = TestUser("alice", PASSWORD)
    return SsrAuthTesting(emulator, clock, manager, user, [user])


@pytest.fixture
def flask_app(manager: SessionManager) -> Flask:
    app = Flask(__name__)
    SsrAuth(app, manager=manager)

    @app.get("/<path:rest>")
    def page(rest: str) -> dict[str, object]:
        session = current_session()
        return {"path": rest, "user": session.username if session else None}

    return app


def test_a_flask_test_client_signed_in_is_served_and_refreshed_once(
    flask_app: Flask, helpers: SsrAuthTesting,
) -> None:
    client = flask_app.test_client()
    helpers.sign_in(client)
    helpers.expire()

    # The manager writes Secure cookies (the suite's policy); werkzeug's client sends them to
    # an http URL anyway, as a test client does not enforce Secure.
    assert client.get("/a").json == {"path": "a", "user": "alice"}
    assert client.get("/b").json == {"path": "b", "user": "alice"}
    assert helpers.refresh_calls() == 1


def test_flask_seeded_duplicates_are_deleted_by_the_next_response(
    flask_app: Flask, helpers: SsrAuthTesting,
) -> None:
    client = flask_app.test_client()
    signed_in = helpers.sign_in(client)
    helpers.seed_duplicates(client, signed_in, path="/orders")
    name = signed_in.set_cookies[0].split("=", 1)[0]
    assert client.get_cookie(name, path="/orders") is not None

    assert client.get("/orders/7").json == {"path": "orders/7", "user": "alice"}

    assert client.get_cookie(name, path="/orders") is None
    assert client.get_cookie(name, path="/") is not None
    assert helpers.refresh_calls() == 0


def test_a_revoked_session_is_over_after_expiry(flask_app: Flask, helpers: SsrAuthTesting) -> None:
    client = flask_app.test_client()
    signed_in = helpers.sign_in(client)
    helpers.revoke()
    helpers.expire()

    assert client.get("/a").json == {"path": "a", "user": None}
    assert client.get_cookie(signed_in.set_cookies[0].split("=", 1)[0]) is None


@pytest.fixture
def django_client(manager: SessionManager) -> Iterator[object]:
    from tests.integration import django_site

    django_site.configure()
    from django.test import Client

    django_site.manager = manager
    yield Client()
    django_site.manager = None


def test_a_django_test_client_signed_in_reaches_a_required_user_view(
    django_client: object, helpers: SsrAuthTesting,
) -> None:
    assert django_client.get("/api/me").status_code == 401  # type: ignore[attr-defined]

    helpers.sign_in(django_client)

    me = django_client.get("/api/me")  # type: ignore[attr-defined]
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
