"""Plumbing shared by the ``oco-gateway aeo`` commands: settings, signing keys, one-line errors, and a member's
view of the registry over Kafka through which events are published and seen to arrive.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import click
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.access.identities import member_identity
from gateway.aeo.document import write_event
from gateway.aeo.exchange import SnapshotError
from gateway.access.policy import member_aeo_topics
from gateway.aeo.feed import AeoPublisher, RegistryFeed, aeo_topic_names
from gateway.aeo.intake import EventReader
from gateway.aeo.issuing import IssueError
from gateway.aeo.national import NationalListError
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.signing import SigningKey, TrustStore, load_signing_key
from gateway.aeo.status import TraderStatus
from gateway.config import GatewaySettings, load_settings
from gateway.errors import BrokerError, ConfigError, EventRefused, Rejection
from gateway.kafka_security import acting_as, client_options
from gateway.ops.logging import configure_logging
from gateway.pipeline.chain import build_reading_stages
from gateway.profiles import ProfileRegistry
from gateway.transport.topics import ensure_topics

__all__ = ["AeoContext", "Fail", "Published", "RegistryView", "handled", "network_options", "refusal_text",
           "wait_for_leaders"]

F = TypeVar("F", bound=Callable[..., Any])


class Fail(Exception):
    """A command cannot go on: one line for the operator, and the exit code (1 failed, 2 configuration)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def handled(command: F) -> F:
    """Turn the errors an operator can meet into one line on stderr and an exit code, never a traceback.

    Exit 2: the configuration, the signing key or the trust store is wrong. Exit 1: the request was refused
    (an issuing rule, a file's signature) or Kafka failed.
    """
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Fail as exc:
            _die(str(exc), exc.code)
        except ConfigError as exc:
            _die(str(exc), 2)
        except (IssueError, SnapshotError, NationalListError, BrokerError) as exc:
            _die(str(exc), 1)
        except EventRefused as exc:
            _die(f"the network would refuse this event: {refusal_text(exc)}", 1)
        except KafkaError as exc:
            _die(f"Kafka failed: {exc!r}", 1)
        except TimeoutError:
            _die("timed out waiting for Kafka (see --timeout)", 1)
        except OSError as exc:
            _die(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", 1)
    return wrapper  # type: ignore[return-value]


def refusal_text(exc: EventRefused) -> str:
    """Why an event is refused, in one line; for a schema error, the schema's own words (without the line
    number of a document the operator never saw)."""
    cause = exc.__cause__
    if exc.reason == "invalid" and isinstance(cause, Rejection):
        return f"the schema refuses it: {cause.issues[0].message}"
    return f"{exc.reason}: {exc.issues[0].message}"


def _die(message: str, code: int) -> NoReturn:
    click.echo(f"oco-gateway: {message}", err=True)
    sys.exit(code)


_OPTIONS = [
    click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="OCO_CONFIG",
                 help="Network configuration YAML (env OCO_CONFIG)."),
    click.option("--bootstrap-servers", help="Kafka address; overrides the configuration."),
    click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
                 help="Seconds to wait for published events to show in the registry."),
]


def network_options(f: F) -> F:
    """Add --config, --bootstrap-servers and --timeout to a command."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


class _Stderr:
    """sys.stderr as it is when written to (a test runner swaps it), for the log renderer."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@dataclass
class AeoContext:
    """The network as one command sees it: settings, trust store, event reader.

    Args:
        settings: the configuration (its Kafka address possibly overridden).
        timeout: seconds to wait for an event to show in the registry.
    """

    settings: GatewaySettings
    timeout: float
    _trust: TrustStore | None = None
    _reader: EventReader | None = None

    @staticmethod
    def load(config_path: str | None, bootstrap_servers: str | None, timeout: float) -> AeoContext:
        """Read the configuration and quiet the logs (warnings only, on stderr: stdout is the command's).

        Raises:
            ConfigError: the configuration is invalid.
        """
        settings = load_settings(config_path)
        if bootstrap_servers:
            settings = settings.model_copy(update={
                "kafka": settings.kafka.model_copy(update={"bootstrap_servers": bootstrap_servers})})
        configure_logging(settings.log_format, "WARNING")
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=_Stderr()))
        if settings.log_level != "DEBUG":  # the command reports Kafka failures itself, in one line
            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        return AeoContext(settings, timeout)

    @property
    def trust(self) -> TrustStore:
        """The trust store (``aeo.keys``, partners' keys, ``aeo.trust_store``)."""
        if self._trust is None:
            self._trust = TrustStore.from_settings(self.settings.aeo)
        return self._trust

    @property
    def reader(self) -> EventReader:
        """Reads events with the gateway's own stages (safe parse, profile, XSD)."""
        if self._reader is None:
            profiles = ProfileRegistry.load([self.settings.profiles_dir])
            self._reader = EventReader(build_reading_stages(self.settings, profiles))
        return self._reader

    @property
    def codes(self) -> list[str]:
        """Members and MRA partners: whom a trader may consent to."""
        return self.settings.aeo_issuers

    def security(self, member: str | None) -> dict[str, Any]:
        """Return the client options of a command acting as a member (``--member``, ``--as``): the member's own
        identity (``member-<m>``) when only a password source is configured, or the configured identity.

        Raises:
            ConfigError: the password or a TLS file cannot be read.
        """
        kafka = self.settings.kafka
        return client_options(acting_as(kafka, member_identity(member)) if member else kafka)

    def check_member(self, member: str, what: str = "member") -> None:
        """Refuse a code that is not a member of the network (exit 2)."""
        if member not in self.settings.members:
            known = ", ".join(sorted(self.settings.members)) or "none"
            raise Fail(f"{member} is not a {what} of the network (members: {known}; check --config)", 2)

    def check_codes(self, codes: Sequence[str]) -> None:
        """Refuse consent to a code that is neither a member nor a partner (exit 2)."""
        strangers = [c for c in codes if c not in self.codes]
        if strangers:
            raise Fail(f"{', '.join(strangers)}: not a member or MRA partner of the network "
                       f"(known: {', '.join(self.codes)})", 2)

    def signing_key(self, member: str, path: Path | None) -> SigningKey:
        """Load the signing key of ``member`` and check that the trust store lists it as current.

        Raises:
            Fail: (exit 2) not a member, another member's key, or a key the network does not trust.
            ConfigError: no key, or a file that is not one.
        """
        self.check_member(member)
        key = load_signing_key(path)
        if key.member != member:
            raise Fail(f"the signing key {key.key_id} signs for {key.member}, not for {member}", 2)
        probe = b"oco-gateway aeo: key check"
        try:
            self.trust.verify_bytes(member, key.key_id, probe, key.sign_bytes(probe))
        except EventRefused as exc:
            raise Fail(f"the network would refuse what key {key.key_id} signs: {exc.issues[0].message}. Add its "
                       "public half (as `oco-gateway aeo keygen` printed it) to the trust store "
                       "(aeo.trust_store) of every gateway first", 2) from None
        return key

    def preflight(self, status: TraderStatus) -> None:
        """Check an event as every gateway will (XSD, signature, jurisdiction) before publishing it.

        Raises:
            EventRefused: it would be refused; the message says why.
        """
        self.reader.read(write_event(status))
        self.trust.verify(status)


@dataclass(frozen=True, slots=True)
class Published:
    """An event published and seen in the registry (or not: ``problem`` says why)."""

    status: TraderStatus
    seconds: float
    problem: str | None = None


class RegistryView:
    """A member's view of the registry, loaded from the topics and kept current, with a publisher.

    Args:
        context: the command's network.
        viewer: the member whose details topics are read too (None: public view only).
        publish: also start a producer (and create the trusted-trader topics when missing).
    """

    def __init__(self, context: AeoContext, viewer: str | None, *, publish: bool = False) -> None:
        self.context = context
        self.registry = AeoRegistry(context.trust, viewer=viewer)
        s = context.settings
        self.viewer = viewer
        self.security = context.security(viewer)
        self.feed = RegistryFeed(self.registry, context.reader, bootstrap_servers=s.kafka.bootstrap_servers,
                                 security=self.security, issuers=s.aeo_issuers, client_id=f"{s.kafka.client_id}-aeo-cli")
        self._publish = publish
        self._producer: AIOKafkaProducer | None = None
        self.publisher: AeoPublisher | None = None

    async def __aenter__(self) -> RegistryView:
        s = self.context.settings
        if self._publish:
            if self.viewer is None:
                names = aeo_topic_names(s.aeo_issuers, s.members)
            else:  # the topics this member writes and reads: on a secured cluster it sees no others
                writes, reads = member_aeo_topics(s, self.viewer)
                names = list(dict.fromkeys(writes + reads))
            identity = s.model_copy(update={"kafka": acting_as(s.kafka, member_identity(self.viewer))}) \
                if self.viewer else s
            created = await ensure_topics(identity, names, compacted=True)
            if created:
                await wait_for_leaders(s.kafka.bootstrap_servers, created, security=self.security,
                                       timeout=max(30.0, self.context.timeout))
        await self.feed.start()
        try:
            try:
                await self.feed.wait_loaded(s.aeo.load_timeout)
            except TimeoutError:
                raise Fail(f"the registry did not load from {s.kafka.bootstrap_servers} within "
                           f"{s.aeo.load_timeout:g} s (aeo.load_timeout)") from None
            if self._publish:
                self._producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers, **self.security,
                                                  acks="all",
                                                  enable_idempotence=True, client_id=f"{s.kafka.client_id}-aeo-cli")
                try:
                    await self._producer.start()
                except KafkaError as exc:
                    raise BrokerError(f"cannot publish to Kafka at {s.kafka.bootstrap_servers}: {exc}") from exc
                self.publisher = AeoPublisher(self._producer, s.members)
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        await self.feed.stop()

    async def publish(self, status: TraderStatus, previous: TraderStatus | None) -> float:
        """Publish one event and wait until the registry shows it; return the seconds that took.

        Raises:
            Fail: it did not show within the timeout, or another event took its sequence number first.
        """
        (done,) = await self.publish_many([(status, previous)])
        if done.problem is not None:
            raise Fail(done.problem)
        return done.seconds

    async def publish_many(self, events: Sequence[tuple[TraderStatus, TraderStatus | None]],
                           chunk: int = 200) -> list[Published]:
        """Publish events (at most one per trader), ``chunk`` at a time, then wait until each shows.

        Returns:
            one entry per event, in order; ``problem`` set for those that did not show as published.
        """
        assert self.publisher is not None, "RegistryView(publish=True) publishes"
        started: dict[str, float] = {}
        for i in range(0, len(events), chunk):
            part = events[i:i + chunk]
            for status, _ in part:
                started[status.trader_id] = time.perf_counter()
            await asyncio.gather(*(self.publisher.publish(s, p) for s, p in part))
        deadline = time.monotonic() + self.context.timeout
        results = []
        for status, _ in events:
            results.append(await self._seen(status, started[status.trader_id], deadline))
        return results

    async def _seen(self, status: TraderStatus, started: float, deadline: float) -> Published:
        where = f"{status.trader_id} #{status.sequence}"
        try:
            got = await self.feed.wait_for(status.trader_id, status.sequence, max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            return Published(status, 0.0, f"{where} was published but did not show in the registry within "
                             f"{self.context.timeout:g} s; look for it in oco.dlq (oco-gateway dlq list)")
        seconds = time.perf_counter() - started
        if got.sequence == status.sequence and not got.same_event(status):
            return Published(status, seconds, f"{where} was taken by another event published at the same time "
                             f"({got.status}, key {got.signature.key_id if got.signature else '?'}); ours was "
                             "refused as a replay: check the trader and try again")
        return Published(status, seconds)


async def wait_for_leaders(bootstrap_servers: str, topics: Sequence[str], timeout: float = 30.0, *,
                           security: dict[str, Any] | None = None) -> None:
    """Wait until every partition of new topics has a leader (KRaft publishes a new topic's metadata a moment
    after creating it; reading before then fails).

    Raises:
        BrokerError: not ready within ``timeout`` seconds.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="oco-gateway-aeo-admin",
                                **(security or {}))
    deadline = time.monotonic() + timeout
    try:
        await admin.start()
        while True:
            described = await admin.describe_topics(list(topics))
            if len(described) == len(topics) and all(
                    t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
                    for t in described):
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"the new trusted-trader topics had no leader after {timeout:g} s")
            await asyncio.sleep(0.1)
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from exc
    finally:
        await admin.close()
