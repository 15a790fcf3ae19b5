"""The micro-batcher: one call per window or full batch, and each caller gets its own
outcome (a refused item or a failed call)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from invoicesync_shared.connectors.batching import MicroBatcher


class Recorder:
    def __init__(self, fail_call: bool = False) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.fail_call = fail_call

    async def send(self, key: str, items: Sequence[int]) -> list[int | BaseException]:
        self.calls.append((key, list(items)))
        await asyncio.sleep(0)
        if self.fail_call:
            raise ConnectionError("down")
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


async def test_items_within_the_window_share_one_call_per_key() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(recorder.send, window=0.05, max_size=100)
    results = await asyncio.gather(
        *(batcher.submit("a", i) for i in range(1, 6)),
        batcher.submit("b", 7),
        batcher.submit("a", -1),
        return_exceptions=True,
    )
    assert results[:6] == [10, 20, 30, 40, 50, 70]
    assert isinstance(results[6], ValueError)
    assert sorted(recorder.calls) == [("a", [1, 2, 3, 4, 5, -1]), ("b", [7])]


async def test_a_full_batch_goes_at_once() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(recorder.send, window=10, max_size=3)
    results = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit("a", i) for i in range(6))), timeout=1
    )
    assert results == [0, 10, 20, 30, 40, 50]
    assert [len(items) for _, items in recorder.calls] == [3, 3]


async def test_a_failed_call_fails_every_member() -> None:
    batcher: MicroBatcher[str, int, int] = MicroBatcher(
        Recorder(fail_call=True).send, window=0.01, max_size=10
    )
    results = await asyncio.gather(
        *(batcher.submit("a", i) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    with pytest.raises(ConnectionError):
        await batcher.submit("a", 1)


async def test_a_pause_sends_a_lone_item_before_the_window_ends() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(
        recorder.send, window=5.0, max_size=100, pause=0.02
    )
    assert await asyncio.wait_for(batcher.submit("a", 1), timeout=1) == 10


async def test_a_caller_that_stops_waiting_takes_its_item_out_of_an_unsent_batch() -> None:
    """A push stopped at its deadline is over: its document must not go out afterwards."""
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(recorder.send, window=10, max_size=100)
    stopped = asyncio.ensure_future(batcher.submit("a", 1))
    staying = asyncio.ensure_future(batcher.submit("a", 2))
    await asyncio.sleep(0)  # both are in the open batch
    stopped.cancel()
    await asyncio.wait({stopped})  # its cancellation has run
    await batcher.drain()
    assert await staying == 20 and stopped.cancelled()
    assert recorder.calls == [("a", [2])]


async def test_the_last_caller_leaving_closes_the_batch() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(recorder.send, window=10, max_size=100)
    stopped = asyncio.ensure_future(batcher.submit("a", 1))
    await asyncio.sleep(0)
    stopped.cancel()
    await asyncio.wait({stopped})  # its cancellation has run
    await batcher.drain()
    assert recorder.calls == []


async def test_a_backlog_keeps_the_batch_open_across_a_gap_between_fetches() -> None:
    """Items come in two fetches with a gap longer than the window and the pause: while
    the backlog says more are coming, the batch waits and goes out full."""
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(
        recorder.send, window=0.02, max_size=6, pause=0.01, max_wait=30
    )
    batcher.follow(lambda: 6)  # six on their way, those submitted included
    first = [asyncio.ensure_future(batcher.submit("a", i)) for i in range(3)]
    await asyncio.sleep(0.1)  # the gap: five windows
    assert recorder.calls == []
    second = [asyncio.ensure_future(batcher.submit("a", i)) for i in range(3, 6)]
    assert await asyncio.wait_for(asyncio.gather(*first, *second), timeout=5) == [
        0,
        10,
        20,
        30,
        40,
        50,
    ]
    assert recorder.calls == [("a", [0, 1, 2, 3, 4, 5])]


async def test_with_nothing_more_coming_a_partial_batch_goes_on_the_pause() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(
        recorder.send, window=30, max_size=6, pause=0.01, max_wait=30
    )
    batcher.follow(lambda: 2)  # the two submitted are all there is
    results = await asyncio.wait_for(
        asyncio.gather(batcher.submit("a", 1), batcher.submit("a", 2)), timeout=5
    )
    assert list(results) == [10, 20]
    assert recorder.calls == [("a", [1, 2])]


async def test_a_backlog_that_never_comes_holds_a_batch_at_most_max_wait() -> None:
    """Records stuck elsewhere (another tenant's, a revoked partition) must not hold a
    batch for ever."""
    recorder = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(
        recorder.send, window=0.01, max_size=6, pause=0.005, max_wait=0.1
    )
    batcher.follow(lambda: 1000)
    assert await asyncio.wait_for(batcher.submit("a", 1), timeout=5) == 10
    assert recorder.calls == [("a", [1])]
