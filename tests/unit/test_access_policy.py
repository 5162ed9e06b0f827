"""The ACLs each identity gets from the network configuration (no broker here: see test_acl_matrix for that)."""

from __future__ import annotations

import pytest

from gateway.access.identities import DELIVERY, GATEWAY, member_identity
from gateway.access.kafka_admin import AclBinding, salted_password
from gateway.access.policy import plan_access
from gateway.config import GatewaySettings
from gateway.errors import ConfigError


def settings(**extra: object) -> GatewaySettings:
    return GatewaySettings(**{
        "participants": {"fj-broker": {"name": "a"}, "nz-link": {"name": "b"}},
        "members": {"FJ": {"name": "Fiji", "submitters": ["fj-broker", "nz-link"],
                           "adapter": {"name": "asycuda", "settings": {"url": "http://x"}}},
                    "NZ": {"name": "New Zealand", "submitters": ["nz-link"]}},
        **extra})


def grants(plan_acls: set[AclBinding]) -> set[tuple[str, str, str, str]]:
    return {(a.resource, a.name + ("*" if a.pattern == "PREFIXED" else ""), a.operation, a.permission)
            for a in plan_acls}


class TestIdentities:
    def test_one_identity_per_participant_member_gateway_and_central_delivery(self) -> None:
        """Participants by id, members as member-<m>, the gateway, and oco-delivery for members with an adapter."""
        plan = plan_access(settings())
        assert {(i.name, i.kind) for i in plan.identities} == {
            ("fj-broker", "participant"), ("nz-link", "participant"), ("member-fj", "member"),
            ("member-nz", "member"), (GATEWAY, "gateway"), (DELIVERY, "delivery")}

    def test_participant_id_taking_a_role_name_is_refused(self) -> None:
        """A participant called oco-gateway or member-xx would get that role's name: refused."""
        bad = GatewaySettings(participants={"oco-gateway": {"name": "x"}}, members={})
        with pytest.raises(ConfigError, match="oco-gateway.*rename"):
            plan_access(bad)


class TestGrants:
    def test_participant_writes_its_submit_topic_and_reads_its_replies_only(self) -> None:
        """Exactly: write oco.submit.P, read oco.reply.P, groups P.*"""
        plan = plan_access(settings())
        assert grants(plan.acls_of("fj-broker")) == {
            ("TOPIC", "oco.submit.fj-broker", "WRITE", "ALLOW"), ("TOPIC", "oco.reply.fj-broker", "READ", "ALLOW"),
            ("GROUP", "fj-broker.*", "READ", "ALLOW")}

    def test_member_delivery_and_trusted_traders(self) -> None:
        """A member reads its own delivery topics, answers its submitters, and publishes only its AEO topics."""
        got = grants(plan_access(settings()).acls_of(member_identity("NZ")))
        assert {("TOPIC", "oco.deliver.NZ", "READ", "ALLOW"), ("TOPIC", "oco.deliver.NZ.priority", "READ", "ALLOW"),
                ("TOPIC", "oco.retry.NZ", "READ", "ALLOW"), ("TOPIC", "oco.retry.NZ", "WRITE", "ALLOW"),
                ("TOPIC", "oco.reply.nz-link", "WRITE", "ALLOW"), ("TOPIC", "oco.dlq", "WRITE", "ALLOW"),
                ("GROUP", "oco-deliver-NZ", "READ", "ALLOW"), ("TOPIC", "oco.aeo.NZ", "WRITE", "ALLOW"),
                ("TOPIC", "oco.aeo.NZ.to.*", "WRITE", "ALLOW"), ("TOPIC", "oco.aeo.FJ.to.NZ", "READ", "ALLOW"),
                ("TOPIC", "oco.aeo.FJ", "READ", "ALLOW")} <= got
        assert not [g for g in got if "FJ" in g[1] and g[2] == "WRITE"]  # nothing of Fiji's to write
        assert ("TOPIC", "oco.reply.fj-broker", "WRITE", "ALLOW") not in got  # not NZ's submitter
        assert ("TOPIC", "oco.aeo.FJ.to.FJ", "READ", "ALLOW") not in got  # another member's details

    def test_gateway_has_no_create_and_no_participant_reads(self) -> None:
        """The gateway reads submit and public AEO topics, writes outputs, owns its two groups, creates nothing."""
        got = grants(plan_access(settings()).acls_of(GATEWAY))
        assert ("TOPIC", "oco.submit.fj-broker", "READ", "ALLOW") in got
        assert ("GROUP", "oco-gateway-aeo-audit", "READ", "ALLOW") in got
        assert not [g for g in got if g[2] in ("CREATE", "ALTER", "DELETE", "ALL")]
        assert not [g for g in got if g[1].startswith("oco.reply.") and g[2] == "READ"]
        assert not [g for g in got if ".to." in g[1]]

    def test_transactional_ids(self) -> None:
        """The gateway may use the transactional ids <group_id>.tx.*, each delivery identity oco-deliver-<M>.tx of
        the members it delivers for; participants none."""
        plan = plan_access(settings(kafka={"group_id": "gw"}))

        def ids(identity: str) -> set[str]:
            return {g[1] for g in grants(plan.acls_of(identity)) if g[0] == "TRANSACTIONAL_ID" and g[2] == "WRITE"}

        assert ids(GATEWAY) == {"gw.tx.*"}
        assert ids(DELIVERY) == {"oco-deliver-FJ.tx"}
        assert ids(member_identity("NZ")) == {"oco-deliver-NZ.tx"}
        assert ids("fj-broker") == set()

    def test_central_delivery_serves_only_members_with_an_adapter(self) -> None:
        """oco-delivery gets FJ's delivery (an adapter) but not NZ's (delivered at NZ's own site)."""
        got = grants(plan_access(settings()).acls_of(DELIVERY))
        assert ("GROUP", "oco-deliver-FJ", "READ", "ALLOW") in got
        assert not [g for g in got if "NZ" in g[1]]

    def test_partner_importer_writes_the_partners_topics(self) -> None:
        """The member importing an MRA partner's files publishes that partner's AEO topics."""
        plan = plan_access(settings(aeo={"partners": {"US": {"name": "CBP", "recognised_by": ["NZ"],
                                                               "importer": "NZ"}}}))
        assert ("TOPIC", "oco.aeo.US", "WRITE", "ALLOW") in grants(plan.acls_of(member_identity("NZ")))
        assert ("TOPIC", "oco.aeo.US", "WRITE", "ALLOW") not in grants(plan.acls_of(member_identity("FJ")))
        assert "oco.aeo.US.to.NZ" in plan.topics and plan.topics["oco.aeo.US.to.NZ"] is True

    def test_every_topic_of_the_network_is_planned(self) -> None:
        """Provision creates the retry topics too; AEO topics are compacted, the others not."""
        topics = plan_access(settings()).topics
        assert {"oco.dlq", "oco.submit.fj-broker", "oco.reply.nz-link", "oco.deliver.FJ.priority",
                "oco.retry.NZ", "oco.aeo.FJ.to.NZ"} <= set(topics)
        assert topics["oco.aeo.FJ"] and not topics["oco.retry.NZ"]


def test_salted_password_is_rfc5802_hi() -> None:
    """SCRAM's SaltedPassword: RFC 7677's SCRAM-SHA-256 test vector (user, pencil, 4096 iterations)."""
    import base64

    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    salted = salted_password("pencil", salt, 4096)
    import hashlib
    import hmac

    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    assert base64.b64encode(stored_key).decode() == "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
