"""A real OpenID Connect provider on loopback: oidc-provider 9.13 (tests/oidc) run by Node, with
a counting proxy in front of it.

The proxy's URL is the issuer, so everything ssrauth sends (discovery, JWKS, token, revocation)
crosses it: the tests count refresh grants on the wire and make outages there (HTTP 500/503,
a closed port). :meth:`TestIdp.login` is a browserless user: it follows the authorization URL
through oidc-provider's dev login and consent forms to the redirect back to the app.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin

import httpx

IDP_DIR = Path(__file__).resolve().parents[2] / "oidc"
CLIENT_ID = "test-client"
SECRET_CLIENT_ID = "secret-client"
SECRET = "test-secret"
#: The access-token lifetime oidc-provider grants; tests move ssrauth's clock past it.
AT_TTL = 20
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_node_modules() -> None:
    """``npm ci`` once, if ``make test`` has not installed the IdP already."""
    if (IDP_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the OIDC tests (make test installs Node.js)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=IDP_DIR, check=True,
                   capture_output=True, timeout=300)


class CountingProxy:
    """Forwards every request to the IdP; counts token-endpoint grants and revocations; can
    answer an HTTP error instead (``fail_with``) or stop listening (:meth:`close`)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.calls: collections.Counter[str] = collections.Counter()
        #: Answer token and revocation calls with this status instead of forwarding them.
        self.fail_with: int | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.reopen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reopen(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                proxy._forward(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        """Stop listening: connections are refused, as when the IdP is down."""
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def count(self, what: str) -> int:
        with self._lock:
            return self.calls[what]

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        path = handler.path.split("?")[0]
        what = path
        if path == "/token":
            what = "token:" + parse_qs(body.decode()).get("grant_type", ["?"])[0]
        with self._lock:
            self.calls[what] += 1
        if self.fail_with is not None and path.startswith("/token"):
            payload = json.dumps({"error": "temporarily_unavailable"}).encode()
            self._answer(handler, self.fail_with, [("content-type", "application/json")],
                         payload)
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=10)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = f"127.0.0.1:{self.port}"
        try:
            upstream.request(handler.command, handler.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError:  # Node is still starting
            self._answer(handler, 502, [], b"")
            return
        finally:
            upstream.close()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        self._answer(handler, response.status, kept, data)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int,
                headers: list[tuple[str, str]], body: bytes) -> None:
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class TestIdp:
    """oidc-provider under Node behind :class:`CountingProxy`; issuer = the proxy's URL."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, redirect_uri: str) -> None:
        ensure_node_modules()
        self.redirect_uri = redirect_uri
        node_port = free_port()
        self.proxy = CountingProxy(node_port)
        self.issuer = self.proxy.url
        env = {**os.environ, "PORT": str(node_port), "ISSUER": self.issuer,
               "REDIRECT_URI": redirect_uri, "AT_TTL": str(AT_TTL)}
        self.process = subprocess.Popen(
            ["node", "oidc-server.mjs"], cwd=IDP_DIR, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration").is_success:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"oidc-provider did not start: {self._stderr()}")
            time.sleep(0.05)
        self.calls_at_start = collections.Counter(self.proxy.calls)

    def _stderr(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def reset_counts(self) -> None:
        with self.proxy._lock:
            self.proxy.calls.clear()

    def login(self, authorization_url: str, user: str = "alice") -> str:
        """Sign in as ``user`` at the IdP's dev forms; the URL it redirects back to."""
        with httpx.Client(timeout=10) as browser:  # carries the IdP's own interaction cookies
            url, method, data = authorization_url, "GET", None
            for _ in range(12):
                response = browser.request(method, url, data=data)
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    method, data = "GET", None
                    if url.startswith(self.redirect_uri):
                        return url
                    continue
                form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                prompt = re.search(r'name="prompt" value="([^"]+)"', response.text)
                if response.status_code != 200 or form is None or prompt is None:
                    raise AssertionError(f"IdP answered {response.status_code}: "
                                         f"{response.text[:300]}")
                url = urljoin(url, form.group(1).replace("&amp;", "&"))
                method = "POST"
                data = ({"prompt": "login", "login": user, "password": "any"}
                        if prompt.group(1) == "login" else {"prompt": prompt.group(1)})
        raise AssertionError("the IdP never redirected back")

    def revoke(self, refresh_token: str) -> None:
        """Revoke a grant out of band (an admin, another device): RFC 7009 at the IdP."""
        response = httpx.post(f"{self.issuer}/token/revocation",
                              data={"token": refresh_token, "client_id": CLIENT_ID})
        assert response.status_code == 200, response.text

    def refresh_directly(self, refresh_token: str) -> httpx.Response:
        return httpx.post(f"{self.issuer}/token", data={
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": CLIENT_ID})

    def dev_signing_key(self) -> dict[str, Any]:
        """oidc-provider's published dev key pair (it ships in the package): lets a test sign
        tokens that carry the right signature but the wrong claims."""
        script = ("import('./node_modules/oidc-provider/lib/consts/dev_keystore.js')"
                  ".then(m => console.log(JSON.stringify(m.default.keys[0])))")
        out = subprocess.run(["node", "-e", script], cwd=IDP_DIR, check=True,
                             capture_output=True, timeout=30).stdout
        key: dict[str, Any] = json.loads(out)
        return key


def running_idp(redirect_uri: str) -> Iterator[TestIdp]:
    idp = TestIdp(redirect_uri)
    try:
        yield idp
    finally:
        idp.close()
