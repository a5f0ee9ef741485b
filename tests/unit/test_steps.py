"""The step executor (``_core.steps``): one protocol, answered by a blocking and an async face
from one table; errors thrown back into the protocol; the protocol closed however the run ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssrauth._core.steps import Handlers, Step, Steps, adrive, ask, drive

Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class Double(Step[int]):
    value: int


@dataclass(frozen=True, slots=True)
class Fail(Step[None]):
    message: str


@dataclass(frozen=True, slots=True)
class Unhandled(Step[None]):
    pass


class Broken(Exception):
    pass


def double(step: Double) -> int:
    return step.value * 2


async def adouble(step: Double) -> int:
    await asyncio.sleep(0)
    return step.value * 2


def fail(step: Fail) -> None:
    raise Broken(step.message)


async def afail(step: Fail) -> None:
    await asyncio.sleep(0)
    raise Broken(step.message)


HANDLERS = Handlers().on(Double, double, adouble).on(Fail, fail, afail)


def both_faces(protocol: Callable[[], Steps[Result]]) -> tuple[Result, Result]:
    """The same protocol run by each face."""
    return drive(protocol(), HANDLERS), asyncio.run(adrive(protocol(), HANDLERS))


def both_raise(protocol: Callable[[], Steps[Any]], error: type[Exception]) -> None:
    with pytest.raises(error):
        drive(protocol(), HANDLERS)
    with pytest.raises(error):
        asyncio.run(adrive(protocol(), HANDLERS))


def sums() -> Steps[int]:
    first = yield from ask(Double(2))
    second = yield from ask(Double(first))
    return first + second


def recovers() -> Steps[str]:
    try:
        yield from ask(Fail("provider down"))
    except Broken as error:
        return f"recovered from {error}"
    return "not reached"


def test_each_step_gets_its_answer_and_the_protocol_returns_its_result() -> None:
    assert both_faces(sums) == (12, 12)


def test_a_protocol_without_steps_returns_at_once() -> None:
    def nothing() -> Steps[str]:
        return "done"
        yield  # a generator all the same

    assert both_faces(nothing) == ("done", "done")


def test_a_handler_error_is_thrown_into_the_protocol_which_may_recover() -> None:
    assert both_faces(recovers) == ("recovered from provider down",) * 2


def test_a_handler_error_the_protocol_does_not_catch_reaches_the_caller() -> None:
    def gives_up() -> Steps[None]:
        yield from ask(Fail("no"))

    both_raise(gives_up, Broken)


def test_a_step_without_a_handler_fails_loudly_and_is_not_thrown_into_the_protocol() -> None:
    swallowed: list[BaseException] = []

    def asks_the_unknown() -> Steps[None]:
        try:
            yield from ask(Unhandled())
        except Exception as error:
            swallowed.append(error)

    both_raise(asks_the_unknown, TypeError)
    assert swallowed == []


class Tracked:
    """A protocol that records whether its ``finally`` ran."""

    def __init__(self) -> None:
        self.closed = 0

    def protocol(self, after: Callable[[], None] = lambda: None) -> Steps[int]:
        try:
            answer = yield from ask(Double(1))
            after()
            yield from ask(Double(answer))
            return answer
        finally:
            self.closed += 1


def test_the_protocol_is_closed_when_it_raises() -> None:
    tracked = Tracked()

    def boom() -> None:
        raise ValueError("inside the protocol")

    both_raise(lambda: tracked.protocol(boom), ValueError)
    assert tracked.closed == 2


def test_the_protocol_is_closed_when_the_run_is_cancelled_mid_step() -> None:
    """A cancelled task (a client that went away) must not leave the protocol suspended with
    a lease or a lock in its ``finally`` still to run."""
    tracked = Tracked()
    started = asyncio.Event()

    async def hangs(step: Double) -> int:
        started.set()
        await asyncio.Event().wait()
        return step.value

    handlers = Handlers().on(Double, double, hangs)

    async def scenario() -> None:
        task = asyncio.create_task(adrive(tracked.protocol(), handlers))
        await started.wait()
        assert tracked.closed == 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert tracked.closed == 1


def test_the_protocol_is_closed_when_a_blocking_handler_escapes_with_a_base_exception() -> None:
    tracked = Tracked()

    def interrupted(step: Double) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        drive(tracked.protocol(), Handlers().on(Double, interrupted, adouble))
    assert tracked.closed == 1


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_both_faces_agree(start: int) -> None:
    def chain() -> Steps[list[int]]:
        seen = [start]
        for _ in range(3):
            seen.append((yield from ask(Double(seen[-1]))))
        return seen

    blocking, asynchronous = both_faces(chain)
    assert blocking == asynchronous == [start, start * 2, start * 4, start * 8]
