"""A Cognito endpoint that fails like real ones do: a loopback server in front of the emulator."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ssrauth import CognitoConfig
from ssrauth.emulator import CognitoEmulator

from .waiting import WAIT


class FlakyCognito:
    """A loopback HTTP server in front of the emulator.

    Modes: ``up`` forwards every call to moto (counted there as usual); ``refused`` closes the
    listening socket (connection refused); ``timeout`` accepts and never answers in time;
    ``http500`` answers Cognito's JSON InternalErrorException; ``html500`` and ``html502`` answer a
    load balancer's HTML error page; ``throttled`` answers 400 TooManyRequestsException;
    ``html200`` a captive portal's 200 page (not JSON); ``http404`` a plain 404 (to a GET too:
    a JWKS URL that is not there); ``error:<Name>`` answers 400 with the Cognito JSON error
    ``<Name>``; ``slow`` forwards each call to moto after ``delay`` seconds (a provider slower
    than the client's timeout: the call still happens there, after the client gave up).
    """

    MODES = ("up", "refused", "timeout", "http500", "html500", "html502", "throttled", "html200",
             "http404", "slow")

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "up"
        self.answered: list[str] = []  # the mode of every call this server answered
        self.delay = 0.0  # the ``slow`` mode's, in seconds
        self._wake = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FlakyCognito:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.answered.append(owner.mode)
                status, headers, payload = owner.answer(self.headers, body)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout mode): nothing to answer to

            do_GET = do_POST  # noqa: N815 (http.server's naming)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._port = server.server_port
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                         name="flaky-cognito").start()
        return self

    def stop(self) -> None:
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode: str) -> None:
        assert mode in self.MODES or mode.startswith("error:"), mode
        if mode == "refused":
            self.stop()
        elif self._server is None:
            self._wake.clear()
            self.start()  # same port again: the endpoint comes back where it was
        self.mode = mode

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        mode = self.mode
        json_type = {"content-type": "application/x-amz-json-1.1"}
        if mode == "timeout":
            self._wake.wait(WAIT)
            return 200, json_type, b"{}"
        if mode == "slow":
            self._wake.wait(self.delay)
            return self._forward(headers, body)
        if mode == "http500":
            return 500, {**json_type, "x-amzn-errortype": "InternalErrorException:"}, (
                b'{"__type":"InternalErrorException","message":"Internal server error"}')
        if mode == "html500":
            return 500, {"content-type": "text/html"}, b"<html><h1>500 Server Error</h1></html>"
        if mode == "html502":
            return 502, {"content-type": "text/html"}, b"<html><h1>502 Bad Gateway</h1></html>"
        if mode == "html200":
            return 200, {"content-type": "text/html"}, b"<html><h1>Sign in to Wi-Fi</h1></html>"
        if mode == "http404":
            return 404, {"content-type": "text/plain"}, b"Not Found"
        if mode == "throttled":
            mode = "error:TooManyRequestsException"
        if mode.startswith("error:"):
            name = mode.partition(":")[2]
            payload = json.dumps({"__type": name, "message": f"{name} from the test"})
            return 400, {**json_type, "x-amzn-errortype": f"{name}:"}, payload.encode()
        return self._forward(headers, body)

    def _forward(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.upstream + "/", data=body, method="POST",
            headers={k: headers[k] for k in ("content-type", "x-amz-target") if headers[k]})
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, {"content-type": response.headers["content-type"]}, (
                    response.read())
        except urllib.error.HTTPError as error:  # moto's 4xx/5xx answers, relayed as they are
            kept = {k: v for k, v in error.headers.items()
                    if k.lower() in ("content-type", "x-amzn-errortype")}
            return error.code, kept, error.read()


def flaky_config(emulator: CognitoEmulator, flaky: FlakyCognito) -> CognitoConfig:
    """The emulator's configuration with the API behind ``flaky``; keys still come from moto
    (a JWKS outage is another story), and a short timeout keeps the hanging mode quick."""
    direct = emulator.config(timeout=1.5)
    return direct.with_changes(endpoint_url=flaky.url, jwks_url=direct.jwks_url)
