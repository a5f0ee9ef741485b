"""``python -m ssrauth.demo`` (what ``make demo`` runs): the demo app on the embedded Cognito.

Everything runs in this one process, offline: moto's Cognito API on a loopback port, a user to
sign in with, and the app under uvicorn. Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
from types import FrameType

import uvicorn

from ssrauth import ManualClock
from ssrauth.emulator import CognitoEmulator

from .app import create_app

#: The emulator's user. Not a secret: the pool lives in this process and dies with it.
DEMO_USERNAME = "demo@example.com"
DEMO_PASSWORD = "Demo-passw0rd!"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssrauth.demo", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("SSRAUTH_DEMO_HOST", "127.0.0.1"),
                        help="interface to listen on (default 127.0.0.1, env SSRAUTH_DEMO_HOST)")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("SSRAUTH_DEMO_PORT", "8000")),
                        help="port to listen on (default 8000, env SSRAUTH_DEMO_PORT)")
    parser.add_argument("--access-log", action="store_true",
                        help="log every request (off: the dashboard polls every 3 s)")
    args = parser.parse_args(argv)

    # ssrauth logs refreshes, sign-ins and healed duplicates at INFO: worth seeing in a demo.
    logging.basicConfig(level=logging.INFO, format="%(levelname)-7s %(name)s: %(message)s")
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again and swallows
    # the KeyboardInterrupt that SIGINT becomes. SIGTERM's default action would kill the process
    # there instead, before the emulator stops: make it a KeyboardInterrupt as well.
    signal.signal(signal.SIGTERM, _interrupt)
    # A KeyboardInterrupt reaching here came before the server was up; ``with`` stopped the
    # emulator on its way out, and a traceback would tell the user nothing.
    with contextlib.suppress(KeyboardInterrupt):
        _serve(args.host, args.port, access_log=args.access_log)
    print("ssrauth demo stopped.", flush=True)


def _serve(host: str, port: int, *, access_log: bool) -> None:
    clock = ManualClock()
    with CognitoEmulator(clock) as emulator:
        emulator.create_user(DEMO_USERNAME, DEMO_PASSWORD, email=DEMO_USERNAME,
                             email_verified="true")
        app = create_app(emulator, demo_user=(DEMO_USERNAME, DEMO_PASSWORD))
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        if ":" in shown_host:
            shown_host = f"[{shown_host}]"
        print(
            "ssrauth demo\n"
            f"  Cognito emulator  {emulator.url}\n"
            f"  user pool id      {emulator.user_pool_id}\n"
            f"  app client id     {emulator.client_id}\n"
            f"  username          {DEMO_USERNAME}\n"
            f"  password          {DEMO_PASSWORD}\n"
            f"  app               http://{shown_host}:{port}/\n",
            flush=True,
        )
        uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
