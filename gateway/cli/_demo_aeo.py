"""The demo's trusted-trader part: members issue AEO statuses, a forged event is refused, and a recognised
trader's declaration overtakes a backlog at one member."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from contextlib import AsyncExitStack
from datetime import date, timedelta
from pathlib import Path

import click
import yaml
from aiokafka import AIOKafkaProducer

from gateway import headers as h
from gateway.access.identities import member_identity
from gateway.access.local import LocalAccess
from gateway.aeo.document import write_event
from gateway.aeo.feed import AeoPublisher
from gateway.aeo.issuing import change_status, grant
from gateway.aeo.signing import SigningKey, load_signing_key
from gateway.aeo.status import Address, TraderStatus
from gateway.config import GatewaySettings
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import DEAD_LETTER, aeo_topic
from gateway.transport.client import ParticipantClient, TopicTail

__all__ = ["make_keys", "trusted_traders"]

# (issuer, trader, category, name, city, consent); the last one is suspended after its grant.
_TRADERS = [
    ("FJ", "FJ0012345", "AEOF", "Pacific Freight Ltd", "Suva", ("NZ",)),
    ("WS", "WS0000042", "AEOS", "Apia Exports Ltd", "Apia", ("FJ", "NZ")),
    ("NZ", "NZ9876543", "AEOC", "TradeLink NZ Ltd", "Auckland", ()),
    ("TO", "TO0000777", "AEOF", "Nuku'alofa Trading Co.", "Nuku'alofa", ()),
]


def make_keys(members: list[str], state: Path) -> Path:
    """Make a signing key per member (files under ``state/aeo-keys``) and the trust store; return its path."""
    keys_dir = state / "aeo-keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    trust: dict[str, list[dict[str, object]]] = {}
    for member in members:
        path = keys_dir / f"{member}.key"
        path.unlink(missing_ok=True)  # a demo starts from scratch: its broker state is new too
        key = SigningKey.generate(member)
        key.write(path)
        trust[member] = [key.trusted_key().model_dump()]
    store = state / "aeo-trust.yaml"
    store.write_text("# Public keys made by `oco-gateway demo`; the private halves are in aeo-keys/.\n"
                     + yaml.safe_dump(trust))
    return store


def _view(port: int, trader: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/aeo/{trader}", timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError:
        return None


async def _shown(port: int, trader: str, sequence: int, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = await asyncio.to_thread(_view, port, trader)
        if view and int(view["sequence"]) >= sequence:  # type: ignore[call-overload]
            return view
        await asyncio.sleep(0.05)
    raise click.ClickException(f"the gateway never showed {trader} #{sequence}")


async def trusted_traders(settings: GatewaySettings, access: LocalAccess, gateway_port: int, state: Path,
                          backlog: int) -> None:
    """Issue statuses, refuse a forgery, and show a recognised declaration overtaking a backlog.

    Each administration publishes with its own Kafka identity (``member-<m>``): the broker lets it write only
    its own trusted-trader topics.
    """
    keys = {m: load_signing_key(state / "aeo-keys" / f"{m}.key") for m in sorted(settings.members)}
    today = date.today()
    bootstrap = access.bootstrap
    click.echo("\ntrusted traders: each administration signs the statuses it issues "
               "(keys in .state/demo/aeo-keys, trust store .state/demo/aeo-trust.yaml)")
    producers = {m: AIOKafkaProducer(bootstrap_servers=bootstrap, **access.security(member_identity(m)), acks="all")
                 for m in keys}
    for started_producer in producers.values():
        await started_producer.start()
    producer = producers["FJ"] if "FJ" in producers else next(iter(producers.values()))
    issued: dict[str, TraderStatus] = {}
    try:
        for issuer, trader, category, name, city, consent in _TRADERS:
            if issuer not in keys:
                continue
            publisher = AeoPublisher(producers[issuer], settings.members)
            event = grant(keys[issuer], trader_id=trader, category=category, effective=today - timedelta(days=90),
                          expiry=today + timedelta(days=3 * 365), name=name, address=Address("1 Wharf Road", city, issuer),
                          consent=consent)
            started = time.perf_counter()
            await publisher.publish(event)
            issued[trader] = event
            if trader.startswith("TO"):
                suspended = change_status(keys[issuer], event, "suspended")
                await publisher.publish(suspended, event)
                issued[trader] = suspended
            view = await _shown(gateway_port, trader, issued[trader].sequence)
            click.echo(f"  {issuer} issued {trader} {category} {view['status']:<9} → the gateway knew in "
                       f"{(time.perf_counter() - started) * 1000:4.0f} ms; recognised by: "
                       f"{', '.join(view['recognised_by']) or 'nobody (not active)'}")  # type: ignore[arg-type]

        # A forgery: FJ0012345 "revoked", signed by a key no trust store lists, written by someone holding FJ's
        # Kafka credentials (the broker lets nobody else write oco.aeo.FJ): the signature still stops it.
        forged = change_status(SigningKey.generate("FJ", "FJ-stolen"), issued["FJ0012345"], "revoked")
        dlq = TopicTail(bootstrap, DEAD_LETTER, security=access.admin)
        await dlq.start()
        try:
            await producer.send_and_wait(aeo_topic("FJ"), write_event(forged, with_details=False), key=b"FJ0012345")
            await dlq.wait_until(lambda: any(h.AEO_REFUSAL in dict(r.headers) and r.key == b"FJ0012345"
                                             for rs in dlq.history.values() for r in rs), timeout=30)
            parked = next((r for rs in dlq.history.values() for r in rs if r.key == b"FJ0012345"), None)
        finally:
            await dlq.stop()
        still = await asyncio.to_thread(_view, gateway_port, "FJ0012345")
        if parked is not None:
            hd = {k: v.decode() for k, v in parked.headers}
            click.echo(f"  a forged 'revoked' for FJ0012345 was refused ({hd[h.AEO_REFUSAL]}: "
                       f"{hd.get(h.DLQ_EXCEPTION_MESSAGE, '')[:80]}), parked in {DEAD_LETTER}; "
                       f"the registry still says {still and still['status']}")
    finally:
        for started_producer in producers.values():
            await started_producer.stop()
    await _overtake(settings, access, backlog)


async def _overtake(settings: GatewaySettings, access: LocalAccess, backlog: int) -> None:
    member = "FJ" if "FJ" in settings.members else sorted(settings.members)[0]
    participant = settings.members[member].submitters[0]
    click.echo(f"\npriority lane: {backlog} ordinary declarations for {member}, then one naming WS0000042 (AEOS, "
               f"recognised by {member}) and one naming the suspended TO0000777 ...")
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(ParticipantClient(access.bootstrap, participant,
                                                                   security=access.security(participant)))
        ordinary = []
        for n in range(backlog):
            tid, ack = await client.send(make_declaration(member=member, lrn=f"DEMO-BACKLOG-{n:04d}", seed=n))
            ordinary.append(tid)
        await ack
        aeo_tid = await client.submit(make_declaration(member=member, lrn="DEMO-AEO-0001", seed=7,
                                                       aeo=[("WS0000042", "AEOS")]))
        suspended_tid = await client.submit(make_declaration(member=member, lrn="DEMO-AEO-0002", seed=8,
                                                             aeo=[("TO0000777", "AEOF")]))
        finals = await client.final_replies({aeo_tid, suspended_tid, *ordinary}, timeout=300)
        history = client._replies.history  # noqa: SLF001 - arrival order of the final answers is the point

    def final_at(tid: str) -> float:
        return next((r.timestamp for r in history.get(tid, ()) if dict(r.headers).get(h.STATUS) != b"received"),
                    float("inf"))

    aeo_done = final_at(aeo_tid)
    before = sum(1 for t in ordinary if final_at(t) < aeo_done)
    received = read_response(finals[aeo_tid][0])
    remark = received.statement("AEO")
    click.echo(f"  DEMO-AEO-0001 → {remark.code if remark else '?'}: {remark.description if remark else ''}")
    click.echo(f"  it was registered while {backlog - before} of the {backlog} ordinary declarations submitted "
               f"before it still waited ({before} were done before it reached the lane)")
    other = read_response(finals[suspended_tid][0]).statement("AEO")
    click.echo(f"  DEMO-AEO-0002 → {other.code if other else '?'}: {other.description if other else ''}")
