"""The HTTP measurement: bare vs ssrauth (vs naive PyJWT) under uvicorn, interleaved rounds.

Each server is its own uvicorn process pinned to the server CPU; only one is under load at any
moment, the others sit idle in ``select``. Two kinds of traffic go to them: ``GET /`` with the same
Cookie header every time (the issue's measurement: a browser repeating one request), and page
views: a new path per request and Google Analytics' last-hit time bumped in the GA4 cookie, as a
browser moving through a site with GA4 sends, so nothing remembered per path or per whole header
can be reused.

Rounds alternate the order of the cells so a slow drift of the machine does not favour whoever
runs first. The headline ratio is the median over rounds of ssrauth/bare measured back to back
in the same round, which cancels most of the machine's slow variation.
"""

from __future__ import annotations

import http.client
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from ssrauth import CognitoConfig

from ._load import LoadGenerator, LoadResult
from ._procs import Child, Pinning

__all__ = ["CELLS", "Cell", "HttpResults", "Servers", "run_http"]


def _config_json(config: CognitoConfig) -> str:
    return json.dumps({"user_pool_id": config.user_pool_id, "client_id": config.client_id,
                       "region": config.region, "endpoint_url": config.endpoint_url})


@dataclass(frozen=True, slots=True)
class Cell:
    """One measured combination: a server and the traffic sent to it."""

    key: str
    mode: str
    #: Page views: a new path and GA4's last-hit time bumped in every request.
    vary: bool
    label: str

    @property
    def baseline(self) -> str:
        return "bare/pages" if self.vary else "bare"


CELLS = (
    Cell("bare", "bare", False, "bare Starlette app"),
    Cell("ssrauth", "ssrauth", False, "+ SsrAuthMiddleware"),
    Cell("naive", "naive", False, "+ PyJWT RS256 per request"),
    Cell("bare/pages", "bare", True, "bare, page views"),
    Cell("ssrauth/pages", "ssrauth", True, "+ SsrAuthMiddleware, page views"),
)


@dataclass
class HttpResults:
    cells: tuple[Cell, ...]
    rounds: list[dict[str, LoadResult]] = field(default_factory=list)
    server_impl: str = ""

    def rps(self, key: str) -> list[float]:
        return [r[key].rps for r in self.rounds]

    def median_rps(self, key: str) -> float:
        return statistics.median(self.rps(key))

    def _baseline(self, key: str) -> str:
        return next(c.baseline for c in self.cells if c.key == key)

    def ratios(self, key: str) -> list[float]:
        """Per round: this cell's requests/s over its bare baseline's in the same round."""
        base = self._baseline(key)
        return [r[key].rps / r[base].rps for r in self.rounds if r[base].rps > 0]

    def ratio(self, key: str) -> float:
        ratios = self.ratios(key)
        return statistics.median(ratios) if ratios else 0.0

    def cpu_ratios(self, key: str) -> list[float]:
        """Per round: the baseline's server CPU per request over this cell's (1.0 = free)."""
        base = self._baseline(key)
        ratios = []
        for r in self.rounds:
            bare, this = r[base].server_us_per_request, r[key].server_us_per_request
            if bare is not None and this:
                ratios.append(bare / this)
        return ratios

    def cpu_ratio(self, key: str) -> float | None:
        ratios = self.cpu_ratios(key)
        return statistics.median(ratios) if ratios else None

    def us_per_request(self, key: str) -> float | None:
        known = [v for v in (r[key].server_us_per_request for r in self.rounds) if v is not None]
        return statistics.median(known) if known else None

    def cpu(self, key: str) -> tuple[float | None, float | None]:
        """Median CPU use of the server and of the load generator while ``key`` was measured."""
        server = [v for v in (r[key].server_cpu for r in self.rounds) if v is not None]
        load = [v for v in (r[key].load_cpu for r in self.rounds) if v is not None]
        return (statistics.median(server) if server else None,
                statistics.median(load) if load else None)

    def errors(self) -> int:
        return sum(r.errors for rnd in self.rounds for r in rnd.values())


class Servers:
    """One uvicorn child per mode; stopped together, whatever happens."""

    def __init__(self, modes: tuple[str, ...], config: CognitoConfig, pinning: Pinning) -> None:
        self.children: dict[str, Child] = {}
        self.ports: dict[str, int] = {}
        self.pids: dict[str, int] = {}
        self.impl = ""
        try:
            for mode in modes:
                self.children[mode] = Child(f"{mode} server", "bench._server",
                                            [mode, _config_json(config)],
                                            cpu=pinning.server_cpu, pinning=pinning)
            for mode, child in self.children.items():
                ready = child.handshake(timeout=60)
                self.ports[mode] = int(ready["port"])
                self.pids[mode] = child.process.pid
                self.impl = f"{ready['http']}, loop {ready['loop']}"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for child in self.children.values():
            child.stop()


def _get(port: int, path: str, cookie_header: str) -> tuple[int, str, list[str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Cookie": cookie_header})
        response = connection.getresponse()
        body = response.read().decode()
        return response.status, body, response.headers.get_all("set-cookie") or []
    finally:
        connection.close()


def check_servers(servers: Servers, cookie_header: str, username: str) -> list[str]:
    """Prove each server does what its row claims before any number is taken from it."""
    problems = []
    for mode, port in servers.ports.items():
        status, body, cookies = _get(port, "/", cookie_header)
        if status != 200 or body != "ok":
            problems.append(f"{mode}: GET / answered {status} {body!r}")
        if cookies:
            problems.append(f"{mode}: GET / sent {len(cookies)} Set-Cookie for a valid session")
        status, body, _ = _get(port, "/pages/1", cookie_header)
        if status != 200 or body != "ok":
            problems.append(f"{mode}: GET /pages/1 answered {status} {body!r}")
        expected = "anonymous" if mode == "bare" else username
        _, who, _ = _get(port, "/whoami", cookie_header)
        if who != expected:
            problems.append(f"{mode}: /whoami says {who!r}, expected {expected!r}")
    return problems


def _busy(result: LoadResult) -> str:
    if result.server_cpu is None or result.load_cpu is None:
        return ""
    return f" (server CPU {result.server_cpu:.0%}, load {result.load_cpu:.0%})"


def run_http(servers: Servers, generator: LoadGenerator, cookie_header: str, *, rounds: int,
             seconds: float, warmup: float, progress: Callable[[str], None]) -> HttpResults:
    cells = tuple(c for c in CELLS if c.mode in servers.ports)
    results = HttpResults(cells=cells, server_impl=servers.impl)

    def run(cell: Cell, duration: float) -> LoadResult:
        return generator.run(servers.ports[cell.mode], servers.pids[cell.mode], cookie_header,
                             duration, vary=cell.vary)

    for cell in cells:
        run(cell, warmup)
    for index in range(rounds):
        order = cells if index % 2 == 0 else tuple(reversed(cells))
        measured = {cell.key: run(cell, seconds) for cell in order}
        results.rounds.append(measured)
        progress(f"  round {index + 1}/{rounds}: " + ", ".join(
            f"{c.key} {measured[c.key].rps:,.0f} req/s{_busy(measured[c.key])}" for c in cells))
    return results
