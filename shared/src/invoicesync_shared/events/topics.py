"""Topic names. Keys are client ids, so one client's documents stay in order."""

from __future__ import annotations

DOCUMENTS = "invoicesync.documents"  # sync requests: booked, updated, resend
SYNC_RESULTS = "invoicesync.sync-results"  # connector outcomes for the API
SYSTEMS = ("exact", "lexware", "yuki")


def dead_letter_topic(system: str) -> str:
    return f"invoicesync.dead-letter.{system}"


def all_topics() -> list[str]:
    return [DOCUMENTS, SYNC_RESULTS, *(dead_letter_topic(s) for s in SYSTEMS)]
