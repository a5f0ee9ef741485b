"""In-process timings of the core: ``SessionRules.decide`` and what surrounds it.

Each figure is the per-call time of a batch (timeit style: many calls between two clock reads,
so the clock's own cost vanishes), summarised as the median and 90th percentile over batches.
Different measurements are interleaved batch by batch, so a burst of noise from the machine
lands on all of them alike instead of on whichever happened to run at that moment. The garbage
collector stays on: requests in production pay for the garbage they make.
"""

from __future__ import annotations

import cProfile
import io
import itertools
import pstats
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message

from ssrauth import CognitoConfig, SessionManager, TokenSet, render_set_cookie
from ssrauth._core.plan import RequestTarget
from ssrauth._core.session import SessionRules, State
from ssrauth._core.tokens import JwkSet
from ssrauth._core.verify import TokenVerifier

from ._jar import GA_LAST_HIT, Jar, split_at_last_hit
from ._server import build_app

__all__ = ["MicroResults", "Timing", "profile_decide", "run_micro"]

HOST = "app.example.com"
#: Each batch runs for about this long: long enough to hide the clock, short enough that a
#: scheduler hiccup spoils one batch among hundreds rather than the result.
BATCH_SECONDS = 0.002


@dataclass(frozen=True, slots=True)
class Timing:
    """Per-call time of one operation in microseconds."""

    median_us: float
    p90_us: float
    calls: int


@dataclass(frozen=True, slots=True)
class MicroResults:
    decide_valid: Timing
    decide_changed: Timing
    decide_new_path: Timing
    decide_full: Timing
    decide_duplicate: Timing
    refresh_plan: Timing
    refresh_plan_lines: int
    refresh_plan_bytes: int
    refresh_plan_duplicate: Timing
    refresh_plan_duplicate_lines: int
    refresh_plan_duplicate_bytes: int
    rs256_uncached: Timing
    aload_valid: Timing
    asgi_bare: Timing
    asgi_ssrauth: Timing
    valid_header_bytes: int
    duplicate_header_bytes: int
    duplicate_plan_lines: int
    warnings: tuple[str, ...]

    @property
    def middleware_overhead_us(self) -> float:
        return self.asgi_ssrauth.median_us - self.asgi_bare.median_us


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return statistics.median(ordered), p90


#: An operation to time: ``prepare(n)`` makes the arguments of ``n`` calls outside the clock,
#: ``call(argument)`` is timed. Fresh arguments matter: a server decodes a new ``str`` for every
#: request's Cookie header, and a new string has no cached hash, so handing ``decide`` the same
#: string object every time would time a dictionary hit that production never gets.
Op = tuple[Callable[[int], list[Any]], Callable[[Any], object]]
AsyncOp = tuple[Callable[[int], list[Any]], Callable[[Any], Awaitable[object]]]


def _nothing(n: int) -> list[Any]:
    return [None] * n


def _batch_size(op: Op) -> int:
    prepare, call = op
    arguments = prepare(20)
    started = time.perf_counter()
    for argument in arguments:
        call(argument)
    each = (time.perf_counter() - started) / 20
    return max(1, min(2000, int(BATCH_SECONDS / max(each, 1e-9))))


def time_interleaved(ops: dict[str, Op], calls: dict[str, int], budget: float) -> dict[str, Timing]:
    """Time several synchronous operations, one batch of each in turn, within ``budget`` s."""
    batches = {name: _batch_size(op) for name, op in ops.items()}
    samples: dict[str, list[float]] = {name: [] for name in ops}
    done = dict.fromkeys(ops, 0)
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline:
        pending = [name for name in ops if done[name] < calls[name]]
        if not pending:
            break
        for name in pending:
            (prepare, call), size = ops[name], batches[name]
            arguments = prepare(size)
            started = time.perf_counter_ns()
            for argument in arguments:
                call(argument)
            samples[name].append((time.perf_counter_ns() - started) / size / 1000)
            done[name] += size
    return {name: Timing(*_summary(samples[name]), done[name]) for name in ops}


async def atime_interleaved(ops: dict[str, AsyncOp], calls: int, budget: float
                            ) -> dict[str, Timing]:
    """The same for coroutines (``aload``, whole ASGI apps); none of them suspends here."""
    samples: dict[str, list[float]] = {name: [] for name in ops}
    done = dict.fromkeys(ops, 0)
    batch = 50
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline and min(done.values()) < calls:
        for name, (prepare, call) in ops.items():
            arguments = prepare(batch)
            started = time.perf_counter_ns()
            for argument in arguments:
                await call(argument)
            samples[name].append((time.perf_counter_ns() - started) / batch / 1000)
            done[name] += batch
    return {name: Timing(*_summary(samples[name]), done[name]) for name in ops}


def fresh_copies(text: str) -> Callable[[int], list[str]]:
    """New, equal string objects, as a server decodes for every request."""
    raw = text.encode("latin-1")
    return lambda n: [raw.decode("latin-1") for _ in range(n)]


def changing_headers(text: str) -> Callable[[int], list[str]]:
    """The header with Google Analytics' session cookie bumped on every call.

    GA4 rewrites its session cookie on page views, so a real browser's Cookie header changes
    from one page to the next although the session does not, and any memo keyed by the header
    misses. This is the cost of the full decision.
    """
    counter = itertools.count(GA_LAST_HIT + 1)
    prefix, suffix = split_at_last_hit(text)
    return lambda n: [f"{prefix}{next(counter)}{suffix}" for _ in range(n)]


_DRIFT = re.compile(r"(\.clockDrift=)(-?\d+)")


def changing_drift(text: str) -> Callable[[int], list[str]]:
    """The header with our own ``clockDrift`` cookie(s) changed on every call.

    Nothing remembered from an earlier request applies then, whatever it is keyed by, so this
    is the cost of the whole decision: parse, recognise, verify (cached), decide. The drift
    stays within a few seconds, so the session stays valid and the decision the same.
    """
    if not _DRIFT.search(text):
        raise ValueError("the jar has no clockDrift cookie to vary")
    counter = itertools.count(1)

    def one() -> str:
        drift = f"-{next(counter) % 100_000}"  # ms; negative: the tokens only look fresher
        return _DRIFT.sub(lambda m: m.group(1) + drift, text)

    return lambda n: [one() for _ in range(n)]


def _asgi_caller(app: ASGIApp, cookie_header: str) -> tuple[Callable[[], Awaitable[None]],
                                                             list[Message]]:
    """Call ``app`` as uvicorn would for ``GET /`` with the session cookies; keep the last reply."""
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"ssrauth-bench"),
               (b"accept", b"text/html"), (b"cookie", cookie_header.encode("latin-1"))]
    base: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent[:] = [message]

    async def call() -> None:
        await app({**base, "state": {}}, receive, send)

    return call, sent


def _plan_timer(rules: SessionRules, decision_header: str, path: str, tokens: TokenSet,
                jwks: JwkSet, now: float) -> tuple[Callable[[], list[str]], int, int]:
    """Build the Set-Cookie lines a refresh on ``path`` sends, and their count and size."""
    decision = rules.decide(decision_header, RequestTarget(path, HOST), jwks, now)
    policy = rules.policy

    def plan() -> list[str]:
        outcome = rules.after_refresh(decision, tokens, jwks, now)
        return [render_set_cookie(c, policy) for c in outcome.plan]

    lines = plan()
    return plan, len(lines), sum(len(line) for line in lines)


async def run_micro(config: CognitoConfig, jar: Jar, *, calls: int, budget: float) -> MicroResults:
    """Everything in-process, on a manager whose JWKS and verification cache are warm."""
    warnings: list[str] = []
    manager = SessionManager(config)
    warm = await manager.aload(jar.valid, "/", HOST)
    if not warm.is_authenticated or warm.outcome.plan:
        warnings.append("the valid header did not authenticate cleanly: "
                        f"{warm.outcome.reason}, {len(warm.outcome.plan)} Set-Cookie")
    rules, jwks, now = manager.rules, manager.jwks.current, manager.clock.now()
    root = RequestTarget("/", HOST)
    duplicate = rules.decide(jar.duplicate, root, jwks, now)
    if duplicate.state is not State.AUTHENTICATED or not duplicate.plan:
        warnings.append(f"duplicate header decided {duplicate.state.value} with "
                        f"{len(duplicate.plan)} Set-Cookie (expected authenticated + tidy plan)")
    for token, use in ((jar.fresh_tokens.access_token, "access"),
                       (jar.fresh_tokens.id_token, "id")):
        if token is not None:  # the refresh plan measures the plan, not the RSA checks
            rules.verifier.verify(token, use, jwks, now)  # type: ignore[arg-type]
    plan, plan_lines, plan_bytes = _plan_timer(rules, jar.valid, "/a/b/c", jar.fresh_tokens,
                                               jwks, now)
    dup_plan, dup_plan_lines, dup_plan_bytes = _plan_timer(rules, jar.duplicate, "/a/b/c",
                                                           jar.fresh_tokens, jwks, now)
    access = jar.fresh_tokens.access_token

    def rs256(_: None) -> object:
        verifier = TokenVerifier(issuer=config.issuer, client_id=config.client_id)
        return verifier.verify(access, "access", jwks, now)

    def decide(header: str) -> object:
        # A new RequestTarget too, as the manager builds one per request.
        return rules.decide(header, RequestTarget("/", HOST), jwks, now)

    pages = itertools.count(1)

    def decide_new_path(header: str) -> object:
        return rules.decide(header, RequestTarget(f"/pages/{next(pages)}", HOST), jwks, now)

    sync = time_interleaved(
        {
            "decide_valid": (fresh_copies(jar.valid), decide),
            "decide_changed": (changing_headers(jar.valid), decide),
            "decide_new_path": (fresh_copies(jar.valid), decide_new_path),
            "decide_full": (changing_drift(jar.valid), decide),
            "decide_duplicate": (changing_drift(jar.duplicate), decide),
            "refresh_plan": (_nothing, lambda _: plan()),
            "refresh_plan_duplicate": (_nothing, lambda _: dup_plan()),
            "rs256": (_nothing, rs256),
        },
        {"decide_valid": calls, "decide_changed": calls // 2, "decide_new_path": calls // 4,
         "decide_full": calls // 2,
         "decide_duplicate": calls // 4,
         "refresh_plan": calls // 10, "refresh_plan_duplicate": calls // 10, "rs256": 300},
        budget,
    )

    bare, bare_sent = _asgi_caller(build_app("bare", config), jar.valid)
    wrapped, wrapped_sent = _asgi_caller(build_app("ssrauth", config), jar.valid)
    await wrapped()
    if any(k == b"set-cookie" for k, _ in wrapped_sent[0].get("headers", [])):
        warnings.append("the ssrauth app sent Set-Cookie for a valid session")
    await bare()
    assert bare_sent[0]["status"] == 200
    assert wrapped_sent[0]["status"] == 200
    asynchronous = await atime_interleaved(
        {"aload": (fresh_copies(jar.valid), lambda h: manager.aload(h, "/", HOST)),
         "bare": (_nothing, lambda _: bare()), "ssrauth": (_nothing, lambda _: wrapped())},
        calls // 4, budget / 2,
    )
    return MicroResults(
        decide_valid=sync["decide_valid"],
        decide_changed=sync["decide_changed"],
        decide_new_path=sync["decide_new_path"],
        decide_full=sync["decide_full"],
        decide_duplicate=sync["decide_duplicate"],
        refresh_plan=sync["refresh_plan"],
        refresh_plan_lines=plan_lines,
        refresh_plan_bytes=plan_bytes,
        refresh_plan_duplicate=sync["refresh_plan_duplicate"],
        refresh_plan_duplicate_lines=dup_plan_lines,
        refresh_plan_duplicate_bytes=dup_plan_bytes,
        rs256_uncached=sync["rs256"],
        aload_valid=asynchronous["aload"],
        asgi_bare=asynchronous["bare"],
        asgi_ssrauth=asynchronous["ssrauth"],
        valid_header_bytes=len(jar.valid),
        duplicate_header_bytes=len(jar.duplicate),
        duplicate_plan_lines=len(duplicate.plan),
        warnings=tuple(warnings),
    )


async def profile_decide(config: CognitoConfig, jar: Jar, calls: int, *, full: bool,
                         top: int = 25) -> str:
    """cProfile of ``decide`` on the valid header, sorted by own time: where the µs go.

    ``full`` changes our clockDrift cookie per call, so no memo applies and the profile shows
    the whole decision; otherwise every call repeats the same header.
    """
    manager = SessionManager(config)
    await manager.aload(jar.valid, "/", HOST)
    rules, jwks, now = manager.rules, manager.jwks.current, manager.clock.now()
    headers = (changing_drift if full else fresh_copies)(jar.valid)(calls)
    profiler = cProfile.Profile()
    profiler.enable()
    for header in headers:
        rules.decide(header, RequestTarget("/", HOST), jwks, now)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()
