"""Everywhere a secret could leak to, as text: every message on every topic (from the
beginning), log files, and every row of every table in the database."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from invoicesync_shared.events.topics import all_topics


async def every_kafka_message(bootstrap: str) -> list[str]:
    """Keys, values and headers of every message on every topic, read without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in all_topics()
            for p in sorted(consumer.partitions_for_topic(topic) or {0})
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[str] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                for record in records:
                    parts = [record.key or b"", record.value or b""]
                    parts += [v for _, v in record.headers]
                    found.append(b" ".join(parts).decode(errors="replace"))
        return found
    finally:
        await consumer.stop()


def log_texts(log_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(errors="replace") for p in sorted(log_dir.glob("*.log"))}


async def every_row(engine: AsyncEngine, *, skip: Iterable[str] = ()) -> dict[str, str]:
    """Each table's rows as text (bytea shows as hex, so plaintext bytes would show too)."""
    skipped = set(skip)
    async with engine.connect() as conn:
        tables = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        dumped = {}
        for (table,) in tables:
            if table in skipped:
                continue
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            dumped[table] = "\n".join(row[0] for row in rows)
        credentials = await conn.execute(text("SELECT credentials FROM integrations"))
        dumped["integrations.credentials (raw bytes)"] = "\n".join(
            bytes(row[0]).decode(errors="replace") for row in credentials if row[0]
        )
        return dumped


def leaks(secrets: dict[str, str], haystacks: dict[str, str]) -> list[str]:
    """Which secret shows up where, as "secret name in place"."""
    return [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, haystack in haystacks.items()
        if secret and secret in haystack
    ]
