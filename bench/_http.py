"""The HTTP measurement: bare vs ssrauth (vs naive PyJWT) under uvicorn, interleaved rounds.

Each server is its own uvicorn process pinned to the server CPU; only one is under load at any
moment, the others sit idle in ``select``. Every measured server exists on each server stack
(h11 + asyncio, httptools + uvloop), and the ssrauth app once per coordinator (local, SQLite,
Redis); each is compared with the bare app of its own stack.

Two kinds of traffic go to them: ``GET /`` with the same Cookie header every time (the issue's
measurement: a browser repeating one request), and page views: a new path per request and Google
Analytics' last-hit time bumped in the GA4 cookie, as a browser moving through a site with GA4
sends, so nothing remembered per path or per whole header can be reused.

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

__all__ = ["COORDINATORS", "Cell", "HttpResults", "ServerSpec", "Servers", "cells_for",
           "run_http"]


def _config_json(config: CognitoConfig) -> str:
    return json.dumps({"user_pool_id": config.user_pool_id, "client_id": config.client_id,
                       "region": config.region, "endpoint_url": config.endpoint_url})


#: The coordinators the ssrauth app is measured with; "local" first (the default).
COORDINATORS = ("local", "sqlite", "redis")


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One uvicorn process: which app, on which stack, with which coordinator."""

    mode: str
    stack: str
    coordinator: str = "local"

    @property
    def key(self) -> str:
        shared = f"/{self.coordinator}" if self.coordinator != "local" else ""
        return f"{self.mode}{shared}@{self.stack}"


@dataclass(frozen=True, slots=True)
class Cell:
    """One measured combination: a server and the traffic sent to it."""

    server: ServerSpec
    #: Page views: a new path and GA4's last-hit time bumped in every request.
    vary: bool
    label: str

    @property
    def key(self) -> str:
        return self.server.key + ("/pages" if self.vary else "")

    @property
    def mode(self) -> str:
        return self.server.mode

    @property
    def baseline(self) -> str:
        return Cell(ServerSpec("bare", self.server.stack), self.vary, "").key


_COORDINATOR_LABELS = {"local": "", "sqlite": ", SQLite", "redis": ", Redis"}


def cells_for(stacks: tuple[str, ...], coordinators: tuple[str, ...]) -> tuple[Cell, ...]:
    """Per stack: the bare app, ssrauth with each coordinator, the PyJWT reference (first stack
    only: it is there for scale), then page views on the bare app and on ssrauth (local)."""
    cells: list[Cell] = []
    for index, stack in enumerate(stacks):
        cells.append(Cell(ServerSpec("bare", stack), False, "bare Starlette app"))
        cells += [Cell(ServerSpec("ssrauth", stack, name), False,
                       f"+ SsrAuthMiddleware{_COORDINATOR_LABELS[name]}")
                  for name in coordinators]
        if index == 0:
            cells.append(Cell(ServerSpec("naive", stack), False, "+ PyJWT RS256 per request"))
        cells.append(Cell(ServerSpec("bare", stack), True, "bare, page views"))
        cells.append(Cell(ServerSpec("ssrauth", stack), True, "+ SsrAuthMiddleware, page views"))
    return tuple(cells)


@dataclass
class HttpResults:
    cells: tuple[Cell, ...]
    rounds: list[dict[str, LoadResult]] = field(default_factory=list)
    #: Per stack key: uvicorn's protocol class and loop, as the server reported them.
    server_impl: dict[str, str] = field(default_factory=dict)

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
    """One uvicorn child per server spec; stopped together, whatever happens."""

    def __init__(self, specs: tuple[ServerSpec, ...], config: CognitoConfig, pinning: Pinning,
                 coordinator_urls: dict[str, str]) -> None:
        self.children: dict[str, Child] = {}
        self.ports: dict[str, int] = {}
        self.pids: dict[str, int] = {}
        self.impl: dict[str, str] = {}
        try:
            for spec in specs:
                self.children[spec.key] = Child(
                    f"{spec.key} server", "bench._server",
                    [spec.mode, spec.stack, coordinator_urls[spec.coordinator],
                     _config_json(config)],
                    cpu=pinning.server_cpu, pinning=pinning)
            for spec in specs:
                ready = self.children[spec.key].handshake(timeout=60)
                self.ports[spec.key] = int(ready["port"])
                self.pids[spec.key] = self.children[spec.key].process.pid
                self.impl[spec.stack] = f"{ready['http']}, loop {ready['loop']}"
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
    for key, port in servers.ports.items():
        mode = key.split("@")[0].split("/")[0]
        status, body, cookies = _get(port, "/", cookie_header)
        if status != 200 or body != "ok":
            problems.append(f"{key}: GET / answered {status} {body!r}")
        if cookies:
            problems.append(f"{key}: GET / sent {len(cookies)} Set-Cookie for a valid session")
        status, body, _ = _get(port, "/pages/1", cookie_header)
        if status != 200 or body != "ok":
            problems.append(f"{key}: GET /pages/1 answered {status} {body!r}")
        expected = "anonymous" if mode == "bare" else username
        _, who, _ = _get(port, "/whoami", cookie_header)
        if who != expected:
            problems.append(f"{key}: /whoami says {who!r}, expected {expected!r}")
    return problems


def _busy(result: LoadResult) -> str:
    if result.server_cpu is None or result.load_cpu is None:
        return ""
    return f" (server CPU {result.server_cpu:.0%}, load {result.load_cpu:.0%})"


def run_http(servers: Servers, cells: tuple[Cell, ...], generator: LoadGenerator,
             cookie_header: str, *, rounds: int, seconds: float, warmup: float,
             progress: Callable[[str], None]) -> HttpResults:
    results = HttpResults(cells=cells, server_impl=servers.impl)

    def run(cell: Cell, duration: float) -> LoadResult:
        key = cell.server.key
        return generator.run(servers.ports[key], servers.pids[key], cookie_header, duration,
                             vary=cell.vary)

    for cell in cells:
        run(cell, warmup)
    for index in range(rounds):
        order = cells if index % 2 == 0 else tuple(reversed(cells))
        measured = {cell.key: run(cell, seconds) for cell in order}
        results.rounds.append(measured)
        progress(f"  round {index + 1}/{rounds}:\n" + "\n".join(
            f"    {c.key:<32} {measured[c.key].rps:>7,.0f} req/s{_busy(measured[c.key])}"
            for c in cells))
    return results
