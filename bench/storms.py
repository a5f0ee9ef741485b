"""``python -m bench.storms``: a refresh storm on four workers, and what it costs.

One browser's session has expired; 1000 requests carrying it arrive over 64 connections at once
(a page with many parallel fetches, many tabs), spread by the kernel over four worker processes:
``uvicorn --workers 4`` and gunicorn with uvicorn workers, with each coordinator. The rules:

* with a shared coordinator (SQLite, Redis) the provider is called exactly once; with the local
  one at most once per worker;
* every response carries the same new access token (one refresh, shared);
* the storm's latency (p50, p99) next to the same 1000 requests with the new, valid session.

The workers run their clock an hour ahead of the emulator's token clock, so the session signed
in for each run is expired there; the emulator's clock is then moved on, so the tokens a refresh
mints are fresh for the workers. The results go to stdout and into docs/performance.md, under
"Refresh storms" (after ``python -m bench``, which rewrites the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ssrauth import CognitoConfig, ManualClock

from ._http import _config_json
from ._jar import PASSWORD, USERNAME, signed_in_header
from ._procs import REPO, Child, child_env, plan_pinning
from ._report import write_section

__all__ = ["main"]

REQUESTS = 1000
CONNECTIONS = 64
WORKERS = 4
#: The workers' clock runs this far ahead of the emulator's: Cognito's access tokens last an hour.
AHEAD = 3600 + 60
MARKER = "## Refresh storms"


@dataclass(frozen=True, slots=True)
class Burst:
    """What 1000 requests got back."""

    latencies_ms: list[float]
    statuses: dict[int, int]
    #: Access tokens the responses set, and how many responses set each.
    access_tokens: dict[str, int]
    set_cookie_lines: list[str]

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


async def _burst(port: int, cookie_header: str) -> Burst:
    request = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie_header}\r\n\r\n"
               ).encode("latin-1")
    remaining = [REQUESTS]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    tokens: dict[str, int] = {}
    lines: list[str] = []
    start = asyncio.Event()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await start.wait()
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                sent = time.perf_counter()
                writer.write(request)
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = 0
                found: list[str] = []
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "set-cookie":
                        found.append(value.strip())
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - sent) * 1000)
                status = int(head.split(" ", 2)[1])
                statuses[status] = statuses.get(status, 0) + 1
                for value in found:
                    name, _, rest = value.partition("=")
                    if name.endswith(".accessToken") and "Max-Age=0" not in rest:
                        token = rest.split(";", 1)[0]
                        tokens[token] = tokens.get(token, 0) + 1
                if found and not lines:
                    lines.extend(found)
        finally:
            writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    await asyncio.sleep(0.2)
    start.set()
    await asyncio.gather(*tasks)
    return Burst(latencies, statuses, tokens, lines)


def _with_set_cookies(cookie_header: str, lines: list[str]) -> str:
    """The Cookie header a browser sends after applying ``lines`` (same names, Path=/)."""
    pairs = dict(piece.strip().partition("=")[::2] for piece in cookie_header.split(";"))
    for line in lines:
        name, _, rest = line.partition("=")
        value = rest.split(";", 1)[0]
        if "Max-Age=0" in rest:
            pairs.pop(name, None)
        else:
            pairs[name] = value
    return "; ".join(f"{name}={value}" for name, value in pairs.items())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_command(runner: str, port: int) -> list[str]:
    if runner == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "bench._storm_app:app", "--workers",
                str(WORKERS), "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                "--log-level", "warning"]
    return [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-k",
            "uvicorn.workers.UvicornWorker", "-b", f"127.0.0.1:{port}", "--log-level",
            "warning", "bench._storm_app:app"]


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(2.0)  # the other workers finish importing the app
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not listen in time")


@dataclass(frozen=True, slots=True)
class StormResult:
    runner: str
    coordinator: str
    refreshes: int
    storm: Burst
    valid: Burst

    @property
    def verdict(self) -> str:
        """Shared: one call, one token. Local: each worker refreshes on its own (at most once),
        so one token per provider call."""
        tokens = len(self.storm.access_tokens)
        every = sum(self.storm.access_tokens.values()) == REQUESTS
        if self.coordinator == "local":
            ok = 1 <= self.refreshes <= WORKERS and tokens == self.refreshes
        else:
            ok = self.refreshes == 1 and tokens == 1
        return "PASS" if ok and every else "MISS"


def _ask(emulator: Child, command: str) -> dict[str, int]:
    assert emulator.process.stdin is not None
    assert emulator.process.stdout is not None
    emulator.process.stdin.write(f"{command}\n".encode())
    emulator.process.stdin.flush()
    answer: dict[str, int] = json.loads(emulator.process.stdout.readline())
    return answer


def _run_one(runner: str, coordinator: str, url: str, config: CognitoConfig, emulator: Child,
             offset: float) -> StormResult:
    header = asyncio.run(signed_in_header(config, ManualClock(offset)))
    env = child_env() | {"SSRAUTH_BENCH_CONFIG": _config_json(config),
                         "SSRAUTH_BENCH_CLOCK_OFFSET": str(offset + AHEAD),
                         "SSRAUTH_COORDINATOR": url}
    _ask(emulator, f"advance {AHEAD}")  # tokens a refresh mints are fresh for the workers
    _ask(emulator, "reset")
    port = _free_port()
    process = subprocess.Popen(_server_command(runner, port), cwd=REPO, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        _wait_ready(port, process)
        storm = asyncio.run(_burst(port, header))
        refreshes = _ask(emulator, "refreshes")["refreshes"]
        valid = asyncio.run(_burst(port, _with_set_cookies(header, storm.set_cookie_lines)))
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return StormResult(runner, coordinator, refreshes, storm, valid)


def _rows(results: list[StormResult]) -> list[str]:
    rows = ["| Server (4 workers) | Coordinator | Provider calls | Distinct new access tokens "
            "| Responses setting one | Statuses | Storm p50 / p99 | Valid session p50 / p99 "
            "| Result |",
            "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    for r in results:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(r.storm.statuses.items()))
        rows.append(
            f"| {r.runner} | {r.coordinator} | {r.refreshes} | {len(r.storm.access_tokens)} | "
            f"{sum(r.storm.access_tokens.values())} / {REQUESTS} | {statuses} | "
            f"{r.storm.percentile(0.5):.1f} / {r.storm.percentile(0.99):.1f} ms | "
            f"{r.valid.percentile(0.5):.1f} / {r.valid.percentile(0.99):.1f} ms | "
            f"**{r.verdict}** |")
    return rows


def _markdown(results: list[StormResult]) -> str:
    return "\n".join([
        MARKER, "",
        "<!-- Generated by `python -m bench.storms` (part of `make bench`). -->", "",
        f"One expired session, {REQUESTS} requests over {CONNECTIONS} keep-alive connections at "
        f"once, to {WORKERS} worker processes (`uvicorn --workers {WORKERS}`; gunicorn with "
        "`uvicorn.workers.UvicornWorker`), with each coordinator. Provider calls are the refresh "
        "calls the Cognito emulator received. Expected: exactly one with a shared coordinator "
        "(SQLite, Redis) and one new access token, set on every response; with the local one "
        "at most one per worker, each with its token (a local coordinator shares nothing "
        "between processes: use a shared one with more than one worker). Then the same "
        f"{REQUESTS} requests with the new, valid session: "
        "the storm's latency next to the steady state's (client-side, milliseconds; the load "
        "client shares the machine with the workers).", "",
        *_rows(results), "",
    ])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storms", description=__doc__)
    parser.add_argument("--runners", default="uvicorn,gunicorn")
    parser.add_argument("--coordinators", default="local,sqlite,redis")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    pinning = plan_pinning()
    emulator = Child("Cognito emulator", "bench._emulator", [USERNAME, PASSWORD], cpu=None,
                     pinning=pinning)
    results: list[StormResult] = []
    try:
        config = CognitoConfig(**emulator.handshake(timeout=120))
        with tempfile.TemporaryDirectory(prefix="ssrauth-storm-") as folder:
            offset = 0.0
            for runner in args.runners.split(","):
                for coordinator in args.coordinators.split(","):
                    run_id = uuid.uuid4().hex[:8]
                    url = {"local": "local",
                           "sqlite": f"sqlite://{os.path.join(folder, run_id + '.db')}",
                           "redis": f"redis://127.0.0.1:6379/0?prefix=ssrauth-storm-{run_id}:",
                           }[coordinator]
                    result = _run_one(runner, coordinator, url, config, emulator, offset)
                    offset += AHEAD
                    results.append(result)
                    print(_rows([result])[-1], flush=True)
    finally:
        emulator.stop()
    section = _markdown(results)
    print(section)
    if not args.no_write:
        write_section(args.output, MARKER, section)
        print(f"wrote the storm section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
