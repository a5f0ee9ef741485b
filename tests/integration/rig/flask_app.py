"""The framework contract's routes as a Flask app would write them (SsrAuth, get_auth,
require_user): used by the Flask contract tests and the cross-adapter Cookie-header tests."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from ssrauth import ProviderRejected, ProviderUnavailable, SessionManager
from ssrauth.flask import SsrAuth, current_session, get_auth, require_user
from tests.integration.rig.apps import APP_VALUE
from tests.integration.rig.cookies import cookie_name

__all__ = ["build_flask_app"]


def build_flask_app(manager: SessionManager) -> Flask:
    """The contract's routes as a Flask app would write them."""
    app = Flask(__name__)
    SsrAuth(app, manager=manager)

    @app.post("/signin")
    def sign_in() -> ResponseReturnValue:
        try:
            session = get_auth().sign_in(request.form["username"], request.form["password"])
        except ProviderRejected as error:
            return {"error": error.code}, 401
        except ProviderUnavailable as error:
            return {"error": "unavailable"}, 503, {"Retry-After": str(error.retry_after)}
        return {"username": session.username}

    @app.post("/signout")
    def sign_out() -> ResponseReturnValue:
        get_auth().sign_out()
        return {"signed_out": True}

    @app.get("/api/me")
    @require_user
    def me() -> ResponseReturnValue:
        user = current_session()
        assert user is not None
        return {"username": user.username, "sub": user.sub}

    @app.get("/api/async-me")
    @require_user
    async def async_me() -> ResponseReturnValue:
        return me()

    @app.get("/own-cookie/<field>")
    @require_user
    def own_cookie(field: str) -> ResponseReturnValue:
        user = current_session()
        assert user is not None
        response = jsonify(username=user.username)
        name = cookie_name(manager.config.client_id, user.cookie_username, field)
        response.set_cookie(name, APP_VALUE, path="/", secure=True, samesite="Lax")
        return response

    @app.get("/visit")
    def visit() -> ResponseReturnValue:
        visits = int(request.cookies.get("visits", "0")) + 1
        response = jsonify(visits=visits)
        response.set_cookie("visits", str(visits))
        return response

    @app.get("/", defaults={"rest": ""})
    @app.get("/<path:rest>")
    def page(rest: str) -> ResponseReturnValue:
        user = current_session()
        return ({"user": user.username if user else None, "path": rest},
                {"Cache-Control": "private, max-age=60"})

    return app
