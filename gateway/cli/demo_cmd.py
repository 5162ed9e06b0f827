"""``oco-gateway demo``: start Kafka, national simulators, the gateway and delivery; submit a mixed batch."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path

import click

from gateway.access.local import LocalAccess
from gateway.cli._demo_aeo import make_keys, trusted_traders
from gateway.cli._demo_cases import Case, make_cases, print_summary
from gateway.cli._local_network import LocalNetwork
from gateway.config import load_settings
from gateway.errors import GatewayError
from gateway.ops.broker import LocalBroker
from gateway.responses import ResponseSummary, read_response
from gateway.topics import DEAD_LETTER, submit_topic
from gateway.transport.client import ParticipantClient, TopicTail

__all__ = ["demo", "print_tools"]

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
    overtakes a backlog.

    Kafka runs secured: provision creates every identity (passwords in .state/secrets) and its ACLs, and
    each process and client runs as its own identity: the gateway, the delivery workers, each participant.
    """
    settings = load_settings(config_path)
    network = LocalNetwork(config_path, simulators_path, settings, {})
    state = network.state
    try:
        access = network.start_kafka()
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    cases = make_cases(settings.members, count)
    network.extra_env["OCO_AEO__TRUST_STORE"] = str(make_keys(sorted(settings.members), state))
    with ExitStack() as running:
        try:
            for name, child in network.processes_to_start():
                click.echo(f"starting {name} ...")
                running.enter_context(child)
            answers, parked = asyncio.run(_submit_all(access, cases))
            unanswered = print_summary(cases, answers, parked, settings.members)
            if backlog > 0:
                asyncio.run(trusted_traders(settings, access, network.gateway_port, state, backlog))
        except GatewayError as exc:
            raise click.ClickException(str(exc)) from exc
    print_tools(network.broker, access, cases[0].participant, cases[0].member)
    click.echo("The gateway and the simulators stopped with the demo; `oco-gateway up` leaves them running.")
    if unanswered:
        raise click.ClickException(f"{unanswered} submissions got no final answer; logs in {state}")


async def _submit_all(access: LocalAccess, cases: list[Case]) -> tuple[dict[int, list[ResponseSummary]], set[int]]:
    """Submit every case as its participant (its own identity); collect every reply and the dead-letter copies
    (read as the administrator: no participant may read oco.dlq)."""
    bootstrap = access.bootstrap
    dlq = TopicTail(bootstrap, DEAD_LETTER, security=access.admin)
    await dlq.start()
    answers: dict[int, list[ResponseSummary]] = {}
    sent: dict[str, int] = {}
    try:
        async with AsyncExitStack() as stack:
            clients = {p: await stack.enter_async_context(ParticipantClient(bootstrap, p, security=access.security(p)))
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


def print_tools(broker: LocalBroker, access: LocalAccess, participant: str, member: str) -> None:
    """Print how to look at the topics and submit, as the administrator or as one of the network's identities."""
    bootstrap, props = broker.bootstrap_servers, broker.admin_properties_file
    tool = f"java -cp '{broker.cache_dir / 'libs'}/*' org.apache.kafka.tools.consumer.ConsoleConsumer"
    click.echo(f"""
Kafka keeps running, secured (stop it with `oco-gateway broker stop`). Look at the topics as the administrator
with Kafka's own console consumer (client settings in {props}):
  {tool} --bootstrap-server {bootstrap} --consumer.config {props} \\
      --topic oco.deliver.{member} --from-beginning --timeout-ms 5000 --property print.headers=true
or as an identity of the network, through the gateway's own commands (passwords in {access.secrets.path}):
  OCO_KAFKA__BOOTSTRAP_SERVERS={bootstrap} OCO_KAFKA__SECRETS_DIR={access.secrets.path} \\
      oco-gateway submit examples/fj-import.xml --as {participant}       # {participant} may only write {submit_topic(participant)}
  OCO_KAFKA__BOOTSTRAP_SERVERS={bootstrap} OCO_KAFKA__USERNAME=oco-admin OCO_KAFKA__PASSWORD_FILE={broker.admin_password_file} \\
      oco-gateway dlq list                                            # {DEAD_LETTER}, for people
(kcat: Debian's, built on librdkafka 2.0, cannot log in to Kafka 4 with SCRAM; librdkafka 2.6.1 and later can.)""")
