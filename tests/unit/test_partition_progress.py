"""A partition's commit point follows its first unfinished record, whatever order the
records finish in."""

from __future__ import annotations

from invoicesync_shared.bus.offsets import PartitionProgress


def test_the_commit_point_waits_for_the_first_unfinished_record() -> None:
    progress = PartitionProgress()
    for offset in (10, 11, 12, 13):
        progress.started(offset)
    progress.finished(12)
    progress.finished(11)
    assert progress.take_commit_point() is None  # 10 is still being handled
    progress.finished(10)
    assert progress.take_commit_point() == 13  # 10, 11 and 12 are done
    assert progress.take_commit_point() is None  # once per advance
    assert progress.unfinished == 1
    progress.finished(13)
    assert progress.take_commit_point() == 14
