"""``python -m bench``: run the whole suite, print the table, rewrite docs/performance.md.

Order matters for quiet measurements: the in-process core timings run before any server exists,
then the servers start and the HTTP rounds run with this process parked on the load generator's
CPU. Every child is stopped on the way out, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

from ssrauth import CognitoConfig

from ._http import COORDINATORS, Servers, cells_for, check_servers, run_http
from ._jar import PASSWORD, USERNAME, build_jar
from ._load import choose_generator
from ._micro import profile_decide, run_micro
from ._procs import REPO, Child, plan_pinning
from ._report import TARGET_DECIDE_US, Machine, Run, markdown, table
from ._server import STACKS

#: Where the Redis coordinator's servers keep their keys (a prefix of their own: the machine's
#: Redis is shared with the test suite).
REDIS_URL = "redis://127.0.0.1:6379/0?prefix=ssrauth-bench-http:"


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved HTTP rounds (3)")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="measured seconds per server per round (4)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="unmeasured load per server before the rounds (1 s)")
    parser.add_argument("--connections", type=int, default=16,
                        help="keep-alive connections of the load generator (16)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="wrk if installed (auto), or force one")
    parser.add_argument("--calls", type=int, default=20_000,
                        help="calls of decide on the valid header (20000)")
    parser.add_argument("--stacks", default=",".join(STACKS),
                        help="server stacks, comma-separated (h11,httptools)")
    parser.add_argument("--coordinators", default=",".join(COORDINATORS),
                        help="coordinators of the ssrauth servers (local,sqlite,redis)")
    parser.add_argument("--no-http", action="store_true", help="core timings only")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the decide loop (also done on a MISS)")
    parser.add_argument("--quick", action="store_true",
                        help="1 round x 1.5 s, fewer calls; prints only (smoke test)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md",
                        help="where to write the report (docs/performance.md)")
    parser.add_argument("--no-write", action="store_true", help="do not write the report")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.warmup, args.calls = 1, 1.5, 0.5, 4_000
        args.no_write = True
    if args.rounds < 1 or args.seconds <= 0 or args.connections < 1 or args.calls < 100:
        parser.error("rounds, seconds, connections and calls must be positive (calls >= 100)")
    args.stacks = tuple(s for s in args.stacks.split(",") if s)
    args.coordinators = tuple(c for c in args.coordinators.split(",") if c)
    if not args.stacks or set(args.stacks) - set(STACKS):
        parser.error(f"--stacks: choose from {', '.join(STACKS)}")
    if "local" not in args.coordinators or set(args.coordinators) - set(COORDINATORS):
        parser.error(f"--coordinators: local and any of {', '.join(COORDINATORS[1:])}")
    return args


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        return False
    return True


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    started = time.monotonic()
    machine = Machine.describe()
    pinning = plan_pinning()
    generator, generator_line = choose_generator(args.loadgen, pinning, args.connections)
    _say(f"ssrauth bench: Python {machine.python}, nproc {machine.nproc}; {pinning.describe()}")
    if not args.no_http:
        _say(generator_line)

    emulator = Child("Cognito emulator", "bench._emulator", [USERNAME, PASSWORD],
                     cpu=pinning.load_cpu, pinning=pinning)
    servers: Servers | None = None
    scratch = tempfile.TemporaryDirectory(prefix="ssrauth-bench-")
    folder = Path(scratch.name)
    try:
        config = CognitoConfig(**emulator.handshake(timeout=120))
        jar = asyncio.run(build_jar(config))
        _say(f"signed in through the emulator; Cookie header {len(jar.valid):,} B "
             f"(duplicate-cookie header {len(jar.duplicate):,} B)")

        _say("core timings (in-process) ...")
        micro = asyncio.run(run_micro(config, jar, calls=args.calls, budget=30.0))
        missed = [t.median_us > TARGET_DECIDE_US for t in
                  (micro.decide_valid, micro.decide_changed, micro.decide_new_path)]
        for full, wanted in ((False, missed[0]), (True, any(missed))):
            if args.profile or wanted:
                what = "full decision (clockDrift changed per call)" if full else "same header"
                _say(f"cProfile of SessionRules.decide, {what}, by own time:")
                _say(asyncio.run(profile_decide(config, jar, calls=min(args.calls, 20_000),
                                                full=full)))

        http = None
        if not args.no_http:
            coordinators = args.coordinators
            if "redis" in coordinators and not _redis_reachable():
                _say("WARNING: Redis is not reachable on 127.0.0.1:6379: its row is left out")
                coordinators = tuple(c for c in coordinators if c != "redis")
            cells = cells_for(args.stacks, coordinators)
            specs = tuple(dict.fromkeys(cell.server for cell in cells))
            urls = {"local": "local", "sqlite": f"sqlite://{folder / 'ssrauth-bench.db'}",
                    "redis": REDIS_URL}
            _say(f"starting {len(specs)} uvicorn servers: " + ", ".join(s.key for s in specs))
            servers = Servers(specs, config, pinning, urls)
            problems = check_servers(servers, jar.valid, jar.username)
            for problem in problems:
                _say(f"WARNING: {problem}")
            pinning.pin_self(pinning.load_cpu)
            _say(f"HTTP rounds: {args.rounds} x {args.seconds:g} s per server ...")
            http = run_http(servers, cells, generator, jar.valid, rounds=args.rounds,
                            seconds=args.seconds, warmup=args.warmup, progress=_say)
    finally:
        if servers is not None:
            servers.stop()
        emulator.stop()
        scratch.cleanup()

    run = Run(machine=machine, micro=micro, http=http, generator=generator_line.split(": ", 1)[1]
              if http is not None else "", pinning=pinning.describe(), rounds=args.rounds,
              seconds=args.seconds, connections=args.connections,
              elapsed=time.monotonic() - started)
    _say("")
    _say(table(run))
    if args.no_write or http is None:
        _say("(report not written: --quick, --no-write or --no-http)")
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown(run), encoding="utf-8")
        _say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # children are stopped by main's finally
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
