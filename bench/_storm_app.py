"""The app a multi-worker server imports for the storm bench (``bench.storms``).

``uvicorn --workers`` and gunicorn import an app by name in each worker, so it is built here from
the environment: ``SSRAUTH_BENCH_CONFIG`` (the emulator's coordinates, JSON),
``SSRAUTH_BENCH_CLOCK_OFFSET`` (seconds the workers' clock runs ahead: the session the bench
signed in with is expired there) and the documented ``SSRAUTH_COORDINATOR``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ssrauth import ManualClock, SessionManager
from ssrauth.starlette import SsrAuthMiddleware

from ._server import ROUTES, config_from_json

__all__ = ["app"]


def _build() -> Starlette:
    config = config_from_json(os.environ["SSRAUTH_BENCH_CONFIG"])
    clock = ManualClock(float(os.environ.get("SSRAUTH_BENCH_CLOCK_OFFSET", "0")))
    manager = SessionManager(config, clock=clock)
    return Starlette(routes=ROUTES, middleware=[Middleware(SsrAuthMiddleware, manager=manager)])


app = _build()
