"""How each topic is created in production, in one place: the AsyncAPI document describes
these, and the tests hold deploy/compose.yaml and the deploy/k8s jobs and KEDA
ScaledObjects to them."""

from __future__ import annotations

from dataclasses import dataclass

from invoicesync_shared.events import topics

DAY_MS = 24 * 60 * 60 * 1000
# The API's consumer group on the results topic (invoicesync_api.sync.results.CONSUMER).
API_RESULTS_GROUP = "api-results"


@dataclass(frozen=True)
class TopicSettings:
    """How a topic is created in production (deploy/compose.yaml, deploy/k8s)."""

    partitions: int
    retention_ms: int
    description: str
    replicas: int = 3
    min_insync_replicas: int = 2


# Partitions bound the parallelism of a consumer group: a connector scales to at most
# this many replicas (KEDA's maxReplicaCount). Growing a topic later remaps keys to
# partitions, so start generous; 12 divides by 1, 2, 3, 4 and 6 replicas evenly.
TOPIC_SETTINGS: dict[str, TopicSettings] = {
    topics.DOCUMENTS: TopicSettings(
        partitions=12,
        retention_ms=7 * DAY_MS,
        description=(
            "Sync requests from the API's outbox relay. Every connector reads all of it in "
            "its own consumer group (connector-<system>) and acts on the targets of its own "
            "system."
        ),
    ),
    topics.SYNC_RESULTS: TopicSettings(
        partitions=12,
        retention_ms=7 * DAY_MS,
        description=(
            "Outcomes of pushes, from the connectors to the API's result consumer "
            f"(group {API_RESULTS_GROUP}), which deduplicates by event id."
        ),
    ),
    **{
        topics.dead_letter_topic(system): TopicSettings(
            partitions=3,
            retention_ms=28 * DAY_MS,
            description=(
                f"Events the {system} connector gave up on after its retries, with the "
                "reason; kept four weeks for inspection. Replay goes through the API "
                "(POST /v1/dead-letters/replay), which reads the sync state, not this topic."
            ),
        )
        for system in topics.SYSTEMS
    },
}
