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


def run_pytest(folder: Path, files: dict[str, str], test_file: str) -> str:
    """pytest on ``files`` written to ``folder``, in a subprocess with the plugin loaded through
    its entry point as in a user's project; its output, after asserting that it passed."""
    for name, source in files.items():
        (folder / name).write_text(source, encoding="utf-8")
    # Only to keep the run to this folder: no configuration of ssrauth's own above it.
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_the_docs_example_passes_under_pytest_with_the_plugin(tmp_path: Path) -> None:
    files = example_files()
    assert sorted(files) == ["conftest.py", "myapp.py", "test_myapp.py"]

    assert "5 passed" in run_pytest(tmp_path, files, "test_myapp.py")


#: A user's tests that watch SessionManager.close: the first signs in through the plugin's
#: manager (opening its HTTP client), the second runs after that manager's teardown.
CLOSING_TESTS = """
import pytest
from ssrauth import SessionManager

closed = []
used = []


@pytest.fixture(autouse=True)
def watch_close(monkeypatch):  # set up before ssrauth_manager, so undone after its teardown
    close = SessionManager.close
    monkeypatch.setattr(SessionManager, "close", lambda self: (closed.append(self), close(self)))


def test_a_sign_in_through_the_plugins_manager(ssrauth_manager, ssrauth_user):
    auth = ssrauth_manager.load("", "/", "localhost")
    auth.sign_in(ssrauth_user.username, ssrauth_user.password)
    assert auth.is_authenticated
    used.append(ssrauth_manager)
    assert closed == []


def test_that_manager_was_closed_at_its_teardown():
    assert closed == used != []
"""


def test_the_manager_fixture_closes_the_manager_at_teardown(tmp_path: Path) -> None:
    output = run_pytest(tmp_path, {"test_closing.py": CLOSING_TESTS}, "test_closing.py")

    assert "2 passed" in output


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
