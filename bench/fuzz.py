"""``python -m bench.fuzz``: hypothesis with a large budget, in-process, over every place where a
browser's (or an attacker's) bytes enter ssrauth.

Targets: the Cookie-header parser, family recognition (``_core.keys`` / ``_core.jar``), the token
verifier (random strings and mutated real tokens), the whole per-request decision
(``SessionRules.decide``), every adapter (ASGI middleware, WSGI/Flask, Django under its WSGI and
ASGI handlers, driven in-process with raw header bytes, several Cookie lines, hostile paths) and
``ssrauth audit`` through :func:`ssrauth.cli.main`.

Oracles, for every input: no exception but the documented ones, never a 500, exit codes 0/1/2
only, every Set-Cookie line well-formed (the grammar of tests/unit/test_plan_bounds.py) and the
set bounded (at most 320 lines and 32 KiB), each input handled within ``--deadline`` seconds.

No network: tokens are signed with the unit tests' pool key, which the manager's key set holds,
and stay fresh on its clock, so no refresh is ever needed; the provider and JWKS URLs point at a
closed loopback port (an unknown ``kid`` meets a refused connection, nothing more).

Examples run in chunks with their own seeds (hypothesis's memory of explored inputs grows with a
chunk). ``--budget small`` is the smoke run ``make test`` keeps working; ``--budget N`` spreads N
inputs over the targets by their weights. A failure prints the target, the seed and the input,
and the command exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seeded
from hypothesis import strategies as st

from ssrauth import CognitoConfig, CookiePolicy, ManualClock, SessionManager, parse_cookie_header
from ssrauth._core.cookies import render_set_cookie
from ssrauth._core.jar import auth_pieces, read_family
from ssrauth._core.plan import MAX_SET_COOKIE_BYTES, MAX_SET_COOKIE_LINES, RequestTarget, bounded
from ssrauth._core.tokens import InvalidToken
from ssrauth.cli import main as cli_main
from tests.set_cookie_grammar import WELL_FORMED
from tests.unit.factory import (
    CLIENT_ID,
    HOST,
    KEYS,
    NOW,
    POOL_ID,
    REGION,
    SIGN_IN_DETAILS,
    b64url,
    jwks,
    minter,
    rules,
    verifier,
)

#: A port nothing listens on (the discard service): a refused connection, at once.
CLOSED = "http://127.0.0.1:9"

#: Share of the budget per target, by cost: an adapter request costs ~50 parser inputs.
WEIGHTS = {"parser": 40, "family": 15, "tokens": 13, "decide": 15, "asgi": 3, "flask": 3,
           "django-wsgi": 3, "django-asgi": 2, "audit": 6}
CHUNK = 5_000
SMALL = 25


# -- inputs: every target reads its input from bytes, so both engines can drive it ---------------

_TOKENS = minter()
#: Real tokens, fresh on the fuzz clock: the material mutations start from.
REAL_TOKENS = [_TOKENS.access("alice"), _TOKENS.id("alice"), _TOKENS.access("bob", iat=NOW - 600),
               _TOKENS.id("bob", iat=NOW - 600)]
OUR_NAMES = [KEYS.last_auth_user_name, *(KEYS.name(user, field) for user in ("alice", "bob", "a@b")
             for field in ("accessToken", "idToken", "refreshToken", "clockDrift",
                           "signInDetails", "deviceKey"))]
OUR_NAMES += [n.replace("@", "%40").replace(".", "%2E", 1) for n in OUR_NAMES]
SMALL_VALUES = ["alice", "bob", "a%40b", "0", "", '"', '""', SIGN_IN_DETAILS,
                '{"loginId":"a,b=c"}', "%", "%zz", "\\", "=", ","]
SEPARATORS = ["; ", ";", ",", ", ", " ; ", ";;", "\t;", ""]
EQUALS = ["=", "=", "=", '="', "", "=="]
PATHS = ["/", "/api/me", "/orders/42", "/a/b/c/d/e/f/g/h", "/caf%C3%A9", "//", "/a/../b"]


class Bytes:
    """Choices read from a byte string, like atheris's FuzzedDataProvider but plain Python, so
    hypothesis's ``st.binary()`` and libFuzzer's mutations mean the same inputs. Past the end
    every read is 0 (the first choice, or empty text)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            return 0
        self.at += 1
        return self.data[self.at - 1]

    def pick(self, choices: list[str]) -> str:
        return choices[self.byte() % len(choices)]

    def raw(self, most: int) -> bytes:
        size = self.byte() % (most + 1)
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def text(self, most: int) -> str:
        """Latin-1 text of raw bytes (what a server hands over), now and then UTF-8 decoded."""
        chunk = self.raw(most)
        if self.byte() % 4 == 0:
            return chunk.decode("utf-8", "replace")
        return chunk.decode("latin-1")

    def more(self) -> bool:
        return self.at < len(self.data)


def token_from(b: Bytes) -> str:
    """A real token with a few edits: a character changed, text inserted or cut, a segment
    swapped for another token's, or one of random bytes."""
    token = b.pick(REAL_TOKENS)
    for _ in range(b.byte() % 4):
        edit, at = b.byte() % 5, (b.byte() * 7 + b.byte()) % (len(token) + 1)
        if edit == 0:
            token = token[:at] + b.text(1) + token[at + 1 :]
        elif edit == 1:
            token = token[:at] + b.text(12) + token[at:]
        elif edit == 2:
            token = token[:at] + token[at + 1 + b.byte() % 40 :]
        else:
            parts = token.split(".")
            index = b.byte() % len(parts)
            parts[index] = (b.pick(REAL_TOKENS).split(".")[index % 3] if edit == 3
                            else b64url(b.raw(60)))
            token = ".".join(parts)
    return token


def value_from(b: Bytes) -> str:
    kind = b.byte() % 6
    if kind == 0:
        return b.pick(REAL_TOKENS)
    if kind == 1:
        return token_from(b)
    if kind in (2, 3):
        return b.pick(SMALL_VALUES)
    return b.text(40)


def header_from(b: Bytes) -> str:
    """Mostly cookie-shaped headers (our names raw and encoded, real and broken tokens, odd
    separators), sometimes plain random text."""
    if b.byte() % 8 == 0:
        return b.text(255)
    out = ""
    for _ in range(1 + b.byte() % 16):
        name = b.pick(OUR_NAMES) if b.byte() % 3 else b.text(20)
        equals = b.pick(EQUALS)
        out += (b.pick(SEPARATORS) if out else "") + name + equals + value_from(b)
        if equals == '="':
            out += '"'
        if not b.more():
            break
    return out


def path_from(b: Bytes) -> str:
    if b.byte() % 2:
        return b.pick(PATHS)
    return "/" + "".join(chr(0x21 + c % 0x5E) for c in b.raw(40))


# -- oracles ---------------------------------------------------------------------------------------


def check_set_cookies(lines: list[str]) -> None:
    """Every Set-Cookie line well-formed, and the whole set bounded. A field value's leading
    whitespace is not part of it (RFC 9110 §5.5; Django's WSGI handler writes one space)."""
    lines = [line.strip(" \t") for line in lines]
    assert len(lines) <= MAX_SET_COOKIE_LINES, f"{len(lines)} Set-Cookie lines"
    total = sum(len(line.encode("latin-1")) for line in lines)
    assert total <= MAX_SET_COOKIE_BYTES, f"{total} bytes of Set-Cookie"
    for line in lines:
        assert WELL_FORMED.fullmatch(line), f"malformed Set-Cookie: {line!r}"


# -- targets ---------------------------------------------------------------------------------------


def fuzz_parser(data: bytes) -> None:
    for cookie in parse_cookie_header(header_from(Bytes(data))):
        assert cookie.name, cookie
        assert cookie.name == cookie.name.strip(), cookie


def fuzz_family(data: bytes) -> None:
    header = header_from(Bytes(data))
    for cookie in parse_cookie_header(header):
        KEYS.classify(cookie.name)
    family = read_family(auth_pieces(header, KEYS.prefix), KEYS)
    family.duplicated()
    family.last_auth_users()


_VERIFIER = verifier()
_JWKS = jwks()


def fuzz_tokens(data: bytes) -> None:
    b = Bytes(data)
    token = token_from(b) if b.byte() % 4 else b.text(200)
    for use in ("access", "id"):
        with contextlib.suppress(InvalidToken):
            _VERIFIER.verify(token, use, _JWKS, NOW)


_RULES = rules()
_POLICY = CookiePolicy()


def fuzz_decide(data: bytes) -> None:
    b = Bytes(data)
    path = path_from(b)
    decision = _RULES.decide(header_from(b), RequestTarget(path, HOST), _JWKS, NOW)
    check_set_cookies([render_set_cookie(c, _POLICY) for c in bounded(decision.plan)[0]])


def fuzz_audit(data: bytes) -> None:
    """``ssrauth audit`` on a Cookie header, a HAR whose requests carry fuzzed headers, a
    cookie export, or random text."""
    b = Bytes(data)
    kind = b.byte() % 4
    argv = ["audit", f"--host={HOST}"]
    if kind == 0:
        argv.append(f"--cookie-header={header_from(b)}")
        text = None
    elif kind == 1:
        entries = [{"request": {"url": f"https://{HOST}{path_from(b)}", "method": "GET",
                                "headers": [{"name": "cookie", "value": header_from(b)}]}}
                   for _ in range(b.byte() % 4)]
        text = json.dumps({"log": {"entries": entries}})
    elif kind == 2:
        text = json.dumps([{"name": b.pick(OUR_NAMES), "value": value_from(b),
                            "domain": b.pick([HOST, "." + HOST, "", "other.test"]),
                            "path": path_from(b)} for _ in range(b.byte() % 8)])
    else:
        text = b.text(255)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if text is None:
                code = cli_main(argv)
            else:
                with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8",
                                                 errors="surrogateescape", delete=False) as f:
                    f.write(text)
                try:
                    code = cli_main([*argv, f.name])
                finally:
                    os.unlink(f.name)
        except SystemExit as stop:  # argparse's own usage errors
            code = stop.code if isinstance(stop.code, int) else 2
    assert code in (0, 1, 2), f"exit code {code}: {err.getvalue()[-500:]}"


# -- adapters, driven in-process -------------------------------------------------------------------


def _manager() -> SessionManager:
    config = CognitoConfig(user_pool_id=POOL_ID, client_id=CLIENT_ID, region=REGION,
                           endpoint_url=CLOSED, jwks_url=f"{CLOSED}/jwks.json",
                           cookie_policy=_POLICY, timeout=0.5)
    manager = SessionManager(config, clock=ManualClock(NOW))
    manager.jwks.current = jwks()  # the pool's keys, as if fetched: no network needed
    return manager


@dataclass
class Request:
    cookie_lines: list[bytes]
    path: str

    @classmethod
    def from_bytes(cls, data: bytes) -> Request:
        """One request: its Cookie header as UTF-8 bytes, now and then split over lines."""
        b = Bytes(data)
        path = path_from(b)
        header = header_from(b).encode("utf-8", "surrogatepass")
        lines = [header]
        if b.byte() % 3 == 0:
            lines = [line for line in header.split(b";") if line] or [b""]
        return cls(lines, path)


def _status_ok(status: int, where: str) -> None:
    assert status < 500 or status == 503, f"{where} answered {status}"


class Asgi:
    """The Starlette middleware (FastAPI test app), called with a raw ASGI scope."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def __call__(self, req: Request) -> None:
        self.loop.run_until_complete(self._call(req))

    async def _call(self, req: Request) -> None:
        raw = req.path.encode("latin-1")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "https", "path": req.path, "raw_path": raw,
                 "root_path": "", "query_string": b"", "server": (HOST, 443),
                 "client": ("127.0.0.1", 1),
                 "headers": [(b"host", HOST.encode()),
                             *((b"cookie", line) for line in req.cookie_lines)]}
        messages: list[dict[str, Any]] = []
        inbox = [{"type": "http.request", "body": b"", "more_body": False}]
        finished = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if inbox:
                return inbox.pop()
            await finished.wait()  # the client hangs up only once the response is complete
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                finished.set()

        await self.app(scope, receive, send)
        start = next(m for m in messages if m["type"] == "http.response.start")
        _status_ok(start["status"], "ASGI")
        check_set_cookies([v.decode("latin-1") for k, v in start["headers"]
                           if k.lower() == b"set-cookie"])


class Wsgi:
    """A WSGI app, called with the environ werkzeug or gunicorn would build: several Cookie
    lines joined with ``,``, the path as latin-1 text of its bytes (PEP 3333)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, req: Request) -> None:
        environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": req.path,
                   "QUERY_STRING": "", "SERVER_NAME": HOST, "SERVER_PORT": "443",
                   "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": HOST,
                   "HTTP_COOKIE": b",".join(req.cookie_lines).decode("latin-1"),
                   "wsgi.version": (1, 0), "wsgi.url_scheme": "https",
                   "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
                   "wsgi.multithread": False, "wsgi.multiprocess": False,
                   "wsgi.run_once": False}
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], _exc: Any = None
                           ) -> Callable[[bytes], None]:
            answer[:] = [status, headers]
            return lambda _: None

        body = self.app(environ, start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        _status_ok(int(answer[0].split()[0]), "WSGI")
        check_set_cookies([v for k, v in answer[1] if k.lower() == "set-cookie"])


def _adapter(name: str) -> Callable[[Request], None]:
    manager = _manager()
    if name == "asgi":
        from tests.integration.rig.apps import build_app

        return Asgi(build_app(manager))
    if name == "flask":
        from tests.integration.rig.flask_app import build_flask_app

        return Wsgi(build_flask_app(manager))
    from tests.integration import django_site

    django_site.configure()
    django_site.manager = manager
    if name == "django-wsgi":
        from django.core.handlers.wsgi import WSGIHandler

        return Wsgi(WSGIHandler())
    from django.core.handlers.asgi import ASGIHandler

    return Asgi(ASGIHandler())


# -- running ---------------------------------------------------------------------------------------

#: The largest input either engine hands a target.
MAX_LEN = 2048


def target(name: str) -> Callable[[bytes], None]:
    """The target's entry point, with its framework set up when it is an adapter."""
    logging.disable(logging.WARNING)  # ssrauth's event log; a 500 shows in the status
    pure = {"parser": fuzz_parser, "family": fuzz_family, "tokens": fuzz_tokens,
            "decide": fuzz_decide, "audit": fuzz_audit}
    if name in pure:
        return pure[name]
    adapter = _adapter(name)
    adapter(Request([b""], "/"))  # warm up: the first request loads the framework's lazy parts
    return lambda data: adapter(Request.from_bytes(data))


def timed_by(deadline: float, run: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``run`` with the time oracle, and every failing input kept in ``fuzz-failure-<sha1>``
    (replay: ``python -m bench._fuzz_worker TARGET FILE``). An input over the deadline is timed
    once more: only one slow twice in a row is a finding, a single pause of a shared machine
    is not."""

    def once(data: bytes) -> float:
        started = time.perf_counter()
        run(data)
        return time.perf_counter() - started

    def timed(data: bytes) -> None:
        try:
            spent = once(data)
            if spent > deadline:
                spent = min(spent, once(data))
            if spent > deadline:
                raise AssertionError(f"{spent:.2f} s for one input (deadline {deadline} s)")
        except BaseException:
            kept = Path(f"fuzz-failure-{hashlib.sha1(data).hexdigest()}")
            kept.write_bytes(data)
            print(f"input kept in {kept}", file=sys.stderr)
            raise

    return timed


def run_hypothesis(name: str, examples: int, first_seed: int, deadline: float) -> int:
    """``examples`` inputs from hypothesis's ``st.binary()``, in chunks; returns how many ran."""
    timed = timed_by(deadline, target(name))
    count = 0

    def counted(data: bytes) -> None:
        nonlocal count
        count += 1
        timed(data)

    done, chunk_seed = 0, first_seed
    while done < examples:
        size = min(CHUNK, examples - done)
        test = seeded(chunk_seed)(settings(
            max_examples=size, database=None, deadline=None, derandomize=False,
            phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
        )(given(st.binary(max_size=MAX_LEN))(counted)))
        try:
            test()
        except BaseException:
            print(f"FAILED: target {name}, seed {chunk_seed}", file=sys.stderr)
            raise
        done += size
        chunk_seed += 1
    return count


def hang_after(deadline: float) -> int:
    """libFuzzer's own ``-timeout``, in seconds: only a backstop for a hang, far above the
    deadline. The deadline is the oracle (:func:`timed_by` times a slow input twice); a 2 ms
    ``decide`` input once stalled 12 s while the shared 2-core machine ran other suites (load
    7), and libFuzzer's 10 s then ended the run on a pause, not a finding."""
    return max(120, int(deadline * 120))


def run_atheris(name: str, examples: int, seed: int, deadline: float) -> int:
    """``examples`` libFuzzer runs in a child process (libFuzzer owns its process and exits);
    returns how many ran, from libFuzzer's own count."""
    with tempfile.TemporaryDirectory(prefix="ssrauth-fuzz-") as corpus:
        child = subprocess.run(
            [sys.executable, "-m", "bench._fuzz_worker", name, f"--deadline={deadline}",
             f"-runs={examples}", f"-seed={seed + 1}", f"-max_len={MAX_LEN}",
             f"-timeout={hang_after(deadline)}", "-rss_limit_mb=4096",
             f"-artifact_prefix={os.getcwd()}/fuzz-{name}-", "-print_final_stats=1", corpus],
            capture_output=True, text=True, check=False, cwd=os.getcwd())
    done = re.search(r"Done (\d+) runs", child.stderr)
    if child.returncode != 0 or done is None:
        print(child.stderr[-4000:], file=sys.stderr)
        print(f"FAILED: target {name} (libFuzzer seed {seed + 1}, exit {child.returncode})",
              file=sys.stderr)
        raise SystemExit(1)
    return int(done.group(1))


def _budgets(budget: str, targets: Iterable[str]) -> Iterator[tuple[str, int]]:
    names = list(targets)
    if budget == "small":
        yield from ((n, SMALL) for n in names)
        return
    total = int(budget)
    weight = sum(WEIGHTS[n] for n in names)
    yield from ((n, max(1, total * WEIGHTS[n] // weight)) for n in names)


def _engines() -> list[str]:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return ["hypothesis"]
    return ["atheris", "hypothesis"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="small",
                        help="'small' (a smoke run) or a total number of inputs")
    parser.add_argument("--target", action="append", choices=sorted(WEIGHTS),
                        help="a target to run (repeatable; default: all)")
    parser.add_argument("--engine", choices=["atheris", "hypothesis"], default=_engines()[0],
                        help="libFuzzer through atheris (the default when it is installed) or "
                        "hypothesis")
    parser.add_argument("--seed", type=int, default=0, help="the first seed (0)")
    parser.add_argument("--deadline", type=float, default=1.0,
                        help="seconds one input may take (1.0)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"small|\d+", args.budget):
        parser.error("--budget is 'small' or a number")
    run = run_atheris if args.engine == "atheris" else run_hypothesis
    started, total = time.monotonic(), 0
    print(f"engine {args.engine}, budget {args.budget}, seed {args.seed}", flush=True)
    for name, examples in _budgets(args.budget, args.target or WEIGHTS):
        began = time.monotonic()
        ran = run(name, examples, args.seed, args.deadline)
        total += ran
        print(f"{name:12} {ran:>9} inputs  {time.monotonic() - began:8.1f} s  no failure",
              flush=True)
    print(f"{'total':12} {total:>9} inputs  {time.monotonic() - started:8.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
