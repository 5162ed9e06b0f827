"""``oco-gateway demo``: start a broker and the gateway, submit a mixed batch, print what became of it."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

from gateway.config import load_settings
from gateway.errors import GatewayError
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import GatewayProcess
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.topics import DEAD_LETTER, submit_topic
from gateway.transport.client import ParticipantClient, TopicTail

__all__ = ["demo"]

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class _Case:
    participant: str
    member: str  # the member the submitter meant, also for messages the gateway cannot read
    kind: str
    payload: bytes


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=_REPO / "config" / "network.yaml", show_default=True, help="Network configuration.")
@click.option("--count", default=40, show_default=True, help="Valid declarations to submit (invalid ones are added).")
def demo(config_path: Path, count: int) -> None:
    """Start the broker and gateway, submit valid, invalid and malformed declarations for several members,
    and print a per-member summary."""
    settings = load_settings(config_path)
    broker = LocalBroker()
    click.echo(f"starting Kafka ({broker.bootstrap_servers}, state in {broker.state_dir}) ...")
    broker.start()
    gateway = GatewayProcess(config_path, bootstrap_servers=broker.bootstrap_servers, metrics_port=free_ports(1)[0],
                             log_path=broker.state_dir.parent / "demo-gateway.log")
    click.echo("starting the gateway ...")
    try:
        gateway.start()
        cases = _cases(settings.members, count)
        outcome = asyncio.run(_submit_all(broker.bootstrap_servers, cases))
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        gateway.stop()
    _print_summary(cases, outcome, settings.members)
    _print_kcat(broker.bootstrap_servers, cases)


def _cases(members: dict, count: int) -> list[_Case]:
    rng = random.Random(2026)
    pairs = [(p, code) for code, m in sorted(members.items()) for p in m.submitters]
    cases = []
    for n in range(count):
        participant, member = pairs[n % len(pairs)]
        aeo = [(f"{member}AEO{rng.randint(1000, 9999)}", "AEOF")] if n % 3 == 0 else []
        payload = make_declaration(member=member, lrn=f"DEMO-{member}-{n:04d}", items=rng.randint(1, 30),
                                   aeo=aeo, seed=n)
        cases.append(_Case(participant, member, "valid", payload))
    for n, (participant, member) in enumerate(pairs[:4]):
        good = make_declaration(member=member, lrn=f"DEMO-BAD-{n}", items=2, seed=1000 + n)
        # Schema-invalid: an LRN longer than the 35 characters WCO allows.
        cases.append(_Case(participant, member, "invalid",
                           good.replace(f"DEMO-BAD-{n}".encode(), b"X" * 40, 1)))
        # Malformed: cut in the middle, as a broken upload would be.
        cases.append(_Case(participant, member, "malformed", good[: len(good) // 2]))
    participant, member = pairs[0]
    other = next(code for code in sorted(members) if participant not in members[code].submitters)
    cases.append(_Case(participant, other, "not authorised",
                       make_declaration(member=other, lrn="DEMO-NOT-MINE", items=1, seed=9)))
    cases.append(_Case(participant, "ZZ", "unknown member",
                       make_declaration(member="ZZ", lrn="DEMO-NOWHERE", items=1, seed=10)))
    return cases


async def _submit_all(bootstrap: str, cases: list[_Case]) -> dict[int, tuple[str, bool]]:
    """Submit every case; return for each its reply status and whether it was dead-lettered."""
    dlq = TopicTail(bootstrap, DEAD_LETTER)
    await dlq.start()
    sent: dict[str, int] = {}
    replies: dict[str, bytes] = {}
    try:
        for participant in sorted({c.participant for c in cases}):
            async with ParticipantClient(bootstrap, participant) as client:
                mine = {}
                for i, case in enumerate(cases):
                    if case.participant == participant:
                        mine[await client.submit(case.payload)] = i
                replies.update(await client.replies(set(mine), timeout=60))
                sent.update(mine)
        parked = await dlq.wait_for({t for t, i in sent.items() if cases[i].kind == "malformed"}, timeout=30)
    finally:
        await dlq.stop()
    return {i: (read_response(replies[t]).status if t in replies else "no reply", t in parked)
            for t, i in sent.items()}


def _print_summary(cases: list[_Case], outcome: dict[int, tuple[str, bool]], members: dict) -> None:
    table: dict[str, Counter[str]] = {}
    for i, case in enumerate(cases):
        status, parked = outcome[i]
        row = table.setdefault(case.member, Counter())
        row["submitted"] += 1
        row["accepted" if status == "received" else "rejected" if status == "rejected" else "no reply"] += 1
        row["dead-lettered"] += parked
    click.echo("\nper member (accepted = validated and published to oco.deliver.<member>):")
    click.echo(f"  {'member':<8}{'submitted':>10}{'accepted':>10}{'rejected':>10}{'dead-lettered':>15}  name")
    for code in sorted(table):
        row = table[code]
        name = members[code].name if code in members else "(not an OCO member)"
        click.echo(f"  {code:<8}{row['submitted']:>10}{row['accepted']:>10}{row['rejected']:>10}"
                   f"{row['dead-lettered']:>15}  {name}")
    kinds = Counter((c.kind, outcome[i][0]) for i, c in enumerate(cases))
    click.echo("\nby kind: " + ", ".join(f"{k} → {s}: {n}" for (k, s), n in sorted(kinds.items())))
    missing = sum(1 for s, _ in outcome.values() if s == "no reply")
    if missing:
        raise click.ClickException(f"{missing} submissions got no reply")


def _print_kcat(bootstrap: str, cases: list[_Case]) -> None:
    participant = cases[0].participant
    member = cases[0].member
    fmt = r"'%t[%p]@%o key=%k\n  headers: %h\n  %S bytes\n'"
    click.echo(f"""
watch the topics with kcat (the broker keeps running; stop it with `oco-gateway broker stop`):
  kcat -b {bootstrap} -L                                              # every topic
  kcat -b {bootstrap} -C -t {submit_topic(participant)} -e -f {fmt}
  kcat -b {bootstrap} -C -t oco.deliver.{member} -e -f {fmt}
  kcat -b {bootstrap} -C -t oco.reply.{participant} -e -f '%h\\n%s\\n\\n'
  kcat -b {bootstrap} -C -t {DEAD_LETTER} -e -f '%h\\n'""")
