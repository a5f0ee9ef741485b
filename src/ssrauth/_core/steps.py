"""Write a protocol once, run it blocking or async (the httpx idea, with generators).

A protocol is a generator that yields the I/O it needs and receives the answer (or has the error
thrown into it). ``drive`` and ``adrive`` are the only places that differ between the blocking
and the async face of a provider or of the session manager.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

__all__ = ["Steps", "adrive", "drive"]

Request = TypeVar("Request")
Result = TypeVar("Result")

Steps = Generator[Request, Any, Result]


def drive(steps: Steps[Request, Result], do: Callable[[Request], Any]) -> Result:
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            request = steps.throw(error) if error is not None else steps.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            answer, error = do(request), None
        except Exception as exc:  # handed to the protocol, which decides what it means
            answer, error = None, exc


async def adrive(
    steps: Steps[Request, Result], do: Callable[[Request], Awaitable[Any]]
) -> Result:
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            request = steps.throw(error) if error is not None else steps.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            answer, error = await do(request), None
        except Exception as exc:
            answer, error = None, exc
