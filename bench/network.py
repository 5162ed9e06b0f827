"""The benchmark's own network: three members, three participants, written as the gateway's YAML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from bench.kafka_io import network_kafka

__all__ = ["DELIVERY_MEMBERS", "MEMBERS", "PARTICIPANTS", "allowed_pairs", "delivery_participant", "write_network",
           "write_delivery_network"]

# Member code -> (name, participants allowed to submit for it); shaped like config/network.yaml, but with
# ids of its own so a benchmark never shares topics with a demo broker.
MEMBERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "FJ": ("Fiji Revenue and Customs Service", ("bench-fj-broker", "bench-nz-tradelink")),
    "WS": ("Samoa Ministry of Customs and Revenue", ("bench-ws-broker", "bench-nz-tradelink")),
    "NZ": ("New Zealand Customs Service", ("bench-nz-tradelink",)),
}
PARTICIPANTS: tuple[str, ...] = ("bench-fj-broker", "bench-nz-tradelink", "bench-ws-broker")

# The per-member delivery phase: three members with an ASYCUDA World each, one submitter per member (so each
# member's replies come on a topic of their own). Participants of its own: its replies never mix with the
# gateway phases'.
DELIVERY_MEMBERS: dict[str, str] = {
    "FJ": "Fiji Revenue and Customs Service",
    "WS": "Samoa Ministry of Customs and Revenue",
    "TO": "Tonga Customs and Trade",
}


def allowed_pairs() -> list[tuple[str, str]]:
    """Return every (participant, member) pair the network authorises, in a stable order."""
    return [(p, code) for code, (_, submitters) in sorted(MEMBERS.items()) for p in submitters]


def write_network(path: Path, *, bootstrap_servers: str, group_id: str) -> Path:
    """Write the network configuration the gateway under test runs with; return its path.

    Args:
        path: the YAML file to write.
        bootstrap_servers: the benchmark broker.
        group_id: the gateway's consumer group, unique per run so offsets never carry over.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap_servers, "group_id": group_id, **network_kafka()},
        "participants": {p: {"name": p} for p in PARTICIPANTS},
        "members": {code: {"name": name, "submitters": list(submitters)}
                    for code, (name, submitters) in MEMBERS.items()},
    }, sort_keys=False))
    return path


def delivery_participant(member: str) -> str:
    """Return the participant that submits for ``member`` in the per-member delivery phase.

    Args:
        member: a code of :data:`DELIVERY_MEMBERS`.
    """
    return f"bench-{member.lower()}-trader"


def write_delivery_network(path: Path, *, bootstrap_servers: str, group_id: str, urls: dict[str, str],
                           rate_per_second: float, concurrency: int | None = None,
                           members: Sequence[str] | None = None) -> Path:
    """Write the network of the per-member delivery phase: each member delivered to over HTTP; return the path.

    Args:
        path: the YAML file to write.
        bootstrap_servers: the benchmark broker.
        group_id: the gateway's consumer group, unique per run.
        urls: member code -> base URL of its ASYCUDA World simulator.
        rate_per_second: every member's delivery rate limit; set far above what a member can take, so the
            limit is not what the phase measures.
        concurrency: every member's national calls in flight at most; None leaves the gateway's default.
        members: the members of :data:`DELIVERY_MEMBERS` to include; all by default.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    chosen = {m: DELIVERY_MEMBERS[m] for m in (members if members is not None else DELIVERY_MEMBERS)}
    delivery: dict[str, float] = {"rate_per_second": rate_per_second}
    if concurrency is not None:
        delivery["concurrency"] = concurrency
    path.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap_servers, "group_id": group_id, **network_kafka()},
        "participants": {delivery_participant(m): {"name": delivery_participant(m)} for m in chosen},
        "members": {code: {"name": name, "submitters": [delivery_participant(code)],
                           "adapter": {"name": "asycuda", "settings": {"url": urls[code]}},
                           "delivery": dict(delivery)}
                    for code, name in chosen.items()},
    }, sort_keys=False))
    return path
