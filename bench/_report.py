"""The bench's output: a compact table on stdout and the same figures in docs/performance.md.

The document is regenerated whole on each full run so that figures, machine and method never
drift apart; change its prose here, not in the generated file.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ._http import Cell, HttpResults
from ._micro import MicroResults, Timing
from ._procs import REPO
from ._server import STACKS

__all__ = ["TARGETS", "TARGET_DECIDE_US", "Machine", "markdown", "table", "target_for",
           "write_section"]

#: From issue 9: the share of a trivial app's requests/s the middleware must keep, per server
#: stack and traffic (same header, page views). The faster the stack, the more the same µs of
#: middleware weigh, hence the lower bar on httptools + uvloop.
TARGETS = {
    ("h11", False): 0.95,
    ("h11", True): 0.93,
    ("httptools", False): 0.85,
    ("httptools", True): 0.80,
}
#: The core decision on a valid session at most 10 µs (median, warm caches).
TARGET_DECIDE_US = 10.0


def target_for(cell: Cell) -> float:
    return TARGETS[(cell.server.stack, cell.vary)]

@dataclass(frozen=True, slots=True)
class Machine:
    date: str
    python: str
    nproc: int
    cpus_allowed: int
    cpu: str
    system: str
    versions: str
    commit: str

    @classmethod
    def describe(cls) -> Machine:
        allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        return cls(
            date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            nproc=os.cpu_count() or 0,
            cpus_allowed=allowed,
            cpu=_cpu_model(),
            system=f"{platform.system()} {platform.release()} {platform.machine()}",
            versions=", ".join(f"{name} {_version(name)}" for name in
                               ("ssrauth", "uvicorn", "starlette", "PyJWT", "cryptography")),
            commit=_commit(),
        )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    """The checked-out commit (read-only ``git rev-parse``); the tree may have local edits."""
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass(frozen=True, slots=True)
class Run:
    """Everything one run measured, plus how."""

    machine: Machine
    micro: MicroResults
    http: HttpResults | None
    generator: str
    pinning: str
    rounds: int
    seconds: float
    connections: int
    elapsed: float


def _core_rows(m: MicroResults) -> list[tuple[str, Timing, str, str]]:
    """(what, timing, target, result) for the core table."""
    target = f"<= {TARGET_DECIDE_US:g} µs"
    return [
        (f"decide: valid session, same header as last request ({m.valid_header_bytes:,} B)",
         m.decide_valid, target, verdict(m.decide_valid.median_us <= TARGET_DECIDE_US)),
        ("decide: valid session, GA4 cookie changed (next page view)", m.decide_changed, target,
         verdict(m.decide_changed.median_us <= TARGET_DECIDE_US)),
        ("decide: valid session, same header, new path", m.decide_new_path, target,
         verdict(m.decide_new_path.median_us <= TARGET_DECIDE_US)),
        ("decide: valid session, full decision (our clockDrift changed)", m.decide_full, "", ""),
        (f"decide: duplicate cookies, seed-bug state ({m.duplicate_header_bytes:,} B, "
         f"{m.duplicate_plan_lines} Set-Cookie)", m.decide_duplicate, "", ""),
        (f"refresh plan on /a/b/c: build + render ({m.refresh_plan_lines} lines, "
         f"{m.refresh_plan_bytes:,} B)", m.refresh_plan, "", ""),
        (f"refresh plan on /a/b/c, duplicate jar ({m.refresh_plan_duplicate_lines} lines, "
         f"{m.refresh_plan_duplicate_bytes:,} B)",
         m.refresh_plan_duplicate, "", ""),
        ("RS256 verification, uncached (for scale)", m.rs256_uncached, "", ""),
        ("SessionManager.aload: valid session, same header", m.aload_valid, "", ""),
        ("ASGI call in-process: bare app", m.asgi_bare, "", ""),
        ("ASGI call in-process: app + SsrAuthMiddleware", m.asgi_ssrauth, "", ""),
    ]


#: A server using less CPU than this while loaded was held back (by other processes on its core,
#: or by the load generator): its req/s understate it.
SATURATED = 0.85


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _http_warnings(h: HttpResults) -> list[str]:
    """What makes the HTTP figures doubtful: failures, or a server that was not kept busy."""
    warnings = []
    if h.errors():
        warnings.append(f"{h.errors()} requests failed or answered non-200")
    for cell in h.cells:
        server_cpu, load_cpu = h.cpu(cell.key)
        if server_cpu is not None and server_cpu < SATURATED:
            warnings.append(f"{cell.key}: the server got only {server_cpu:.0%} of a CPU (other "
                            "processes on its core, or too little load): its req/s understate "
                            "it; the CPU-per-request ratio is the better figure")
        if load_cpu is not None and load_cpu > 0.9:
            warnings.append(f"{cell.key}: the load generator used {load_cpu:.0%} of its CPU "
                            "and may be the bottleneck")
    return warnings


@dataclass(frozen=True, slots=True)
class _HttpRow:
    key: str
    stack: str
    label: str
    rps: float
    ratio: float
    per_round: str
    result: str
    us_per_request: str
    cpu_ratio: str
    cpu_result: str
    server_cpu: str
    load_cpu: str


def _http_rows(h: HttpResults) -> list[_HttpRow]:
    rows = []
    for cell in h.cells:
        is_base = cell.key == cell.baseline
        ratio = 1.0 if is_base else h.ratio(cell.key)
        cpu_ratio = 1.0 if is_base else h.cpu_ratio(cell.key)
        us = h.us_per_request(cell.key)
        result, cpu_result = "", ""
        if cell.mode == "ssrauth":
            # "?": a server of this pair was not saturated, so req/s measured the neighbours too.
            unsure = any(cpu is not None and cpu < SATURATED
                         for cpu in (h.cpu(cell.key)[0], h.cpu(cell.baseline)[0]))
            result = verdict(ratio >= target_for(cell)) + ("?" if unsure else "")
            if cpu_ratio is not None:
                cpu_result = verdict(cpu_ratio >= target_for(cell))
        elif cell.mode == "naive":
            result = cpu_result = "(ref)"
        server_cpu, load_cpu = h.cpu(cell.key)
        rows.append(_HttpRow(
            key=cell.key, stack=STACKS[cell.server.stack].label, label=cell.label,
            rps=h.median_rps(cell.key), ratio=ratio,
            per_round=", ".join(f"{r:,.0f}" for r in h.rps(cell.key)), result=result,
            us_per_request="n/a" if us is None else f"{us:.0f} µs",
            cpu_ratio="n/a" if cpu_ratio is None else f"{cpu_ratio:.3f}", cpu_result=cpu_result,
            server_cpu=_percent(server_cpu), load_cpu=_percent(load_cpu),
        ))
    return rows


def _bold(result: str) -> str:
    return f"**{result}**" if result.rstrip("?") in ("PASS", "MISS") else result


def _cpu_verdict(h: HttpResults, cell: Cell) -> str:
    ratio = h.cpu_ratio(cell.key)
    return ("n/a" if ratio is None
            else f"{ratio:.3f} (**{verdict(ratio >= target_for(cell))}**)")


def _impl(h: HttpResults) -> str:
    return "; ".join(f"{STACKS[key].label}: {impl}" for key, impl in h.server_impl.items())


#: The ratio table's rows: (label, server key without the stack, page views).
_RATIO_ROWS = (
    ("same header, local coordinator", "ssrauth", False),
    ("same header, SQLite coordinator", "ssrauth/sqlite", False),
    ("same header, Redis coordinator", "ssrauth/redis", False),
    ("page views, local coordinator", "ssrauth", True),
    ("PyJWT RS256 per request (reference)", "naive", False),
)


def ratio_table(h: HttpResults) -> list[list[str]]:
    """Rows of [what, one cell per stack]: req/s vs bare (server CPU per request vs bare) and
    the target where there is one; the first row is the header."""
    stacks = list(dict.fromkeys(c.server.stack for c in h.cells))
    by_key = {c.key: c for c in h.cells}
    rows = [["ssrauth vs the bare app", *(STACKS[s].label for s in stacks)]]
    for label, server, vary in _RATIO_ROWS:
        row = [label]
        for stack in stacks:
            cell = by_key.get(f"{server}@{stack}" + ("/pages" if vary else ""))
            if cell is None:
                row.append("")
                continue
            cpu = h.cpu_ratio(cell.key)
            text = f"{h.ratio(cell.key):.2f}" + (f" ({cpu:.2f})" if cpu is not None else "")
            if cell.mode == "ssrauth":
                target = target_for(cell)
                text += f" {verdict(h.ratio(cell.key) >= target)} (>= {target:.2f})"
            row.append(text)
        if any(row[1:]):
            rows.append(row)
    return rows


def table(run: Run) -> str:
    m, h = run.machine, run.http
    out = [
        f"ssrauth bench · {m.date} · {m.python} · nproc {m.nproc} · {m.system}",
        f"  {m.cpu} · {m.versions} · commit {m.commit}",
    ]
    if h is not None:
        out += [
            f"  uvicorn 1 worker, no access log ({_impl(h)}) · {run.generator} · "
            f"{run.connections} connections",
            f"  {run.pinning}",
            "",
            f"HTTP, valid session cookie: {run.rounds} interleaved rounds x "
            f"{run.seconds:g} s, medians ('page views': new path + GA4 cookie bumped per request)",
        ]
        for cells in ratio_table(h):
            out.append("  " + cells[0].ljust(38) + "".join(f"{c:<36}" for c in cells[1:]))
        out += ["",
                f"  {'stack':<19} {'server':<35} {'req/s':>7} {'vs bare':>8} {'result':<6} "
                f"{'CPU/req':>8} {'vs bare':>8} {'result':<6} {'server CPU':>10} "
                f"{'load CPU':>9}"]
        for row in _http_rows(h):
            out.append(f"  {row.stack:<19} {row.label:<35} {row.rps:>7,.0f} {row.ratio:>8.3f} "
                       f"{row.result:<6} {row.us_per_request:>8} {row.cpu_ratio:>8} "
                       f"{row.cpu_result:<6} {row.server_cpu:>10} {row.load_cpu:>9}")
        for cell in h.cells:
            if cell.key != cell.baseline:
                out.append(f"  per round {cell.key}: req/s ratio " +
                           " ".join(f"{r:.3f}" for r in h.ratios(cell.key)) +
                           "; CPU/req ratio " +
                           " ".join(f"{r:.3f}" for r in h.cpu_ratios(cell.key)))
        out += [f"  WARNING: {w}" for w in _http_warnings(h)]
    out += ["", f"  {'core, in-process, warm caches':<72} {'median':>8} {'p90':>8}  "
                f"{'target':<9} result"]
    for label, timing, target, result in _core_rows(run.micro):
        out.append(f"  {label:<72} {timing.median_us:>6.1f}µs {timing.p90_us:>6.1f}µs  "
                   f"{target:<9} {result}")
    out.append(f"  {'middleware cost per request in-process (ssrauth - bare ASGI call)':<72} "
               f"{run.micro.middleware_overhead_us:>6.1f}µs")
    out += [f"  WARNING: {w}" for w in run.micro.warnings]
    out.append(f"\ntotal bench time {run.elapsed:.0f} s")
    return "\n".join(out)


_PREAMBLE = """\
# Performance

<!-- Generated by `make bench` (bench/_report.py). Edit the generator, not this file. -->

ssrauth runs on every request of a server-rendered app, so it must cost little next to the app
itself. The targets come from the issues (issue 9 for the server stacks):

* **Throughput:** a trivial app behind `SsrAuthMiddleware`, serving a signed-in user, keeps this
  share of the requests/s of the same app without it, on the same server stack:

  | Traffic | h11 + asyncio | httptools + uvloop |
  | --- | ---: | ---: |
  | GET / with the same header | {h11_same} | {httptools_same} |
  | page views | {h11_pages} | {httptools_pages} |

* **Core decision:** `SessionRules.decide` on a realistic valid-session Cookie header takes at
  most **{decide:g} µs** (median, warm caches).

## How to run

```sh
make bench                          # a few minutes; installs wrk with apt when missing, rewrites
                                    # this file
.venv/bin/python -m bench --quick   # smoke run, prints only
.venv/bin/python -m bench --profile # adds a cProfile of the decide loop
.venv/bin/python -m bench --help    # rounds, seconds, stacks, coordinators, load generator
```

`make bench` installs `wrk` with apt when it is missing (`.ci/apt-install`, as `make test` does
for Chromium). Run directly, the bench uses `wrk` when it is on `PATH` and otherwise falls back
to a small asyncio client in a child process (`bench/_load.py`); it prints which one it used.
It exits 0 whatever the figures: PASS/MISS are information, not a test. When a decide row misses
its target it prints a cProfile of the full decision (and of the same-header case if that one
missed).

## Method

* **One run, ratios.** Every compared figure is measured in the same run as its baseline:
  absolute numbers depend on the machine, the ratios much less.
* **Real tokens, realistic jar.** The Cognito emulator (moto, in its own process) signs a user
  in; the Cookie header holds the six Amplify v6 cookies of that session (an e-mail username, so
  percent-encoded names) plus twelve unrelated cookies (Google Analytics, Meta pixel, Hotjar,
  PostHog, consent, CSRF, a framework session), about 3.8 KB. moto's refresh token is a 36-byte
  UUID where Cognito's is a ~1.7 KB encrypted blob, so a production header is ~1.7 KB longer.
* **Two kinds of traffic.** *GET / with the same header* (the issue's measurement): every
  request carries identical cookies to the same URL, as a browser repeating one request.
  *Page views*: each request asks for a new path (`/pages/<n>`) and carries the GA4 session
  cookie (`_ga_<id>`, which Google Analytics rewrites with the last hit's time on page views)
  bumped, as a browser moving through a real site sends: the session is the same, but nothing
  remembered per path or per whole Cookie header applies.
* **HTTP.** uvicorn processes (one worker, no access log, the same trivial Starlette app
  answering `GET /` and `GET /pages/<n>` with `ok`): *bare*, *+ SsrAuthMiddleware* (JWKS fetched
  once at start-up) with each coordinator (local; SQLite on a temporary file; Redis on
  127.0.0.1:6379, left out with a note when unreachable) and, for scale, *+ one PyJWT RS256
  verification per request*. Each exists on both server stacks: uvicorn's pure-Python h11 on
  asyncio, and httptools on uvloop (`uvicorn[standard]`); every ratio compares with the bare app
  on the same stack. Each server is
  checked first (`/whoami` names the user, `GET /` sends no Set-Cookie, `/pages/1` answers). The
  load generator sends identical requests to all of them over keep-alive connections, one
  request in flight per connection. Servers are pinned to one CPU and the load generator to the
  other (`taskset`) when there are two. Rounds are interleaved with alternating order; ratios
  are medians over rounds of ssrauth/bare measured back to back.
* **CPU per request.** The server's CPU time (from `/proc`) per completed request is recorded
  next to req/s. On a machine where other processes compete for the server's core, req/s drop
  with the CPU share the server gets, while CPU per request stays the cost of a request; when the
  server was saturated (Server CPU near 100%) both ratios agree.
* **Core.** In-process, timeit-style batches (~2 ms each) interleaved between the operations;
  median and 90th percentile of the per-call time over batches, garbage collector on. Each call
  gets a new (equal) header string, as a server decodes one per request, so no string hash is
  reused. The token-verification cache is warm (a browser sends the same tokens on every
  request) except in the uncached RS256 row.

## What each number means

* **req/s**: Completed `200` responses per second for one server, median over rounds.
* **vs bare**: Requests/s relative to the bare app with the same traffic in the same round
  (median of the per-round ratios). The throughput target applies to this figure.
* **server CPU µs per request, vs bare**: Server CPU time per completed request, and the bare
  app's over this server's. The figure to trust on a busy machine.
* **Server CPU, Load CPU**: CPU time used per second of measurement by the server and by the
  load generator (100% = one core). The server should be near 100%: then it is the bottleneck,
  and req/s measure it rather than the load generator or the neighbours.
* **decide: same header as last request**: `SessionRules.decide` on the header above, handed a
  new but equal string each call: the steady state of a browser whose cookies do not change. Any
  memo keyed by the header hits.
* **decide: GA4 cookie changed (next page view)**: The same header with the GA4 cookie bumped
  each call, as on the next page of a site with Google Analytics. Only what ssrauth remembers
  by its own cookies (not by the whole header) still applies.
* **decide: same header, new path**: The same header on a path not seen before
  (`/pages/<n>`): a browser moving through a site. Only what ssrauth remembers independently of
  the path still applies.
* **decide: full decision**: Our own `clockDrift` cookie changed each call, so nothing
  remembered applies: parse the cookies, recognise the Amplify family, verify (cached) both
  tokens, decide *authenticated*, no Set-Cookie. The work behind every memo miss.
* **decide: duplicate cookies**: The full decision with every auth cookie sent twice (the seed
  bug's state: a copy at `/` and one at a sub-path), `clockDrift` changed each call. Both copies
  are verified and a tidy plan is built: the first request after the bug, once per browser.
* **refresh plan on /a/b/c**: `SessionRules.after_refresh` plus rendering every Set-Cookie line,
  on a deep path where deletions go to every ancestor path (tokens verified already). Once per
  refresh, about once an hour per user. Lines and bytes are the size of that response's
  Set-Cookie headers.
* **RS256 verification, uncached**: One `TokenVerifier.verify` with an empty cache: what each
  request would cost per token without the cache.
* **SessionManager.aload**: `decide` plus the manager around it (revocation check, events), same
  header: what the middleware awaits per request.
* **ASGI call in-process**: The whole Starlette app called directly (no socket, no HTTP
  parsing), without and with the middleware; the difference is the middleware's per-request
  cost. In the real server the same code costs more (colder caches between requests), so it
  predicts the HTTP ratio only roughly.
"""


def markdown(run: Run) -> str:
    m, h, micro = run.machine, run.http, run.micro
    lines = [_PREAMBLE.format(decide=TARGET_DECIDE_US, **{
                 f"{stack}_{'pages' if vary else 'same'}": f"{target:.2f}"
                 for (stack, vary), target in TARGETS.items()}),
             "## Latest results", "",
             f"Run on {m.date}: {m.python}, `nproc` {m.nproc} ({m.cpus_allowed} allowed), "
             f"{m.cpu}, {m.system}; {m.versions}; commit `{m.commit}` (plus any uncommitted "
             f"edits). Total bench time {run.elapsed:.0f} s.", ""]
    summary = [
        f"* decide, same header: {micro.decide_valid.median_us:.1f} µs "
        f"(**{verdict(micro.decide_valid.median_us <= TARGET_DECIDE_US)}**); GA4 cookie changed: "
        f"{micro.decide_changed.median_us:.1f} µs "
        f"(**{verdict(micro.decide_changed.median_us <= TARGET_DECIDE_US)}**); new path: "
        f"{micro.decide_new_path.median_us:.1f} µs "
        f"(**{verdict(micro.decide_new_path.median_us <= TARGET_DECIDE_US)}**); full decision: "
        f"{micro.decide_full.median_us:.1f} µs.",
    ]
    if h is not None:
        throughput = []
        for cell in h.cells:
            if cell.mode != "ssrauth" or cell.server.coordinator != "local":
                continue
            row = next(r for r in _http_rows(h) if r.key == cell.key)
            what = "page views" if cell.vary else "GET / with the same header"
            throughput.append(f"* Throughput on {row.stack}, {what}: {row.ratio:.3f} of bare "
                              f"by req/s ({_bold(row.result)}, target "
                              f"{target_for(cell):.2f}); by server CPU per request "
                              f"{_cpu_verdict(h, cell)}.")
        summary = throughput + summary
    lines += ["### Summary", "", *summary, ""]
    if h is not None:
        ratios = ratio_table(h)
        lines += [
            f"### Throughput ({run.rounds} rounds x {run.seconds:g} s, {run.connections} "
            "connections)",
            "",
            f"uvicorn: 1 worker, no access log; {_impl(h)}. Load generator: {run.generator}. "
            f"Pinning: {run.pinning}.",
            "",
            "Requests/s of the app with ssrauth over the bare app's on the same stack, measured "
            "back to back in each round (median over rounds); in brackets the same ratio by "
            "server CPU per request.",
            "",
            "| " + " | ".join(ratios[0]) + " |",
            "| --- |" + " --- |" * (len(ratios[0]) - 1),
            *("| " + " | ".join(row) + " |" for row in ratios[1:]),
            "",
            "Every cell: a `?` after a req/s result means the server or its baseline got less "
            f"than {SATURATED:.0%} of its CPU in that cell (neighbouring processes), so that "
            "result is unreliable and the CPU-per-request one is the one to read.",
            "",
            "| Stack | Server | req/s | vs bare | Result | req/s per round | server CPU per "
            "request | vs bare | Result | Server CPU | Load CPU |",
            "| --- | --- | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: |",
        ]
        for row in _http_rows(h):
            lines.append(f"| {row.stack} | {row.label} | {row.rps:,.0f} | {row.ratio:.3f} | "
                         f"{_bold(row.result)} "
                         f"| {row.per_round} | {row.us_per_request} | {row.cpu_ratio} | "
                         f"{_bold(row.cpu_result)} | {row.server_cpu} | {row.load_cpu} |")
        lines.append("")
        warnings = _http_warnings(h)
        if warnings:
            lines += [*(f"Warning: {w}" for w in warnings), ""]
    lines += [
        "### Core (in-process, warm caches)",
        "",
        "| Operation | Median | p90 | Calls | Target | Result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for label, timing, target, result in _core_rows(micro):
        lines.append(f"| {label} | {timing.median_us:.1f} µs | {timing.p90_us:.1f} µs | "
                     f"{timing.calls:,} | {target} | {f'**{result}**' if result else ''} |")
    lines += [
        f"| middleware cost per request, in-process (difference of the two ASGI rows) | "
        f"{micro.middleware_overhead_us:.1f} µs | | | | |",
        "",
    ]
    if micro.warnings:
        lines += [*(f"Warning: {w}" for w in micro.warnings), ""]
    lines += [
        "## Reading the figures",
        "",
        "* The throughput ratio depends on how cheap the bare app is: with a faster server stack",
        "  (uvloop, httptools) the same microseconds of middleware weigh more; a real page that",
        "  renders a template or queries a database dilutes them.",
        "* With two cores, the server and the load generator each own one; the emulator and the",
        "  idle servers share the load generator's core and stay idle while measured.",
        "* Absolute µs vary between machines and runs by tens of percent; compare ratios and",
        "  figures from the same run.",
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, marker: str, section: str) -> None:
    """Replace the section that starts with ``marker`` (a heading) and everything after it, or
    append it: the extra benches (storms, memory) add theirs to the file ``python -m bench``
    regenerates, in the order ``make bench`` runs them."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    before = text.split(marker, 1)[0].rstrip("\n")
    path.write_text((before + "\n\n" if before else "") + section, encoding="utf-8")
