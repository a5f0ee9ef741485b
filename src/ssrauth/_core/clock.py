"""Time, injectable: every expiry and grace-window decision asks a :class:`Clock`.

Cognito (and moto) issue one-hour tokens; tests and the demo move a :class:`ManualClock` instead
of waiting an hour.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    """Wall-clock time; token ``exp``/``iat`` are wall-clock seconds, so not monotonic time."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()


class ManualClock:
    """Wall-clock time plus an offset that tests (and the demo's "move clock" button) can grow.

    It keeps running, so real waiting still counts; :meth:`advance` jumps ahead. Thread-safe.
    """

    __slots__ = ("_lock", "_offset")

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
