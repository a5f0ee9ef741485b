"""The OIDC redirect flow through the WSGI adapter (Flask under werkzeug's threaded server), with
a confidential client (client_secret_basic): sign-in, a burst of twenty threads at expiry
making one refresh, sign-out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from ssrauth import LocalCoordinator, ManualClock, SessionManager, SignInError
from ssrauth.flask import SsrAuth, get_auth, require_user
from tests.integration.oidc.idp import SECRET, SECRET_CLIENT_ID, TestIdp
from tests.integration.oidc.oidc_app import expired_burst, log_in, oidc_config
from tests.integration.rig.browsers import WsgiBrowser
from tests.integration.rig.cookies import value_of

pytestmark = pytest.mark.anyio

PREFIX = f"ssrauth.{SECRET_CLIENT_ID}"


def build_flask_app(manager: SessionManager) -> Flask:
    app = Flask(__name__)
    SsrAuth(app, manager=manager)

    @app.get("/login")
    def login() -> ResponseReturnValue:
        return redirect(get_auth().begin_sign_in(request.args.get("return_to", "/")), 303)

    @app.get("/callback")
    def callback() -> ResponseReturnValue:
        try:
            return redirect(get_auth().complete_sign_in(request.args.to_dict()), 303)
        except SignInError as error:
            return jsonify(error=str(error)), 400

    @app.post("/signout")
    def sign_out() -> ResponseReturnValue:
        return jsonify(logout=get_auth().sign_out())

    @app.get("/api/me")
    @require_user
    def me() -> ResponseReturnValue:
        session = get_auth().session
        assert session is not None
        return jsonify(sub=session.sub)

    return app


@pytest.fixture
def flask_browser(idp: TestIdp, clock: ManualClock) -> Iterator[WsgiBrowser]:
    config = oidc_config(idp, client_id=SECRET_CLIENT_ID, client_secret=SECRET)
    manager = SessionManager(config, clock=clock, coordinator=LocalCoordinator(clock=clock))
    browser = WsgiBrowser(build_flask_app(manager))
    yield browser
    browser.close()


async def test_flask_sign_in_one_refresh_for_a_burst_and_sign_out(
    flask_browser: WsgiBrowser, idp: TestIdp, clock: ManualClock
) -> None:
    browser = flask_browser
    await log_in(browser, idp, "carol", return_to="/account")
    assert (await browser.get("/api/me")).json() == {"sub": "carol"}
    await expired_burst(browser, idp, clock)
    value_of(browser.jar, f"{PREFIX}.carol.accessToken")  # one copy

    out = await browser.post("/signout")
    assert out.json()["logout"].startswith(idp.issuer)
    assert idp.proxy.count("/token/revocation") == 1
    assert idp.proxy.count("token:refresh_token") == 1  # sign-out needed no refresh
    assert not [c for c in browser.jar.cookies if c.name.startswith(PREFIX)]
    assert (await browser.get("/api/me")).status_code == 401
