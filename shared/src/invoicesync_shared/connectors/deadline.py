"""A push's overall deadline: the last guard against a push that never ends.

Every call has its timeout and every wait its bound, yet a push held by something
unforeseen (a lock that is never given back, a wait computed on a clock that jumped)
would keep its lease alive through the heartbeat and hold its client's lane for ever,
logging nothing. Past the deadline the push is cancelled as an unknown outcome (the next
try looks the document up first), and what it was waiting on is logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import CoroutineType, GeneratorType
from typing import Any, TypeVar

from invoicesync_shared.connectors.errors import UnknownOutcome

T = TypeVar("T")


class PushOverdue(UnknownOutcome):
    """The push ran past its deadline and was cancelled; ``awaiting`` is where it hung,
    outermost first."""

    def __init__(self, seconds: float, awaiting: list[str]) -> None:
        super().__init__(f"no outcome within {seconds:.0f} s")
        self.seconds = seconds
        self.awaiting = awaiting


async def within_deadline(work: Coroutine[Any, Any, T], seconds: float) -> T:
    """Run ``work``; past ``seconds`` cancel it and raise ``PushOverdue``."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if task in done:
            return task.result()
        awaiting = awaited_chain(task)
        raise PushOverdue(seconds, awaiting)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: what it raised on the way out is not news


def awaited_chain(task: asyncio.Future[Any]) -> list[str]:
    """``file:line in function`` for each coroutine a task is suspended in, down to the
    innermost (``Task.get_stack`` gives only the outermost frame of a suspended task)."""
    chain: list[str] = []
    awaitable: object = task.get_coro() if isinstance(task, asyncio.Task) else task
    while awaitable is not None and len(chain) < 64:
        if isinstance(awaitable, asyncio.Task):
            awaitable = awaitable.get_coro()
            continue
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            chain.append(repr(awaitable)[:200])  # a future: what it is tells what is awaited
            break
        code = frame.f_code
        chain.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        if isinstance(awaitable, CoroutineType):
            awaitable = awaitable.cr_await
        elif isinstance(awaitable, GeneratorType):
            awaitable = awaitable.gi_yieldfrom
        else:
            awaitable = getattr(awaitable, "cr_await", None)
    return chain
