"""``oco-gateway demo``: start Kafka, national simulators, the gateway and delivery; submit a mixed batch."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path

import click
import yaml

from gateway.cli._demo_aeo import make_keys, trusted_traders
from gateway.cli._demo_cases import Case, make_cases, print_summary
from gateway.config import load_settings
from gateway.errors import GatewayError
from gateway.ops.broker import LocalBroker, free_ports
from gateway.ops.process import ChildProcess, GatewayProcess
from gateway.responses import ResponseSummary, read_response
from gateway.topics import DEAD_LETTER, submit_topic
from gateway.transport.client import ParticipantClient, TopicTail

__all__ = ["demo"]

_REPO = Path(__file__).resolve().parents[2]


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=_REPO / "config" / "network.yaml", show_default=True, help="Network configuration.")
@click.option("--simulators", "simulators_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=_REPO / "config" / "demo.yaml", show_default=True, help="National simulators to start.")
@click.option("--count", default=40, show_default=True, help="Valid declarations to submit (bad ones are added).")
@click.option("--backlog", default=150, show_default=True,
              help="Ordinary declarations a recognised trader's declaration overtakes (0 skips the AEO part).")
def demo(config_path: Path, simulators_path: Path, count: int, backlog: int) -> None:
    """Start everything, submit valid, invalid and malformed declarations for several members, and print
    what became of them: validated, registered by the national system, rejected or dead-lettered. Then
    members issue trusted-trader statuses, a forged one is refused, and a recognised trader's declaration
    overtakes a backlog."""
    settings = load_settings(config_path)
    broker = LocalBroker(insecure=True)
    state = broker.state_dir.parent / "demo"
    click.echo(f"starting Kafka ({broker.bootstrap_servers}, state in {broker.state_dir}) ...")
    broker.start()
    cases = make_cases(settings.members, count)
    trust_store = make_keys(sorted(settings.members), state)
    with ExitStack() as running:
        try:
            for sim in yaml.safe_load(simulators_path.read_text())["simulators"]:
                click.echo(f"starting {sim['name']} ...")
                child = ChildProcess([str(a) for a in sim["args"]], ready_url=sim["ready"],
                                     log_path=state / f"{sim['args'][1]}-{sim['args'][3]}.log")
                running.enter_context(child)
            gateway_port, delivery_port = free_ports(2)
            for name, command, port in (("gateway", ("run",), gateway_port),
                                        ("delivery workers", ("deliver",), delivery_port)):
                click.echo(f"starting the {name} ...")
                running.enter_context(GatewayProcess(config_path, bootstrap_servers=broker.bootstrap_servers,
                                                     metrics_port=port, log_path=state / f"{command[0]}.log",
                                                     command=command,
                                                     env={"OCO_AEO__TRUST_STORE": str(trust_store)}))
            answers, parked = asyncio.run(_submit_all(broker.bootstrap_servers, cases))
            unanswered = print_summary(cases, answers, parked, settings.members)
            if backlog > 0:
                asyncio.run(trusted_traders(settings, broker.bootstrap_servers, gateway_port, state, backlog))
        except GatewayError as exc:
            raise click.ClickException(str(exc)) from exc
    _print_kcat(broker.bootstrap_servers, cases)
    if unanswered:
        raise click.ClickException(f"{unanswered} submissions got no final answer; logs in {state}")


async def _submit_all(bootstrap: str, cases: list[Case]) -> tuple[dict[int, list[ResponseSummary]], set[int]]:
    """Submit every case as its participant; collect every reply and the dead-letter copies."""
    dlq = TopicTail(bootstrap, DEAD_LETTER)
    await dlq.start()
    answers: dict[int, list[ResponseSummary]] = {}
    sent: dict[str, int] = {}
    try:
        async with AsyncExitStack() as stack:
            clients = {p: await stack.enter_async_context(ParticipantClient(bootstrap, p))
                       for p in sorted({c.participant for c in cases})}
            for i, case in enumerate(cases):
                sent[await clients[case.participant].submit(case.payload)] = i
            click.echo(f"submitted {len(cases)} declarations; waiting for the national systems' answers ...")
            for client in clients.values():
                mine = {t for t, i in sent.items() if cases[i].participant == client.participant}
                for tid, replies in (await client.final_replies(mine, timeout=90)).items():
                    answers[sent[tid]] = [read_response(r) for r in replies]
        await dlq.wait_for({t for t, i in sent.items() if cases[i].kind == "malformed"}, timeout=10)
    finally:
        await dlq.stop()
    return answers, {sent[t] for t in dlq.records if t in sent}


def _print_kcat(bootstrap: str, cases: list[Case]) -> None:
    participant, member = cases[0].participant, cases[0].member
    fmt = r"'%t[%p]@%o key=%k\n  headers: %h\n  %S bytes\n'"
    click.echo(f"""
watch the topics with kcat (Kafka keeps running; stop it with `oco-gateway broker stop`):
  kcat -b {bootstrap} -L                                   # every topic
  kcat -b {bootstrap} -C -t {submit_topic(participant)} -e -f {fmt}
  kcat -b {bootstrap} -C -t oco.deliver.{member} -e -f {fmt}
  kcat -b {bootstrap} -C -t oco.reply.{participant} -e -f '%h\\n%s\\n\\n'
  kcat -b {bootstrap} -C -t {DEAD_LETTER} -e -f '%h\\n'
  oco-gateway dlq list                                     # the same, for people""")
