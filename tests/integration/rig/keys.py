"""A user pool's signing keys on loopback: a JWKS endpoint that rotates and fails on demand,
and the tokens its keys sign (Cognito's claims, minted with ``tests.unit.factory``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ssrauth import Clock, CognitoConfig
from tests.unit.factory import CLIENT_ID, POOL_ID, Minter, PoolKey, amplify_cookies, cookie_header


class KeyServer:
    """``GET /jwks.json`` answers the published keys (``publish`` rotates them), or HTTP 500
    while ``down``; ``fetches`` counts every request it answered."""

    def __init__(self, *keys: PoolKey) -> None:
        self.keys = list(keys)
        self.down = False
        self.fetches = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.fetches += 1
                    status = 500 if owner.down else 200
                    body = json.dumps({"keys": [k.public_jwk for k in owner.keys]}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="key-server").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/jwks.json"

    def publish(self, *keys: PoolKey) -> None:
        with self._lock:
            self.keys = list(keys)

    def config(self) -> CognitoConfig:
        """The test pool (``tests.unit.factory``'s) with its keys here."""
        return CognitoConfig(user_pool_id=POOL_ID, client_id=CLIENT_ID, jwks_url=self.url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def signed_in(key: PoolKey, clock: Clock, username: str = "alice") -> str:
    """The Cookie header of a session whose tokens ``key`` signed, issued now on ``clock``."""
    minted, iat = Minter(key), int(clock.now())
    return cookie_header(amplify_cookies(
        username, access=minted.access(username, iat=iat), id_token=minted.id(username, iat=iat),
        refresh=f"refresh-{username}", clock_drift="0"))
