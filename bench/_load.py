"""Load generators: wrk when it is installed, else a small asyncio client in a child process.

Both keep a fixed number of keep-alive connections busy, one request in flight on each (a closed
loop), for a fixed time, and report completed requests per second. The bench never installs wrk:
on a machine without it the Python client is used, and the bench says so.

The Python client is a child process of its own (``python -m bench._load``), pinned to the load
generator's CPU: it reads the request (as JSON, cut where page views put their number) from
stdin and prints one JSON line. It is lean (about 30 µs of its own CPU per request, a quarter of
what uvicorn spends) so that one core of it keeps a one-core uvicorn saturated.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._jar import GA_LAST_HIT, split_at_last_hit
from ._procs import Pinning, cpu_seconds, run_json

__all__ = ["LoadGenerator", "LoadResult", "choose_generator", "http_request"]


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    #: CPUs' worth of time the server and the load generator used while measured (1.0 = one
    #: core fully busy); None where /proc is not available.
    server_cpu: float | None = None
    load_cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_us_per_request(self) -> float | None:
        """Server CPU per request: unlike req/s, it does not drop when another process on the
        machine takes CPU time from the server, so it survives a noisy machine better."""
        if self.server_cpu is None or not self.requests:
            return None
        return self.server_cpu * self.seconds / self.requests * 1e6


def http_request(port: int, path: str, cookie_header: str) -> str:
    """The same request for every server but the port: a browser-like GET with the session."""
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: ssrauth-bench\r\n"
            f"Accept: text/html\r\nCookie: {cookie_header}\r\n\r\n")


#: Page views: each request asks for a new path, ``/pages/<n>``, and carries GA4's session cookie
#: with ``n`` as its last-hit time, as successive pages of a site with Google Analytics do.
PAGES_PATH = "/pages/"


def _page_view_parts(port: int, cookie_header: str) -> list[str]:
    """The request cut where the page number goes: ``parts[0] + n + parts[1] + n + parts[2]``."""
    prefix, suffix = split_at_last_hit(cookie_header)
    head, _, tail = http_request(port, PAGES_PATH + "\0", prefix + "\0" + suffix).partition("\0")
    middle, _, end = tail.partition("\0")
    return [head, middle, end]


class LoadGenerator:
    """Runs one measurement window against one server."""

    def __init__(self, kind: str, pinning: Pinning, connections: int) -> None:
        self.kind = kind
        self.pinning = pinning
        self.connections = connections
        self.version = _wrk_version() if kind == "wrk" else "asyncio client (bench._load)"

    def run(self, port: int, server_pid: int, cookie_header: str, seconds: float, *,
            vary: bool = False) -> LoadResult:
        """Load ``port`` for ``seconds``; ``vary`` makes every request a new page view (a new
        path, GA4's last-hit time bumped), as a browser moving through a site sends."""
        if self.kind == "wrk":
            return self._wrk(port, server_pid, cookie_header, seconds, vary)
        return self._python(port, server_pid, cookie_header, seconds, vary)

    def _wrk(self, port: int, server_pid: int, cookie_header: str, seconds: float, vary: bool
             ) -> LoadResult:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(_wrk_script(cookie_header, vary))
        try:
            return self._wrk_with(script.name, port, server_pid, seconds)
        finally:
            os.unlink(script.name)

    def _wrk_with(self, script: str, port: int, server_pid: int, seconds: float) -> LoadResult:
        command, preexec = self.pinning.wrap([
            # wrk takes whole seconds only.
            "wrk", "-t1", f"-c{self.connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "5s", "-s", script,
            "-H", "User-Agent: ssrauth-bench", "-H", "Accept: text/html",
            f"http://127.0.0.1:{port}/",
        ], self.pinning.load_cpu)
        server_before = cpu_seconds(server_pid)
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                timeout=seconds + 30, preexec_fn=preexec)
        if result.returncode != 0:
            raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-2000:]}"
                               f"{result.stdout[-2000:]}")
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_after = cpu_seconds(server_pid)
        parsed = _parse_wrk(result.stdout)
        load = (usage_after.ru_utime + usage_after.ru_stime - usage_before.ru_utime
                - usage_before.ru_stime)
        server = (server_after - server_before
                  if server_before is not None and server_after is not None else None)
        return LoadResult(parsed.requests, parsed.errors, parsed.seconds,
                          server / parsed.seconds if server is not None else None,
                          load / parsed.seconds)

    def _python(self, port: int, server_pid: int, cookie_header: str, seconds: float,
                vary: bool) -> LoadResult:
        command, preexec = self.pinning.wrap(
            [sys.executable, "-m", "bench._load", str(port), str(self.connections), str(seconds),
             str(server_pid)],
            self.pinning.load_cpu,
        )
        parts = (_page_view_parts(port, cookie_header) if vary
                 else [http_request(port, "/", cookie_header)])
        data = run_json(command, stdin=json.dumps(parts).encode(), timeout=seconds + 30,
                        preexec=preexec)
        return LoadResult(data["requests"], data["errors"], data["seconds"],
                          data["server_cpu"], data["load_cpu"])


def choose_generator(requested: str, pinning: Pinning, connections: int) -> tuple[
        LoadGenerator, str]:
    """The generator to use and a line saying which (and why, for the fallback)."""
    has_wrk = shutil.which("wrk") is not None
    if requested == "wrk" and not has_wrk:
        raise SystemExit("bench: --loadgen wrk asked for, but wrk is not installed")
    if requested == "wrk" or (requested == "auto" and has_wrk):
        generator = LoadGenerator("wrk", pinning, connections)
        return generator, f"load generator: {generator.version}"
    generator = LoadGenerator("python", pinning, connections)
    why = "wrk not found on PATH" if not has_wrk else "--loadgen python"
    return generator, (f"load generator: FALLBACK asyncio client ({why}; installs nothing; "
                       "`apt-get install wrk` to use wrk)")


def _wrk_script(cookie_header: str, vary: bool) -> str:
    """A wrk Lua script sending the session cookies; page views (see ``PAGES_PATH``) if ``vary``."""
    if not vary:
        return f'wrk.headers["Cookie"] = [==[{cookie_header}]==]\n'
    prefix, suffix = split_at_last_hit(cookie_header)
    return (f"local prefix = [==[{prefix}]==]\nlocal suffix = [==[{suffix}]==]\n"
            f"local hit = {GA_LAST_HIT}\n"
            "request = function()\n"
            "  hit = hit + 1\n"
            f'  wrk.path = "{PAGES_PATH}" .. hit\n'
            '  wrk.headers["Cookie"] = prefix .. hit .. suffix\n'
            "  return wrk.format()\n"
            "end\n")


def _wrk_version() -> str:
    try:
        result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "wrk"
    first = (result.stdout or result.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


_UNIT = {"k": 1e3, "M": 1e6}


def _parse_wrk(output: str) -> LoadResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return LoadResult(int(total.group(1)), errors, float(total.group(2)) * scale)


# -- the Python client (child process) -------------------------------------------------------

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)

#: Responses completing in this first part of the run are not counted: connections are being
#: opened and the server's first requests on them are not steady state.
WARMUP_SECONDS = 0.5


class _Stats:
    __slots__ = ("counting", "errors", "requests", "stopping")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.counting = False
        self.stopping = False


class _Requests:
    """The next request's bytes: always the same, or the next page view."""

    __slots__ = ("hit", "parts")

    def __init__(self, parts: list[str]) -> None:
        self.parts = [part.encode("latin-1") for part in parts]
        self.hit = GA_LAST_HIT

    def next(self) -> bytes:
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        self.hit += 1
        return b"%s%d%s%d%s" % (parts[0], self.hit, parts[1], self.hit, parts[2])


class _Client(asyncio.Protocol):
    """One keep-alive connection: send, read one whole response, send again."""

    def __init__(self, requests: _Requests, stats: _Stats, closed: asyncio.Future[None]) -> None:
        self.requests = requests
        self.stats = stats
        self.closed = closed
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.requests.next())

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            match = _CONTENT_LENGTH.search(buffer, 0, end + 2)
            if match is None:  # not a response this client understands: count it and stop
                self.stats.errors += 1
                self._close()
                return
            total = end + 4 + int(match.group(1))
            if len(buffer) < total:
                return
            stats = self.stats
            if stats.counting:
                if buffer.startswith(b"HTTP/1.1 200 "):
                    stats.requests += 1
                else:
                    stats.errors += 1
            del buffer[:total]
            if stats.stopping:
                self._close()
                return
            assert self.transport is not None
            self.transport.write(self.requests.next())

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - asyncio's signature
        if not self.closed.done():
            self.closed.set_result(None)


def _factory(requests: _Requests, stats: _Stats,
             closed: asyncio.Future[None]) -> Callable[[], _Client]:
    return lambda: _Client(requests, stats, closed)


def _busy(before: float | None, after: float | None, elapsed: float) -> float | None:
    return (after - before) / elapsed if before is not None and after is not None else None


async def _drive(port: int, connections: int, seconds: float, requests: _Requests,
                 server_pid: int) -> dict[str, float | None]:
    loop = asyncio.get_running_loop()
    stats = _Stats()
    closed: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        closed.append(done)
        await loop.create_connection(_factory(requests, stats, done), "127.0.0.1", port)
    await asyncio.sleep(WARMUP_SECONDS)
    stats.counting = True
    server_before, load_before = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stats.counting = False
    elapsed = time.perf_counter() - started
    server_after, load_after = cpu_seconds(server_pid), time.process_time()
    stats.stopping = True
    # Each connection closes after its in-flight response; bounded in case one never answers.
    await asyncio.wait(closed, timeout=5)
    return {"requests": stats.requests, "errors": stats.errors, "seconds": elapsed,
            "server_cpu": _busy(server_before, server_after, elapsed),
            "load_cpu": _busy(load_before, load_after, elapsed)}


def main(argv: list[str]) -> int:
    port, connections, seconds, server_pid = int(argv[0]), int(argv[1]), float(argv[2]), int(
        argv[3])
    requests = _Requests(json.loads(sys.stdin.buffer.read()))
    result = asyncio.run(_drive(port, connections, seconds, requests, server_pid))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
