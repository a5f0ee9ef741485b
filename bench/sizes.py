"""Response sizes of sign-in, refresh and sign-out per page depth and cookie policy.

Prints the table in docs/cookies.md ("Limits", "Response size"): measured with the embedded
emulator through ``SessionManager.load(...).set_cookie_headers()``; a line counts as sent,
``Set-Cookie: <value>\\r\\n``.

Usage: ``python -m bench.sizes``
"""

from __future__ import annotations

import sys

from ssrauth import CookiePolicy, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator

USER = "bob@example.com"
PASSWORD = "Passw0rd!x"
HOST = "app.example.com"
PATHS = ("/", "/orders/42", "/a/b/c/d/e")
POLICIES = (("default policy (host-only)", CookiePolicy()),
            ('`CookiePolicy(domain="example.com")`', CookiePolicy(domain="example.com")))


def _size(lines: list[str]) -> str:
    total = sum(len("Set-Cookie: \r\n") + len(line) for line in lines)
    return f"{len(lines)} lines, {total / 1000:.1f} KB"


def _signed_in(manager: SessionManager) -> tuple[str, str]:
    """The Cookie header a browser sends after sign-in, and the sign-in response's size."""
    auth = manager.load("", "/", HOST)
    auth.sign_in(USER, PASSWORD)
    lines = auth.set_cookie_headers()
    return "; ".join(line.split(";", 1)[0] for line in lines), _size(lines)


def main() -> int:
    clock = ManualClock()
    rows: list[str] = []
    with CognitoEmulator(clock) as emulator:
        emulator.create_user(USER, PASSWORD, email=USER)
        for label, policy in POLICIES:
            refresh: list[str] = []
            sign_out: list[str] = []
            signed_in = ""
            for path in PATHS:
                manager = SessionManager(emulator.config(cookie_policy=policy), clock=clock)
                header, signed_in = _signed_in(manager)
                clock.advance(3600)
                refresh.append(_size(manager.load(header, path, HOST).set_cookie_headers()))
                header, _ = _signed_in(manager)
                auth = manager.load(header, path, HOST)
                auth.sign_out()
                sign_out.append(_size(auth.set_cookie_headers()))
            rows.append(f"| sign-in, {label} | {signed_in} | | |")
            rows.append(f"| refresh, {label} | " + " | ".join(refresh) + " |")
            rows.append(f"| sign-out, {label} | " + " | ".join(sign_out) + " |")
    print("| Response | " + " | ".join(f"on `{p}`" for p in PATHS) + " |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
