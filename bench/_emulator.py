"""Child process: the Cognito emulator (moto on loopback) with one user.

It lives in its own process so that moto's threads never share an interpreter (and its GIL) with
a server being measured. It prints its coordinates as one JSON line, then serves until its stdin
is closed (by the bench, or by the bench dying). Lines on stdin are commands, each answered with
one JSON line: ``advance SECONDS`` moves the emulator's token clock (tokens minted afterwards are
that much later), ``refreshes`` answers how many refresh calls reached it since ``reset``.

Usage: ``python -m bench._emulator USERNAME PASSWORD``
"""

from __future__ import annotations

import json
import sys

from ssrauth import ManualClock
from ssrauth.emulator import CognitoEmulator


def main(argv: list[str]) -> int:
    username, password = argv
    clock = ManualClock()
    with CognitoEmulator(clock) as emulator:
        emulator.create_user(username, password, email=username)
        print(json.dumps({
            "user_pool_id": emulator.user_pool_id,
            "client_id": emulator.client_id,
            "region": emulator.region,
            "endpoint_url": emulator.url,
        }), flush=True)
        for line in sys.stdin:  # ends at EOF: the bench closed our stdin or exited
            command, _, argument = line.strip().partition(" ")
            if command == "advance":
                clock.advance(float(argument))
            elif command == "reset":
                emulator.reset_calls()
            print(json.dumps({"refreshes": emulator.refresh_calls()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
