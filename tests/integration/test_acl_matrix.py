"""Who may do what, on the real secured broker: every kind of identity against every kind of topic and operation.

The expectations below are written from the specification (docs/operations.md, *Topics and access control*),
not derived from ``gateway.access.policy``: a wrong grant in the policy shows up here as a wrong cell. Every
cell is tried for real, with the identity's own credentials, and must either work or fail with an
*authorisation* error (not a timeout, not a missing topic).

The network: participant P1 submits for member M1 (QM), participant P2 for member M2 (QN); M1 is delivered
centrally (it has an adapter: the ``oco-delivery`` identity serves it), M2 at its own site.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)

from gateway.access.identities import DELIVERY, GATEWAY, member_identity
from gateway.access.kafka_admin import AclBinding, KafkaAdminError, create_acls, upsert_scram
from gateway.access.policy import delivery_transactional_id
from gateway.topics import (
    DEAD_LETTER,
    aeo_details_topic,
    aeo_topic,
    deliver_topic,
    priority_topic,
    reply_topic,
    retry_topic,
    submit_topic,
)
from tests.conftest import KafkaAccess

pytestmark = [pytest.mark.kafka]

M1, M2 = "QM", "QN"  # member codes no other test uses: their topics are this module's alone
_TOPIC_AUTH = TopicAuthorizationFailedError.errno  # 29


class Matrix:
    """The network under test, its topics by kind, and what each identity may do (the specification)."""

    def __init__(self, tmp: Path, access: KafkaAccess) -> None:
        tag = f"acl{uuid.uuid4().hex[:6]}"
        self.access = access
        self.p1, self.p2 = f"{tag}-p1", f"{tag}-p2"
        self.group_id = f"gw-{tag}"
        path = tmp / "network.yaml"
        path.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": access.bootstrap, "group_id": self.group_id},
            "participants": {self.p1: {"name": "P1"}, self.p2: {"name": "P2"}},
            "members": {M1: {"name": "M1", "submitters": [self.p1],
                             "adapter": {"name": "asycuda", "settings": {"url": "http://127.0.0.1:9"}}},
                        M2: {"name": "M2", "submitters": [self.p2]}},
        }))
        access.provision(path)
        self.topics = {
            "submit.own": submit_topic(self.p1), "submit.other": submit_topic(self.p2),
            "reply.own": reply_topic(self.p1), "reply.other": reply_topic(self.p2),
            "deliver.own": deliver_topic(M1), "deliver.other": deliver_topic(M2),
            "priority.own": priority_topic(M1), "priority.other": priority_topic(M2),
            "retry.own": retry_topic(M1), "retry.other": retry_topic(M2),
            "dlq": DEAD_LETTER,
            "aeo.own": aeo_topic(M1), "aeo.other": aeo_topic(M2),
            "aeo.own.to.other": aeo_details_topic(M1, M2), "aeo.other.to.own": aeo_details_topic(M2, M1),
            "aeo.other.to.other": aeo_details_topic(M2, M2),
            "unknown": submit_topic(f"{tag}-nobody"),  # a participant the network does not know: no topic
        }
        # kind of identity -> (user name, topic kinds it reads, topic kinds it writes, its groups, a topic to
        # commit offsets for); "own" is P1 / M1's side.
        self.identities: dict[str, tuple[str, set[str], set[str], str]] = {
            "participant": (self.p1, {"reply.own"}, {"submit.own"}, "reply.own"),
            "member": (member_identity(M1), {"deliver.own", "priority.own", "retry.own", "aeo.own", "aeo.other",
                                             "aeo.other.to.own"},
                       {"retry.own", "reply.own", "dlq", "aeo.own", "aeo.own.to.other"}, "deliver.own"),
            "delivery": (DELIVERY, {"deliver.own", "priority.own", "retry.own"}, {"retry.own", "reply.own", "dlq"},
                         "deliver.own"),
            "gateway": (GATEWAY, {"submit.own", "submit.other", "aeo.own", "aeo.other"},
                        {"deliver.own", "deliver.other", "priority.own", "priority.other", "reply.own",
                         "reply.other", "dlq"}, "submit.own"),
        }
        self.groups = {  # group name -> the kind of identity that owns it
            f"{self.p1}.replies": "participant", f"{self.p2}.replies": "other participant",
            f"oco-deliver-{M1}": "member+delivery", f"oco-deliver-{M2}": "other member",
            self.group_id: "gateway", f"{self.group_id}-aeo-audit": "gateway",
        }

    def may(self, kind: str, operation: str, topic_kind: str) -> bool:
        _, reads, writes, _ = self.identities[kind]
        return {"read": topic_kind in reads, "write": topic_kind in writes,
                "describe": topic_kind in reads | writes, "create": False}[operation]

    async def init_transactions(self, user: str, transactional_id: str) -> bool:
        """Try to initialise a transactional id as ``user`` (what a transactional producer does first)."""
        producer = AIOKafkaProducer(bootstrap_servers=self.access.bootstrap, **self.access.security(user),
                                    transactional_id=transactional_id, request_timeout_ms=10000)
        try:
            await producer.start()
            return True
        except TransactionalIdAuthorizationFailed:
            return False
        finally:
            await producer.stop()

    def may_join(self, kind: str, group: str) -> bool:
        owner = self.groups[group]
        return owner == kind or (owner == "member+delivery" and kind in ("member", "delivery"))


class Client:
    """One identity's clients, reused for every cell of its row."""

    def __init__(self, access: KafkaAccess, user: str) -> None:
        self.security = access.security(user)
        self.bootstrap = access.bootstrap
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.security, request_timeout_ms=10000)
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **self.security, request_timeout_ms=10000,
                                         acks="all")

    async def __aenter__(self) -> Client:
        await self.admin.start()
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()
        await self.admin.close()

    async def describe(self, topic: str) -> bool:
        (found,) = await self.admin.describe_topics([topic])
        if found["error_code"] == _TOPIC_AUTH:
            return False
        assert found["error_code"] == 0, found
        return True

    async def read(self, topic: str) -> bool:
        if not await self.describe(topic):  # no Describe, no Read: the broker refuses it in the metadata already
            return False
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **self.security, enable_auto_commit=False,
                                    request_timeout_ms=10000)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            await consumer.getmany(tp, timeout_ms=300)
            return True
        except TopicAuthorizationFailedError:
            return False
        finally:
            await consumer.stop()

    async def write(self, topic: str) -> bool:
        try:
            await self.producer.send_and_wait(topic, b"<acl-matrix-probe/>", key=b"acl-matrix")
            return True
        except TopicAuthorizationFailedError:
            return False

    async def create(self, topic: str) -> bool:
        result = await self.admin.create_topics([NewTopic(topic, 1, 1)])
        (name, code, _message) = result.topic_errors[0][:3]
        assert code in (0, _TOPIC_AUTH, 36), (name, code)  # 36: already exists (only after a Create right)
        return code != _TOPIC_AUTH

    async def join(self, group: str, topic: str) -> bool:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **self.security, group_id=group,
                                    enable_auto_commit=False, request_timeout_ms=10000)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.commit({tp: 0})
            return True
        except GroupAuthorizationFailedError:
            return False
        finally:
            await consumer.stop()

    async def grant_itself(self) -> bool:
        try:
            me = f"User:{self.security['sasl_plain_username']}"
            await create_acls(self.admin, [AclBinding(me, "TOPIC", "oco.", "PREFIXED", "ALL")])
            return True
        except KafkaAdminError as exc:
            assert "AuthorizationFailed" in str(exc), exc
            return False

    async def set_a_password(self) -> bool:
        try:
            await upsert_scram(self.admin, {self.security["sasl_plain_username"]: "taken-over-123456"})
            return True
        except KafkaAdminError as exc:
            assert "AuthorizationFailed" in str(exc), exc
            return False


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, kafka_access: KafkaAccess) -> Matrix:
    return Matrix(tmp_path_factory.mktemp("acl"), kafka_access)


class TestAclMatrix:
    async def test_every_identity_against_every_topic_kind_and_operation(self, matrix: Matrix) -> None:
        """For participant, member, central delivery and gateway identities: read, write, describe and create on
        17 kinds of topic, joining 6 consumer groups, and granting themselves rights; what is allowed works,
        everything else fails with an authorisation error. 304 cells."""
        wrong: list[str] = []
        cells = 0

        async def check(kind: str, what: str, expected: bool, attempt: Callable[[], Awaitable[bool]]) -> None:
            nonlocal cells
            cells += 1
            try:
                got = await asyncio.wait_for(attempt(), timeout=30)
            except (TimeoutError, ClusterAuthorizationFailedError) as exc:
                got = None if isinstance(exc, TimeoutError) else False
            if got is not expected:
                wrong.append(f"{kind} {what}: expected {'allowed' if expected else 'refused'}, "
                             f"got {'allowed' if got else 'refused' if got is False else 'no answer'}")

        for kind, (user, _reads, _writes, own_topic) in matrix.identities.items():
            async with Client(matrix.access, user) as client:
                ops: dict[str, Callable[[str], Awaitable[bool]]] = {
                    "describe": client.describe, "read": client.read, "write": client.write, "create": client.create}
                for (topic_kind, topic), (operation, attempt) in itertools.product(matrix.topics.items(), ops.items()):
                    await check(kind, f"{operation} {topic_kind} ({topic})", matrix.may(kind, operation, topic_kind),
                                lambda a=attempt, t=topic: a(t))
                for group in matrix.groups:
                    await check(kind, f"group {group}", matrix.may_join(kind, group),
                                lambda g=group: client.join(g, matrix.topics[own_topic]))
                await check(kind, "create an ACL", False, client.grant_itself)
                await check(kind, "set a SCRAM password", False, client.set_a_password)

        print(f"\nACL matrix: {cells} cells checked, {len(wrong)} wrong")
        assert cells == 4 * (17 * 4 + 6 + 2) == 304
        assert not wrong, "\n".join(wrong)

    async def test_transactional_ids(self, matrix: Matrix) -> None:
        """Only the gateway may initialise (and so fence) the gateway's transactional ids, only M1's delivery
        identities M1's; a participant none. 12 cells."""
        ids = {"gateway": f"{matrix.group_id}.tx.{matrix.topics['submit.own']}.0",
               "member+delivery": delivery_transactional_id(M1), "other member": delivery_transactional_id(M2)}
        wrong = []
        for kind, (user, *_rest) in matrix.identities.items():
            for owner, txn_id in ids.items():
                expected = owner == kind or (owner == "member+delivery" and kind in ("member", "delivery"))
                got = await asyncio.wait_for(matrix.init_transactions(user, txn_id), timeout=60)
                if got is not expected:
                    wrong.append(f"{kind} transactional id {txn_id}: expected {'allowed' if expected else 'refused'}")
        assert not wrong, "\n".join(wrong)

    async def test_the_lists_of_topics_each_identity_sees(self, matrix: Matrix) -> None:
        """Listing topics shows an identity only those it may use: nobody learns the other participants'."""
        for kind, (user, reads, writes, _own) in matrix.identities.items():
            admin = AIOKafkaAdminClient(bootstrap_servers=matrix.access.bootstrap, **matrix.access.security(user))
            await admin.start()
            try:
                seen = set(await admin.list_topics()) & set(matrix.topics.values())
            finally:
                await admin.close()
            assert seen == {matrix.topics[k] for k in reads | writes}, kind

    async def test_anonymous_and_wrong_password_cannot_connect(self, matrix: Matrix) -> None:
        """A client without credentials, or with another identity's password, is refused at the door."""
        from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

        wrong: dict[str, Any] = {**matrix.access.security(matrix.p1), "sasl_plain_password": "not-the-password"}
        for options in ({}, wrong):
            admin = AIOKafkaAdminClient(bootstrap_servers=matrix.access.bootstrap, **options, request_timeout_ms=5000)
            with pytest.raises((KafkaConnectionError, SaslAuthenticationFailed, TimeoutError)):
                await asyncio.wait_for(admin.start(), timeout=20)
            await admin.close()
