"""Kafka side of the trusted-trader network: the registry's feed from ``oco.aeo.*``, and the issuers' publisher.

Topics (see ``gateway.topics``), compacted and keyed by trader id:

    oco.aeo.<I>           public view of every status issuer I publishes (read by every gateway)
    oco.aeo.<I>.to.<M>    full view (name, address) of I's traders that consented to member M (read by M)

The feed reads from the beginning of every partition at start-up (manual assignment, no consumer group to
rebalance), reports itself loaded once it has reached the end offsets it saw then, and goes on following
new records. A refused event is counted and logged as a security event by every reader; the one reader
given ``park=True`` (the gateway) also parks it in ``oco.dlq``, once: the offsets it has audited are kept in
the consumer group ``<audit group>``, so a restart rebuilds the registry without parking the same event again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from gateway.aeo.document import write_event
from gateway.aeo.intake import EventReader, IntakeResult, parked_event
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.status import TraderStatus
from gateway.errors import BrokerError
from gateway.pipeline.context import SourceRef
from gateway.topics import aeo_details_topic, aeo_topic

__all__ = ["AeoPublisher", "RegistryFeed", "aeo_topic_names", "parse_aeo_topic"]

log = structlog.get_logger("gateway.aeo")


def aeo_topic_names(issuers: Iterable[str], members: Iterable[str]) -> list[str]:
    """Return every trusted-trader topic of a network: one public topic per issuer, one details topic per
    (issuer, member) pair. Partners' details go only to members (partners get snapshot files).

    Args:
        issuers: members and MRA partners.
        members: the network's members.
    """
    issuers, members = sorted(issuers), sorted(members)
    return [aeo_topic(i) for i in issuers] + [aeo_details_topic(i, m) for i in issuers for m in members]


def parse_aeo_topic(topic: str) -> tuple[str, str | None]:
    """Return (issuer, recipient) of a trusted-trader topic; recipient is None for a public topic.

    Raises:
        ValueError: not a trusted-trader topic.
    """
    parts = topic.split(".")
    if len(parts) == 3 and parts[:2] == ["oco", "aeo"]:
        return parts[2], None
    if len(parts) == 5 and parts[:2] == ["oco", "aeo"] and parts[3] == "to":
        return parts[2], parts[4]
    raise ValueError(f"{topic!r} is not a trusted-trader topic (oco.aeo.<issuer>[.to.<member>])")


@dataclass(frozen=True, slots=True)
class Observed:
    """One event the feed handled: for metrics and the security log."""

    result: IntakeResult
    source: SourceRef
    issuer: str
    live: bool  # read after start-up's catch-up (or past the audit mark): a new event, not a rebuild


class RegistryFeed:
    """Build a registry from the trusted-trader topics and keep it current.

    Args:
        registry: the registry to fill.
        reader: reads and checks each event (the declarations' reading stages).
        bootstrap_servers: Kafka address.
        security: the client's security options (``gateway.kafka_security.client_options``).
        issuers: whose public topics to read (members and partners).
        client_id: Kafka client id.
        park: publish refused events to ``oco.dlq`` (the gateway does; other readers only count them).
        audit_group: consumer group keeping the offsets already audited (with ``park``).
        observe: called for every event handled.
        max_message_bytes: the producer's request size for parking.
    """

    def __init__(self, registry: AeoRegistry, reader: EventReader, *, bootstrap_servers: str,
                 security: Mapping[str, Any] | None = None, issuers: Sequence[str], client_id: str = "oco-aeo", park: bool = False,
                 audit_group: str | None = None, observe: Callable[[Observed], None] | None = None,
                 max_message_bytes: int = 1024 * 1024) -> None:
        self.registry = registry
        self._reader = reader
        self._bootstrap = bootstrap_servers
        self._security = dict(security or {})
        self.topics = [aeo_topic(i) for i in issuers]
        if registry.viewer is not None:
            self.topics += [aeo_details_topic(i, registry.viewer) for i in issuers]
        self._client_id = client_id
        self._park = park
        self._audit_group = audit_group if park else None
        self._observe = observe
        self._max_bytes = max_message_bytes
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._end: dict[TopicPartition, int] = {}
        self._audited: dict[TopicPartition, int] = {}
        self.loaded = asyncio.Event()
        self.load_seconds: float | None = None
        self._changed = asyncio.Condition()
        self.connected = False

    async def start(self) -> None:
        """Connect, assign every partition from its beginning and start following.

        Raises:
            BrokerError: Kafka cannot be reached, or a trusted-trader topic is missing.
        """
        started = time.perf_counter()
        self._started = started
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, **self._security, client_id=self._client_id,
            group_id=self._audit_group,
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
            max_partition_fetch_bytes=self._max_bytes * 2)
        try:
            await self._consumer.start()
            tps: list[TopicPartition] = []
            for topic in self.topics:
                parts = self._consumer.partitions_for_topic(topic)
                for _ in range(20):  # a topic just created takes a moment to reach the metadata
                    if parts:
                        break
                    await self._consumer._client.force_metadata_update()  # noqa: SLF001 - no public call
                    parts = self._consumer.partitions_for_topic(topic)
                    if not parts:
                        await asyncio.sleep(0.25)
                if not parts:
                    raise BrokerError(f"trusted-trader topic {topic} does not exist: run the gateway (it creates "
                                      "them) or `oco-gateway aeo topics`")
                tps += [TopicPartition(topic, p) for p in sorted(parts)]
            self._consumer.assign(tps)
            await self._consumer.seek_to_beginning(*tps)
            self._end = await self._consumer.end_offsets(tps)
            if self._audit_group is not None:
                for tp in tps:
                    self._audited[tp] = await self._consumer.committed(tp) or 0
            if self._park:
                self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, **self._security, acks="all",
                                                  enable_idempotence=True, max_request_size=self._max_bytes + 65536)
                await self._producer.start()
        except KafkaError as exc:
            await self.stop()
            raise BrokerError(f"cannot read the trusted-trader topics at {self._bootstrap}: {exc}") from exc
        except BaseException:
            await self.stop()
            raise
        self.connected = True
        self._positions: dict[TopicPartition, int] = {tp: 0 for tp in tps}
        self._check_loaded()
        self._task = asyncio.create_task(self._run(), name="aeo-feed")

    async def wait_loaded(self, timeout: float) -> None:
        """Wait until the registry holds everything published before start-up.

        Raises:
            TimeoutError: not loaded within ``timeout`` seconds.
        """
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def wait_for(self, trader_id: str, sequence: int, timeout: float = 10.0) -> TraderStatus:
        """Wait until the registry holds event ``sequence`` (or newer) of a trader; return it.

        Raises:
            TimeoutError: not seen within ``timeout`` seconds.
        """
        async def seen() -> TraderStatus:
            async with self._changed:
                await self._changed.wait_for(lambda: (s := self.registry.get(trader_id)) is not None
                                             and s.sequence >= sequence)
            found = self.registry.get(trader_id)
            assert found is not None
            return found
        return await asyncio.wait_for(seen(), timeout)

    async def stop(self) -> None:
        """Stop following and disconnect."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        self.connected = False

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=500, max_records=1000)
                self.connected = True
            except KafkaError as exc:
                self.connected = False
                log.warning("aeo_feed_fetch_error", error=repr(exc))
                await asyncio.sleep(1)
                continue
            if not batch:
                continue
            parked = []
            for tp, records in batch.items():
                issuer, _recipient = parse_aeo_topic(tp.topic)
                for record in records:
                    parked += self._handle(tp, issuer, record)
                    self._positions[tp] = record.offset + 1
            try:
                await self._park_and_audit(parked, batch)
            except KafkaError as exc:  # parking is retried from the audit mark after a restart
                log.warning("aeo_park_failed", error=repr(exc), events=len(parked))
            async with self._changed:
                self._changed.notify_all()
            self._check_loaded()

    def _handle(self, tp: TopicPartition, issuer: str, record: object) -> list[object]:
        source = SourceRef(tp.topic, tp.partition, record.offset)  # type: ignore[attr-defined]
        value = record.value  # type: ignore[attr-defined]
        key = record.key  # type: ignore[attr-defined]
        if value is None:  # a tombstone: consent to this reader withdrawn (details topics only)
            if key:
                self.registry.forget_details(key.decode("utf-8", "replace"))
            return []
        result = self._reader.apply(self.registry, value, topic_issuer=issuer, source=source)
        live = self.loaded.is_set() if self._audit_group is None else record.offset >= self._audited.get(tp, 0)  # type: ignore[attr-defined]
        if self._observe is not None:
            self._observe(Observed(result, source, issuer, live))
        if result.refusal is None:
            return []
        if live:
            log.warning("aeo_event_refused", security_event=True, reason=result.refusal.reason, issuer=issuer,
                        topic=tp.topic, partition=tp.partition, offset=source.offset,
                        key=key.decode("utf-8", "replace") if key else None, detail=str(result.refusal))
        if self._park and live:
            return [parked_event(value, key, source, result.refusal)]
        return []

    async def _park_and_audit(self, parked: list[object], batch: dict[TopicPartition, list[object]]) -> None:
        if self._producer is not None and parked:
            acks = [await self._producer.send(o.topic, o.value, key=o.key or None,  # type: ignore[attr-defined]
                                              headers=[(k, v.encode()) for k, v in o.headers.items()])  # type: ignore[attr-defined]
                    for o in parked]
            await asyncio.gather(*acks)
        if self._audit_group is not None and self._consumer is not None:
            marks = {tp: self._positions[tp] for tp in batch if self._positions[tp] > self._audited.get(tp, 0)}
            if marks:
                await self._consumer.commit(marks)
                self._audited.update(marks)

    def _check_loaded(self) -> None:
        if not self.loaded.is_set() and all(self._positions.get(tp, 0) >= end for tp, end in self._end.items()):
            self.load_seconds = time.perf_counter() - self._started
            self.loaded.set()
            log.info("aeo_registry_loaded", traders=len(self.registry), seconds=round(self.load_seconds, 3),
                     topics=len(self.topics))


class AeoPublisher:
    """Publish an issuer's signed events where they belong: the public view to ``oco.aeo.<I>``, the full view
    to ``oco.aeo.<I>.to.<M>`` for the issuer itself and every member the trader consented to, and a
    tombstone to the details topic of every member whose consent was withdrawn.

    Args:
        producer: a started producer (acks=all).
        members: the network's members (consent to anyone else, such as an MRA partner, travels only in
            snapshot files).
    """

    def __init__(self, producer: AIOKafkaProducer, members: Iterable[str]) -> None:
        self._producer = producer
        self._members = frozenset(members)

    async def publish(self, status: TraderStatus, previous: TraderStatus | None = None) -> None:
        """Publish one signed event and wait for the broker's acknowledgements.

        Args:
            status: the signed event, with its details when the issuer has them.
            previous: the trader's previous event, to withdraw details from members no longer consented.

        Raises:
            ValueError: the event is not signed.
            KafkaError: the broker did not take it.
        """
        if status.signature is None:
            raise ValueError("only signed events are published")
        key = status.trader_id.encode()
        sends = []
        if status.details is not None:
            full = write_event(status)
            for member in sorted((set(status.consent) | {status.issuer}) & self._members):
                sends.append(await self._producer.send(aeo_details_topic(status.issuer, member), full, key=key))
        withdrawn = (set(previous.consent) - set(status.consent)) & self._members if previous else set()
        for member in sorted(withdrawn - {status.issuer}):
            sends.append(await self._producer.send(aeo_details_topic(status.issuer, member), None, key=key))
        sends.append(await self._producer.send(aeo_topic(status.issuer), write_event(status, with_details=False),
                                               key=key))
        await asyncio.gather(*sends)
