"""An embedded Cognito for demos and tests: moto's user-pool API on 127.0.0.1, on a clock you
can move.

moto speaks the real Cognito JSON API (``X-Amz-Target: AWSCognitoIdentityProviderService.*``)
and serves a JWKS, so ssrauth talks to it exactly as to AWS. Two things are added around it:

* every API call is counted by operation (``emulator.calls``), so a test can assert that fifty
  concurrent requests made exactly one refresh;
* moto stamps ``iat``/``exp`` from a :class:`~ssrauth.ManualClock` shared with the app, so moving
  that clock one hour ahead expires tokens the way an hour of waiting would, and tokens minted
  afterwards are fresh on the same clock.

Requires the ``emulator`` extra (``pip install ssrauth[emulator]``). Never point a production
configuration at it: moto signs with a private key that ships inside the moto package.
"""

from __future__ import annotations

import json
import logging
import threading
import types
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Self

from ._config.cognito import CognitoConfig
from ._core.clock import ManualClock

__all__ = ["CognitoEmulator"]

_TARGET_PREFIX = "AWSCognitoIdentityProviderService."


class CognitoEmulator:
    """Start with :meth:`start` (or ``with``), create users, hand :meth:`config` to ssrauth."""

    def __init__(
        self,
        clock: ManualClock | None = None,
        *,
        region: str = "us-east-1",
        client_secret: bool = False,
    ) -> None:
        self.clock = clock or ManualClock()
        #: Create the app client with a secret (SECRET_HASH on every call), like a confidential
        #: server-side client.
        self.with_client_secret = client_secret
        self.client_secret: str | None = None
        # moto routes unsigned GlobalSignOut correctly only for us-east-1 pools (moto 5.2.5).
        self.region = region
        self.calls: Counter[str] = Counter()
        #: Calls moto could not serve ("action has not been implemented": an HTML 500).
        self.unimplemented: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._saved_time: Any = None
        self.url = ""
        self.user_pool_id = ""
        self.client_id = ""

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        from moto.cognitoidp import models
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        # werkzeug logs every request, and a traceback for each operation moto lacks (which
        # ssrauth probes for on purpose): keep the demo's and the tests' output readable.
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self._counting(app), threaded=True,
                                   request_handler=MotoRequestHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True,
                                        name="cognito-emulator")
        self._thread.start()
        # moto reads time.time() once per token (models.create_jwt); give it our clock instead.
        self._saved_time = getattr(models, "time")  # noqa: B009 - untyped module attribute
        setattr(models, "time", types.SimpleNamespace(time=self.clock.now))  # noqa: B010
        pool = self.call("CreateUserPool", {"PoolName": "ssrauth-emulator"})
        self.user_pool_id = pool["UserPool"]["Id"]
        client = self.call("CreateUserPoolClient", {
            "UserPoolId": self.user_pool_id,
            "ClientName": "ssrauth-emulator",
            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "GenerateSecret": self.with_client_secret,
            # Without ReadAttributes moto leaves profile claims out of id tokens.
            "ReadAttributes": ["email", "email_verified", "name"],
        })
        self.client_id = client["UserPoolClient"]["ClientId"]
        self.client_secret = client["UserPoolClient"].get("ClientSecret")
        self.reset_calls()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._saved_time is not None:
            from moto.cognitoidp import models

            setattr(models, "time", self._saved_time)  # noqa: B010
            self._saved_time = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- use -----------------------------------------------------------------------------------

    def config(self, **overrides: Any) -> CognitoConfig:
        """A :class:`CognitoConfig` for this emulator (endpoint, JWKS URL, issuer all set)."""
        settings: dict[str, Any] = {"client_secret": self.client_secret, **overrides}
        return CognitoConfig(user_pool_id=self.user_pool_id, client_id=self.client_id,
                             region=self.region, endpoint_url=self.url, **settings)

    def create_user(self, username: str, password: str, **attributes: str) -> None:
        """A confirmed user with a permanent password, ready to sign in."""
        self.call("AdminCreateUser", {
            "UserPoolId": self.user_pool_id,
            "Username": username,
            "MessageAction": "SUPPRESS",
            "UserAttributes": [{"Name": k, "Value": v} for k, v in attributes.items()],
        })
        self.call("AdminSetUserPassword", {"UserPoolId": self.user_pool_id, "Username": username,
                                           "Password": password, "Permanent": True})

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """One raw Cognito API call (setup, or a test acting as another client). Not counted."""
        request = urllib.request.Request(  # noqa: S310 - the URL is our own loopback server
            self.url + "/",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": _TARGET_PREFIX + operation,
                     "X-Ssrauth-Uncounted": "1"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            data: dict[str, Any] = json.loads(response.read() or b"{}")
            return data

    def reset_calls(self) -> None:
        with self._calls_lock:
            self.calls.clear()
            self.unimplemented.clear()

    def refresh_calls(self) -> int:
        """Refresh requests moto acted on, by either API.

        moto answers GetTokensFromRefreshToken with a 500 "not implemented"; ssrauth probes it
        once per provider and falls back. Those probes are counted in ``calls`` and
        ``unimplemented`` but are not refreshes, so they are left out here.
        """
        calls, probes = self.calls, self.unimplemented
        return (calls["GetTokensFromRefreshToken"] - probes["GetTokensFromRefreshToken"]
                + calls["InitiateAuth:REFRESH_TOKEN_AUTH"])

    def _counting(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def counted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if not target.startswith(_TARGET_PREFIX) or environ.get("HTTP_X_SSRAUTH_UNCOUNTED"):
                return app(environ, start_response)
            operation = target[len(_TARGET_PREFIX):]
            if operation == "InitiateAuth":
                operation += ":" + _auth_flow(environ)
            with self._calls_lock:
                self.calls[operation] += 1
            try:
                return app(environ, start_response)
            except NotImplementedError:
                # moto raises it out of the app for operations it lacks; werkzeug turns it
                # into the HTML 500 ssrauth's provider recognises.
                with self._calls_lock:
                    self.unimplemented[operation] += 1
                raise

        return counted


def _auth_flow(environ: dict[str, Any]) -> str:
    """Peek at InitiateAuth's AuthFlow and put the body back for moto."""
    import io

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        return str(json.loads(body).get("AuthFlow", "?"))
    except ValueError:
        return "?"
