"""Which offset of a partition may be committed when its records finish out of order:
the one after the longest run of finished records from the start."""

from __future__ import annotations

from collections import deque


class PartitionProgress:
    """The records of one partition handed out since it was assigned, in log order.

    A record finished early (another tenant's, quicker) waits here until every record
    before it is finished too: committing past an unfinished one would lose it on a
    restart.
    """

    def __init__(self) -> None:
        # Handed to a lane and not done yet: what this partition holds of the buffer.
        self.held = 0
        self._open: deque[int] = deque()
        self._finished: set[int] = set()
        self._commit_point: int | None = None

    def started(self, offset: int) -> None:
        self._open.append(offset)

    def finished(self, offset: int) -> None:
        self._finished.add(offset)
        while self._open and self._open[0] in self._finished:
            done = self._open.popleft()
            self._finished.discard(done)
            self._commit_point = done + 1

    @property
    def unfinished(self) -> int:
        return len(self._open)

    def take_commit_point(self) -> int | None:
        """The next offset to commit, once per advance (None: nothing new to commit)."""
        point, self._commit_point = self._commit_point, None
        return point
