"""Write a protocol once, run it blocking or async (the httpx idea, with generators).

A protocol is a generator that yields the I/O it needs as :class:`Step` values and receives each
answer (or has the error thrown into it): ``tokens = yield from ask(Exchange(code, verifier))``.
A step type names its answer type (``class Exchange(Step[TokenSet])``), so mypy checks that a
protocol gets what it asks for and that a handler answers what the step promises.

The I/O is done by :class:`Handlers`, one table per owner (the session manager, a provider, the
shared coordinator) where each step type is registered once with *both* its blocking and its
async handler: the two faces cannot drift apart, and a step with no handler fails loudly.
:func:`drive` and :func:`adrive` are the only places that differ between the faces; both close
the protocol however the run ends (an error, a cancelled task), so its ``finally`` blocks run
at once rather than whenever the garbage collector gets to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, Never, TypeVar, cast

__all__ = ["Handlers", "Step", "Steps", "adrive", "ask", "drive"]

Answer = TypeVar("Answer")
Result = TypeVar("Result")


class Step(Generic[Answer]):
    """A piece of I/O a protocol needs, answered with an ``Answer``.

    Invariant in ``Answer`` on purpose: a handler registered for a step must answer exactly
    the step's type, not merely something related to it.
    """

    __slots__ = ()


#: A protocol: yields steps, receives their answers, returns ``Result``.
Steps = Generator[Step[Any], Any, Result]


def ask(step: Step[Answer]) -> Generator[Step[Answer], Any, Answer]:
    """``answer = yield from ask(step)``: one step, its answer typed as the step says."""
    answer: Answer = yield step
    return answer


class Handlers:
    """The one dispatch table of an owner: step type → (blocking handler, async handler)."""

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table: dict[type[Any], tuple[Callable[[Any], Any],
                                           Callable[[Any], Awaitable[Any]]]] = {}

    def on(
        self,
        kind: type[Step[Answer]],
        blocking: Callable[[Never], Answer],
        asynchronous: Callable[[Never], Awaitable[Answer]],
    ) -> Handlers:
        """Register both faces of ``kind`` (a handler takes the step itself). Chainable."""
        self._table[kind] = (cast(Callable[[Any], Any], blocking),
                             cast(Callable[[Any], Awaitable[Any]], asynchronous))
        return self

    def _pair(self, step: Step[Any]) -> tuple[Callable[[Any], Any],
                                              Callable[[Any], Awaitable[Any]]]:
        try:
            return self._table[type(step)]
        except KeyError:
            raise TypeError(f"no handler for the step {type(step).__name__}") from None

    def blocking(self, step: Step[Answer]) -> Answer:
        return cast(Answer, self._pair(step)[0](step))

    async def asynchronous(self, step: Step[Answer]) -> Answer:
        return cast(Answer, await self._pair(step)[1](step))


class _Run(Generic[Result]):
    """Where a protocol stands between two steps: the answer (or error) it is owed next."""

    __slots__ = ("answer", "error", "result", "steps")

    def __init__(self, steps: Steps[Result]) -> None:
        self.steps = steps
        self.answer: Any = None
        self.error: Exception | None = None
        self.result: Result | None = None

    def next_step(self) -> Step[Any] | None:
        """Hand the protocol what it is owed; its next step, or None once it returned."""
        answer, error, self.answer, self.error = self.answer, self.error, None, None
        try:
            return self.steps.throw(error) if error is not None else self.steps.send(answer)
        except StopIteration as stop:
            self.result = stop.value
            return None


def drive(steps: Steps[Result], handlers: Handlers) -> Result:
    """Run ``steps`` to its end, answering each step with its blocking handler."""
    with contextlib.closing(steps):
        run = _Run(steps)
        while (step := run.next_step()) is not None:
            handle = handlers._pair(step)[0]  # outside the try: a missing handler is a bug
            try:
                run.answer = handle(step)
            except Exception as error:  # handed to the protocol, which decides what it means
                run.error = error
        return cast(Result, run.result)


async def adrive(steps: Steps[Result], handlers: Handlers) -> Result:
    """Run ``steps`` to its end, awaiting each step's async handler."""
    with contextlib.closing(steps):
        run = _Run(steps)
        while (step := run.next_step()) is not None:
            handle = handlers._pair(step)[1]
            try:
                run.answer = await handle(step)
            except Exception as error:
                run.error = error
        return cast(Result, run.result)
