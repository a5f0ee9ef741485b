"""The real Amplify JS v6 client in Chromium, next to ssrauth on one origin.

* ``tests/amplify/`` is a tiny npm project: ``aws-amplify`` pinned, bundled by esbuild into
  ``dist/amplify-page.js`` (``make test`` builds it; :func:`build_bundle` does when it is missing,
  so ``pytest`` alone works too).
* :func:`create_rig_app` serves, on one origin: the test page (the bundle plus its config), the
  demo's routes behind ``SsrAuthMiddleware`` (``/api/me``, POST ``/signin``, POST ``/signout``),
  and :class:`CognitoProxy` at ``/cognito/``, Amplify's ``userPoolEndpoint``.

Why a proxy and not a pin: Amplify >= 6.15.4 refreshes with ``GetTokensFromRefreshToken``, which
moto 5.2.5 lacks (HTML 500). Pinning 6.15.3 would test a client nobody installs any more, so the
proxy maps that one call to ``InitiateAuth REFRESH_TOKEN_AUTH``, which moto has, and forwards
everything else unchanged. ssrauth itself talks to moto directly (its provider falls back on
its own), so the proxy's counters tell Amplify's calls from the server's.

Why ``http://127.0.0.1``: Amplify's ``ssr: true`` cookies are ``Secure``, and Chromium keeps a
Secure cookie set over plain http only on a potentially trustworthy origin (loopback), so the
page is served there and not on ``app.example.test``; the server's CookiePolicy keeps
``secure=True``, so both writers use exactly the same attributes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from ssrauth import CookiePolicy, SessionManager
from ssrauth.demo import create_app
from ssrauth.emulator import CognitoEmulator

AMPLIFY_DIR = Path(__file__).resolve().parent.parent / "amplify"
BUNDLE = AMPLIFY_DIR / "dist" / "amplify-page.js"
#: What the bundle is built from: the Makefile's prerequisites for it are the same files.
BUNDLE_INPUTS = ("package.json", "package-lock.json", "entry.js")
#: The same commands as the Makefile's rule (esbuild's flags live in package.json's "build").
BUILD_COMMANDS = (("npm", "ci", "--no-audit", "--no-fund"), ("npm", "run", "--silent", "build"))

TARGET = "AWSCognitoIdentityProviderService."
JSON_TYPE = "application/x-amz-json-1.1"
#: Response headers Amplify's Cognito client reads (errors come as x-amzn-errortype + body).
PASSED_HEADERS = ("content-type", "x-amzn-errortype", "x-amzn-errormessage", "x-amzn-requestid")

#: Amplify's ``ssr: true`` CookieStorage: Path=/, no Domain (host-only), SameSite=Lax, Secure,
#: not HttpOnly (``initSingleton.ts``: ``new CookieStorage({sameSite: 'lax'})``).
AMPLIFY_SSR_POLICY = CookiePolicy(path="/", domain=None, secure=True, http_only=False,
                                  same_site="lax")


def build_bundle() -> Path:
    """Build ``dist/amplify-page.js`` when it is missing or older than what it is built from."""
    inputs = [AMPLIFY_DIR / name for name in BUNDLE_INPUTS]
    if BUNDLE.exists() and all(p.stat().st_mtime <= BUNDLE.stat().st_mtime for p in inputs):
        return BUNDLE
    if shutil.which("npm") is None:
        raise RuntimeError(
            f"{BUNDLE} needs building and npm is not installed: install Node.js and npm "
            "(apt-get install -y nodejs npm; .ci/run does it)")
    env = {**os.environ, "npm_config_update_notifier": "false"}
    for command in BUILD_COMMANDS:
        done = subprocess.run(command, cwd=AMPLIFY_DIR, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` in {AMPLIFY_DIR} failed "
                               f"({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return BUNDLE


def operation_key(operation: str, body: dict[str, Any]) -> str:
    """The name ``CognitoEmulator.calls`` uses: InitiateAuth carries its AuthFlow."""
    if operation == "InitiateAuth":
        return f"{operation}:{body.get('AuthFlow', '?')}"
    return operation


class CognitoProxy:
    """Amplify's ``userPoolEndpoint``: forwards Cognito JSON calls to moto, counting them.

    ``calls`` counts what Amplify asked for; ``forwarded`` what reached moto on its behalf, under
    ``emulator.calls``' names, so ``emulator.calls - forwarded`` is what the server did itself.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/") + "/"
        self.calls: Counter[str] = Counter()
        self.forwarded: Counter[str] = Counter()

    def refreshes(self) -> int:
        """Refreshes Amplify asked for, by either API."""
        calls = self.calls
        return calls["GetTokensFromRefreshToken"] + calls["InitiateAuth:REFRESH_TOKEN_AUTH"]

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _error(400, "SerializationException", "the proxy expects a JSON body")
        if not target.startswith(TARGET) or not isinstance(body, dict):
            return _error(400, "UnknownOperationException", f"not a Cognito call: {target!r}")
        operation = target[len(TARGET):]
        self.calls[operation_key(operation, body)] += 1
        if operation == "GetTokensFromRefreshToken":
            if body.get("ClientSecret"):
                # The emulator's app client is public, as a browser's must be: no SECRET_HASH.
                return _error(400, "InvalidParameterException",
                              "the proxy maps refreshes of public clients only")
            operation, body = "InitiateAuth", _as_initiate_auth(body)
        self.forwarded[operation_key(operation, body)] += 1
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(self.upstream, content=json.dumps(body).encode(),
                                       headers={"Content-Type": JSON_TYPE,
                                                "X-Amz-Target": TARGET + operation})
        # Cognito's GetTokensFromRefreshToken answers {"AuthenticationResult": {...}} like
        # InitiateAuth; without rotation (moto never rotates) it carries no RefreshToken, and
        # neither does moto's REFRESH_TOKEN_AUTH answer, so the body passes through unchanged.
        headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=headers)


def _as_initiate_auth(body: dict[str, Any]) -> dict[str, Any]:
    """GetTokensFromRefreshToken {ClientId, RefreshToken, DeviceKey?, ClientMetadata?} as
    InitiateAuth REFRESH_TOKEN_AUTH."""
    parameters = {"REFRESH_TOKEN": body.get("RefreshToken", "")}
    if body.get("DeviceKey"):
        parameters["DEVICE_KEY"] = body["DeviceKey"]
    mapped: dict[str, Any] = {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": body.get("ClientId"),
                              "AuthParameters": parameters}
    if body.get("ClientMetadata"):
        mapped["ClientMetadata"] = body["ClientMetadata"]
    return mapped


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"__type": code, "message": message}, status_code=status,
                        headers={"x-amzn-errortype": code})


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Amplify interop</title></head>
<body><p>Amplify JS v6 test page</p>
<script>window.AMPLIFY_TEST_CONFIG = {config};</script>
<script src="/amplify-page.js"></script>
</body></html>
"""


def create_rig_app(emulator: CognitoEmulator, manager: SessionManager,
                   proxy: CognitoProxy, bundle: Path) -> Starlette:
    """The page at ``/amplify``, the bundle, the proxy, and the demo's routes for the rest."""

    async def page(request: Request) -> Response:
        config = {"userPoolId": emulator.user_pool_id, "userPoolClientId": emulator.client_id,
                  "userPoolEndpoint": str(request.base_url) + "cognito/"}
        body = PAGE.format(config=json.dumps(config).replace("<", "\\u003c"))
        return HTMLResponse(body, headers={"cache-control": "no-store"})

    async def script(_: Request) -> Response:
        return FileResponse(bundle, media_type="text/javascript")

    return Starlette(routes=[
        Route("/amplify", page, methods=["GET"]),
        Route("/amplify-page.js", script, methods=["GET"]),
        Route("/cognito/", proxy.handle, methods=["POST"]),
        Mount("", create_app(emulator, manager=manager)),
    ])
