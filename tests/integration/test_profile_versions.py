"""HMRC DMS 2.x and 3.x side by side on the real broker: each participant gets its own version's verdict.

The running gateway loads this network's own profiles folder (OCO's, HMRC's 3.x and 2.x, from ``../shared``)
and ``profile_versions`` says that ``gb-legacy`` still submits DMS 2.x while everyone else moved to 3.x.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from gateway import headers as h
from gateway.access.identities import GATEWAY
from gateway.ops.broker import free_ports
from gateway.ops.process import GatewayProcess
from gateway.responses import read_response
from gateway.topics import deliver_topic, submit_topic
from gateway.transport.client import ParticipantClient, TopicTail
from tests.conftest import KafkaAccess
from tests.integration.test_main_path import headers_of, submit_and_follow
from tests.unit.test_hmrc_versions import BOTH, MISSING, NEWER, SHARED, profiles_folder

pytestmark = [pytest.mark.kafka]

_SEQ = itertools.count()


class HmrcNetwork:
    """A network of its own with member GB, a DMS 2.x participant and a DMS 3.x one, provisioned on the broker."""

    def __init__(self, tmp_path: Path, access: KafkaAccess) -> None:
        n = next(_SEQ)
        self.access = access
        self.bootstrap = access.bootstrap
        self.legacy, self.modern, self.switching = f"p{n}-gb-legacy", f"p{n}-gb-modern", f"p{n}-gb-switching"
        today = dt.datetime.now(dt.UTC).date()
        self.path = tmp_path / "network.yaml"
        self.path.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": self.bootstrap, "group_id": f"gw-versions-{n}"},
            "profiles_dir": str(profiles_folder(tmp_path)),
            "profile_versions": ["hmrc-dms"],
            "participants": {self.legacy: {"name": "Legacy", "profile_versions": ["hmrc-dms-v2"]},
                             self.modern: {"name": "Modern"},
                             # Moves to 3.x today: a cut-over a submitter must not dodge by backdating.
                             self.switching: {"name": "Switching", "profile_versions": [
                                 "hmrc-dms-v2", {"profile": "hmrc-dms", "from": today.isoformat()}]}},
            "members": {"GB": {"name": "United Kingdom",
                               "submitters": [self.legacy, self.modern, self.switching]}},
        }))
        access.provision(self.path)

    @property
    def admin(self) -> dict[str, object]:
        """The super user's client options, for the test's own observers."""
        return self.access.admin

    def identity(self, name: str) -> dict[str, object]:
        """A participant's client options."""
        return self.access.security(name)


@pytest.fixture(scope="module")
def hmrc_network(tmp_path_factory: pytest.TempPathFactory, kafka_access: KafkaAccess) -> HmrcNetwork:
    assert SHARED.is_dir(), MISSING
    return HmrcNetwork(tmp_path_factory.mktemp("hmrc-network"), kafka_access)


@pytest.fixture(scope="module")
def hmrc_gateway(hmrc_network: HmrcNetwork, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(hmrc_network.path, bootstrap_servers=hmrc_network.bootstrap,
                             metrics_port=free_ports(1)[0], log_path=tmp_path_factory.mktemp("gw") / "gateway.log",
                             env=hmrc_network.access.env(GATEWAY))
    process.start()
    try:
        yield process
    finally:
        process.stop()


class TestHmrcVersionsOnTheBroker:
    async def test_each_participant_gets_the_verdict_of_its_version(self, hmrc_network: HmrcNetwork,
                                                                    hmrc_gateway: GatewayProcess) -> None:
        """The same 3.x-only declaration is delivered from the 3.x participant and rejected from the 2.x one;
        a declaration both versions accept is delivered from both, each tagged with its own profile."""
        topic = deliver_topic("GB")
        verdicts = {}
        for participant in (hmrc_network.modern, hmrc_network.legacy):
            ids, replies, seen = await submit_and_follow(hmrc_network, participant,
                                                         [NEWER.read_bytes(), BOTH.read_bytes()], [topic])
            newer, both = (read_response(replies[t]) for t in ids)
            delivered = {t: headers_of(record)[h.PROFILE] for t, record in seen[topic].items()}
            verdicts[participant] = (newer.status, both.status, [delivered.get(t) for t in ids],
                                     all(i.code.startswith("SCHEMAV_") for i in newer.issues))
        assert verdicts[hmrc_network.modern] == ("received", "received", ["hmrc-dms", "hmrc-dms"], True)
        assert verdicts[hmrc_network.legacy] == ("rejected", "received", [None, "hmrc-dms-v2"], True)

    async def test_a_backdated_submission_gets_the_version_due_when_the_broker_took_it(
            self, hmrc_network: HmrcNetwork, hmrc_gateway: GatewayProcess) -> None:
        """A participant that moves to 3.x today sends a 3.x-only declaration stamped two days ago by its
        producer: the submit topic is broker-stamped (LogAppendTime), so the cut-over compares with today and
        the declaration is read as 3.x and delivered, not judged by 2.x."""
        participant, topic = hmrc_network.switching, deliver_topic("GB")
        tracking_id = str(uuid.uuid4())
        backdated = int((dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).timestamp() * 1000)
        tail = TopicTail(hmrc_network.bootstrap, topic, security=hmrc_network.admin)
        await tail.start()
        try:
            async with ParticipantClient(hmrc_network.bootstrap, participant,
                                         security=hmrc_network.identity(participant)) as client:
                producer = AIOKafkaProducer(bootstrap_servers=hmrc_network.bootstrap, acks="all",
                                            **hmrc_network.identity(participant))
                await producer.start()
                try:
                    sent = await producer.send_and_wait(submit_topic(participant), NEWER.read_bytes(),
                                                        timestamp_ms=backdated,
                                                        headers=[(h.TRACKING_ID, tracking_id.encode())])
                finally:
                    await producer.stop()
                replies = await client.replies({tracking_id}, timeout=60)
            seen = await tail.wait_for({tracking_id}, timeout=10)
        finally:
            await tail.stop()
        assert sent.timestamp != backdated, "the submit topic kept the producer's timestamp"
        assert read_response(replies[tracking_id]).status == "received"
        assert headers_of(seen[tracking_id])[h.PROFILE] == "hmrc-dms"
