"""The benchmark's own network: three members, three participants, written as the gateway's YAML."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["MEMBERS", "PARTICIPANTS", "allowed_pairs", "write_network"]

# Member code -> (name, participants allowed to submit for it); shaped like config/network.yaml, but with
# ids of its own so a benchmark never shares topics with a demo broker.
MEMBERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "FJ": ("Fiji Revenue and Customs Service", ("bench-fj-broker", "bench-nz-tradelink")),
    "WS": ("Samoa Ministry of Customs and Revenue", ("bench-ws-broker", "bench-nz-tradelink")),
    "NZ": ("New Zealand Customs Service", ("bench-nz-tradelink",)),
}
PARTICIPANTS: tuple[str, ...] = ("bench-fj-broker", "bench-nz-tradelink", "bench-ws-broker")


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
        "kafka": {"bootstrap_servers": bootstrap_servers, "group_id": group_id},
        "participants": {p: {"name": p} for p in PARTICIPANTS},
        "members": {code: {"name": name, "submitters": list(submitters)}
                    for code, (name, submitters) in MEMBERS.items()},
    }, sort_keys=False))
    return path
