"""``oco-gateway aeo ...``: what an administration does with its trusted traders, and the files it exchanges.

    keygen                  make a signing key; print its public half for the trust store
    topics                  create the trusted-trader topics
    issue                   certify a trader (or certify it again after revocation or expiry)
    suspend|revoke|reinstate|expire
                            change a trader's status
    consent                 change whom a trader's name and address are shared with
    resign                  re-sign every trader under the current key (before retiring the old one)
    show TRADER / list      what the registry holds, as one member sees it
    export / import         the signed daily snapshot file of MRA partners (CSV or XML)
    load                    a member's existing national AEO list, one signed grant per row

Each command that publishes checks the event as every gateway will (schema, signature, trust store), publishes
it, and waits until the registry shows it. Exit codes: 0 done, 1 refused or failed, 2 configuration (the
network file, the signing key, the trust store). docs/aeo-commands.md has examples.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from gateway.aeo.exchange import (
    FORMATS,
    read_snapshot,
    read_snapshot_files,
    signature_path,
    write_snapshot,
    write_snapshot_files,
)
from gateway.aeo.feed import aeo_topic_names
from gateway.aeo.issuing import IssueError, change_status, grant, reissue
from gateway.aeo.national import NationalRow, RowProblem, clean_text, read_national_list, split_codes
from gateway.aeo.recognition import RecognitionPolicy
from gateway.aeo.registry import AeoRegistry
from gateway.aeo.signing import SIGNING_KEY_ENV, SigningKey
from gateway.aeo.status import STATUSES, Address, TraderStatus
from gateway.cli._aeo_session import AeoContext, Fail, RegistryView, handled, network_options, refusal_text
from gateway.errors import EventRefused
from gateway.transport.topics import ensure_topics

__all__ = ["aeo"]

KEYS_DIR_ENV = "OCO_AEO_KEYS_DIR"
_DEFAULT_KEYS_DIR = Path(".state") / "aeo-keys"
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def aeo() -> None:
    """Trusted traders (AEO): issue and change statuses, look them up, exchange snapshot files."""


def _member_code(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise click.BadParameter(f"{value!r} is not a two-letter member code such as FJ")
    return value


def _codes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    return None if value is None else split_codes(value)


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


_MEMBER = click.option("--member", required=True, callback=_member_code, help="The issuing member (FJ, WS...).")
_KEY = click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
                    help="Signing key file (default: env OCO_AEO_SIGNING_KEY, the key's JSON or its path).")
_TRADER = click.option("--trader", required=True, help="The trader's AEO code (FJ0012345).")


# ----------------------------------------------------------------------------------------------- keygen, topics

@aeo.command()
@click.option("--member", required=True, callback=_member_code, help="The member (or partner) the key signs for.")
@click.option("--key-id", help="Key id (default: <MEMBER>-<yyyymmdd>-<4 hex>).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder of the private key file (default: ${KEYS_DIR_ENV}, else {_DEFAULT_KEYS_DIR}).")
@handled
def keygen(member: str, key_id: str | None, out_dir: Path | None) -> None:
    """Make a signing key pair: write the private key file, print the public half for the trust store."""
    if key_id is not None and not _KEY_ID.fullmatch(key_id):
        raise click.BadParameter("letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit",
                                 param_hint="--key-id")
    key = SigningKey.generate(member, key_id)
    folder = out_dir or Path(os.environ.get(KEYS_DIR_ENV) or _DEFAULT_KEYS_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{key.key_id}.json"
    try:
        key.write(path)
    except FileExistsError:
        raise Fail(f"{path} already exists; a key file is never overwritten (choose another --key-id or --out)") from None
    snippet = yaml.safe_dump({member: [{"key_id": key.key_id, "public_key": key.public_key}]}, sort_keys=False)
    click.echo(f"# Public key {key.key_id} of {member}: add it under {member} in the trust store (aeo.trust_store)\n"
               f"# of every gateway, and send it to the MRA partners that import {member}'s files.\n{snippet}", nl=False)
    click.echo(f"private key written to {path} (mode 0600). Keep it secret: it never goes into the network file "
               f"or the trust store. Sign with it through --key {path} or {SIGNING_KEY_ENV}={path}.", err=True)


@aeo.command()
@network_options
@handled
def topics(config_path: str | None, bootstrap_servers: str | None, timeout: float) -> None:
    """Create the trusted-trader topics of the network (compacted) when missing."""
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    s = ctx.settings
    names = aeo_topic_names(s.aeo_issuers, s.members)
    created = asyncio.run(ensure_topics(s, names, compacted=True))
    click.echo(f"{len(created)} topic(s) created, {len(names) - len(created)} already there")
    for name in created:
        click.echo(f"  {name}")


# --------------------------------------------------------------------------------------------- issuing events

def _done(status: TraderStatus, seconds: float) -> None:
    assert status.signature is not None
    click.echo(f"{status.trader_id} {status.status} #{status.sequence} ({status.category}, {status.effective} to "
               f"{status.expiry}) signed with key {status.signature.key_id}; in the registry after {seconds:.2f} s")


@aeo.command()
@_MEMBER
@_TRADER
@click.option("--category", required=True, callback=lambda c, p, v: v.upper(),
              type=click.Choice(["AEOC", "AEOS", "AEOF", "aeoc", "aeos", "aeof"]), metavar="[AEOC|AEOS|AEOF]")
@click.option("--effective", type=_DAY, help="First day of validity (YYYY-MM-DD, default today).")
@click.option("--expiry", required=True, type=_DAY, help="Last day of validity (YYYY-MM-DD).")
@click.option("--name", help="The trader's name (shared only with consented members).")
@click.option("--address-line", help="Street address.")
@click.option("--city")
@click.option("--postcode")
@click.option("--country", callback=_member_code, help="Country of the address (default: the member).")
@click.option("--consent", callback=_codes, help="Members (and partners) that may see name and address: NZ,WS.")
@_KEY
@network_options
@handled
def issue(member: str, trader: str, category: str, effective: datetime | None, expiry: datetime, name: str | None,
          address_line: str | None, city: str | None, postcode: str | None, country: str | None,
          consent: tuple[str, ...] | None, key_path: Path | None, config_path: str | None,
          bootstrap_servers: str | None, timeout: float) -> None:
    """Certify a trader; after a revocation or expiry, certify it again (name, address and consent carry over
    unless given)."""
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    key = ctx.signing_key(member, key_path)
    if consent:
        ctx.check_codes(consent)
    trader = trader.strip().upper()
    address = _address(address_line, city, postcode, country or member)
    args: dict[str, Any] = dict(trader_id=trader, category=category.upper(), effective=_day(effective) or date.today(),
                                expiry=_day(expiry), name=clean_text(name), address=address)
    ctx.preflight(grant(key, **args, consent=consent or ()))  # what needs no registry fails before Kafka

    async def run() -> tuple[TraderStatus, float]:
        async with RegistryView(ctx, member, publish=True) as view:
            previous = view.registry.get(trader)
            fields = dict(args)
            if previous is not None and previous.details is not None:  # a new certificate keeps what was known
                fields["name"] = fields["name"] or previous.details.name
                fields["address"] = fields["address"] or previous.details.address
            kept = previous.consent if previous is not None else ()
            status = grant(key, **fields, consent=consent if consent is not None else kept, previous=previous)
            ctx.preflight(status)
            return status, await view.publish(status, previous)

    _done(*asyncio.run(run()))


def _address(line: str | None, city: str | None, postcode: str | None, country: str) -> Address | None:
    line, city, postcode = clean_text(line), clean_text(city), clean_text(postcode)
    if not (line or city or postcode):
        return None
    if not (line and city):
        raise click.UsageError("an address needs --address-line and --city (--postcode and --country optional)")
    return Address(line=line, city=city, country=country, postcode=postcode)


def _change_command(status: str, doc: str) -> click.Command:
    @_MEMBER
    @_TRADER
    @click.option("--effective", type=_DAY, help="When the change takes effect (YYYY-MM-DD; default today, or the "
                  "certificate's own date for a reinstatement).")
    @click.option("--drop-details", is_flag=True, help="Go on when the registry has no name and address for the "
                  "trader (the new event then carries none).")
    @_KEY
    @network_options
    @handled
    def command(member: str, trader: str, effective: datetime | None, drop_details: bool, key_path: Path | None,
                config_path: str | None, bootstrap_servers: str | None, timeout: float) -> None:
        ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
        key = ctx.signing_key(member, key_path)
        trader = trader.strip().upper()

        async def run() -> tuple[TraderStatus, float]:
            async with RegistryView(ctx, member, publish=True) as view:
                previous = _current(view, trader, drop_details)
                new = change_status(key, previous, status, effective=_day(effective))
                ctx.preflight(new)
                return new, await view.publish(new, previous)

        _done(*asyncio.run(run()))

    command.__doc__ = doc
    return aeo.command(_VERBS[status])(command)


_VERBS = {"suspended": "suspend", "revoked": "revoke", "reinstated": "reinstate", "expired": "expire"}


def _current(view: RegistryView, trader: str, drop_details: bool) -> TraderStatus:
    previous = view.registry.get(trader)
    if previous is None:
        raise IssueError(f"{trader} has never been certified: the registry does not know it")
    if previous.details is None and not drop_details:
        raise IssueError(f"the registry holds no name and address for {trader} (its details topic "
                         f"oco.aeo.{previous.issuer}.to.{previous.issuer} has none), so the new event would carry "
                         "none; pass --drop-details to go on anyway")
    return previous


for _status, _doc in (("suspended", "Suspend a trader's certificate (it can be reinstated)."),
                      ("revoked", "Revoke a trader's certificate (it can only be certified again, with issue)."),
                      ("reinstated", "Reinstate a suspended certificate."),
                      ("expired", "Mark a certificate expired.")):
    _change_command(_status, _doc)


@aeo.command()
@_MEMBER
@_TRADER
@click.option("--set", "new", callback=_codes, help="The whole new consent list (NZ,WS; empty string: nobody).")
@click.option("--add", callback=_codes, help="Members (or partners) to add.")
@click.option("--remove", callback=_codes, help="Members (or partners) to remove: their copy of name and address "
              "is withdrawn (a tombstone on their details topic).")
@click.option("--drop-details", is_flag=True, help="Go on when the registry has no name and address for the trader.")
@_KEY
@network_options
@handled
def consent(member: str, trader: str, new: tuple[str, ...] | None, add: tuple[str, ...] | None,
            remove: tuple[str, ...] | None, drop_details: bool, key_path: Path | None, config_path: str | None,
            bootstrap_servers: str | None, timeout: float) -> None:
    """Change whom a trader's name and address are shared with (a new event, same status)."""
    if new is None and not add and not remove:
        raise click.UsageError("say what changes: --set CODES, or --add / --remove CODES")
    if new is not None and (add or remove):
        raise click.UsageError("--set replaces the list; use it without --add / --remove")
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    key = ctx.signing_key(member, key_path)
    ctx.check_codes([*(new or ()), *(add or ())])
    trader = trader.strip().upper()

    async def run() -> tuple[TraderStatus, float] | None:
        async with RegistryView(ctx, member, publish=True) as view:
            previous = _current(view, trader, drop_details)
            wanted = tuple(sorted(set(new) if new is not None else
                                  (set(previous.consent) | set(add or ())) - set(remove or ())))
            if wanted == tuple(sorted(previous.consent)):
                click.echo(f"{trader}: consent already {' '.join(wanted) or '(nobody)'}; nothing published")
                return None
            status = reissue(key, previous, consent=wanted)
            ctx.preflight(status)
            return status, await view.publish(status, previous)

    done = asyncio.run(run())
    if done is not None:
        _done(*done)
        click.echo(f"  consent: {' '.join(done[0].consent) or '(nobody)'}")


@aeo.command()
@_MEMBER
@_KEY
@click.option("--dry-run", is_flag=True, help="Say what would be re-signed, publish nothing.")
@network_options
@handled
def resign(member: str, key_path: Path | None, dry_run: bool, config_path: str | None, bootstrap_servers: str | None,
           timeout: float) -> None:
    """Re-sign, with the given key, every trader of MEMBER whose latest event another key signed.

    Run it after adding a new key to the trust store and before marking the old one retired: events signed
    by a retired key are refused.
    """
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    key = ctx.signing_key(member, key_path)

    async def run() -> int:
        async with RegistryView(ctx, member, publish=not dry_run) as view:
            old = [s for s in view.registry.select(issuer=member)
                   if s.signature is not None and s.signature.key_id != key.key_id]
            without = [s.trader_id for s in old if s.details is None]
            if without:
                click.echo(f"skipped (no name and address in the registry, they would be lost): {' '.join(without)}",
                           err=True)
            todo = [(reissue(key, s), s) for s in old if s.details is not None]
            for status, _ in todo:
                ctx.preflight(status)
            if dry_run:
                click.echo(f"would re-sign {len(todo)} trader(s) of {member} with key {key.key_id}")
                return 1 if without else 0
            done = await view.publish_many(todo)
            problems = [d.problem for d in done if d.problem]
            for problem in problems:
                click.echo(f"  {problem}", err=True)
            click.echo(f"re-signed {len(done) - len(problems)} trader(s) of {member} with key {key.key_id}")
            return 1 if problems or without else 0

    raise SystemExit(asyncio.run(run()))


# ---------------------------------------------------------------------------------------------- show, list

def _describe(ctx: AeoContext, s: TraderStatus, viewer: str | None) -> dict[str, Any]:
    policy = RecognitionPolicy(ctx.settings.aeo, ctx.settings.members)
    today = datetime.now(UTC).date()
    active = s.active_on(today)
    recognised = {m: b for m in sorted(ctx.settings.members)
                  if active and (b := policy.basis(m, s.issuer, s.category)) is not None}
    d = s.details
    return {
        "trader_id": s.trader_id, "category": s.category, "status": s.status, "issuer": s.issuer,
        "effective": s.effective.isoformat(), "expiry": s.expiry.isoformat(), "sequence": s.sequence,
        "issued": s.issued, "key_id": s.signature.key_id if s.signature else None, "consent": list(s.consent),
        "active": active, "recognised_by": recognised, "viewer": viewer, "details_visible": d is not None,
        "name": d.name if d else None,
        "address": None if d is None or d.address is None else {
            "line": d.address.line, "city": d.address.city, "postcode": d.address.postcode,
            "country": d.address.country},
    }


def _details_note(row: dict[str, Any]) -> str:
    viewer, issuer = row["viewer"], row["issuer"]
    if viewer is None:
        return "not shown: public view (pass --as MEMBER to see what that member sees)"
    if viewer != issuer and viewer not in row["consent"]:
        return f"not visible to {viewer}: the trader did not consent to {viewer}"
    return f"not received by {viewer} (its details topic has none for this event)"


def _loaded(ctx: AeoContext, viewer: str | None) -> AeoRegistry:
    """The registry as ``viewer`` sees it now (the feed stops once loaded; the registry stays in memory)."""
    async def run() -> AeoRegistry:
        async with RegistryView(ctx, viewer) as view:
            return view.registry
    return asyncio.run(run())


@aeo.command()
@click.argument("trader")
@click.option("--as", "viewer", callback=_member_code, help="See it as this member sees it (name and address "
              "only if the trader consented to it).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@network_options
@handled
def show(trader: str, viewer: str | None, as_json: bool, config_path: str | None, bootstrap_servers: str | None,
         timeout: float) -> None:
    """Show a trader's latest status, who recognises it, and its name and address when the viewer may see them."""
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    if viewer is not None:
        ctx.check_member(viewer)
    trader = trader.strip().upper()
    registry = _loaded(ctx, viewer)
    status = registry.get(trader)
    if status is None:
        raise Fail(f"{trader} is not known to the network's registry")
    row = _describe(ctx, status, viewer)
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False))
        return
    issuer_name = (ctx.settings.members.get(status.issuer) or ctx.settings.aeo.partners.get(status.issuer))
    click.echo(f"{row['trader_id']}  {row['category']}  {row['status']}  #{row['sequence']}")
    click.echo(f"  issuer      {row['issuer']}{f' ({issuer_name.name})' if issuer_name else ''}, key {row['key_id']}, "
               f"issued {row['issued']}")
    click.echo(f"  valid       {row['effective']} to {row['expiry']} ({'active' if row['active'] else 'not active'} today)")
    click.echo(f"  consent     {' '.join(row['consent']) or '(nobody)'}")
    lines = [f"{m}: {basis}" for m, basis in row["recognised_by"].items()] or ["nobody (not active)" if not row["active"]
                                                                               else "nobody"]
    click.echo(f"  recognised  {lines[0]}")
    for line in lines[1:]:
        click.echo(f"              {line}")
    if row["details_visible"]:
        click.echo(f"  name        {row['name'] or '(none given)'}")
        a = row["address"]
        click.echo("  address     " + (f"{a['line']}, {a['city']}{' ' + a['postcode'] if a['postcode'] else ''}, "
                                      f"{a['country']}" if a else "(none given)"))
    else:
        click.echo(f"  name, address  {_details_note(row)}")


@aeo.command("list")
@click.option("--member", callback=_member_code, help="Only the traders this member (or partner) certified.")
@click.option("--status", type=click.Choice(STATUSES), help="Only traders in this status.")
@click.option("--as", "viewer", callback=_member_code, help="See the list as this member (names where consented).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@network_options
@handled
def list_(member: str | None, status: str | None, viewer: str | None, as_json: bool, config_path: str | None,
          bootstrap_servers: str | None, timeout: float) -> None:
    """List the registry's traders, one per line."""
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    if viewer is not None:
        ctx.check_member(viewer)
    registry = _loaded(ctx, viewer)
    found = registry.select(issuer=member, status=status)
    for s in found:
        if as_json:
            click.echo(json.dumps(_describe(ctx, s, viewer), ensure_ascii=False))
        else:
            name = s.details.name if s.details is not None and s.details.name else ""
            click.echo(f"{s.trader_id:<18} {s.category:<5} {s.status:<10} {s.effective} to {s.expiry}  "
                       f"#{s.sequence:<4} {s.issuer}  {name}".rstrip())
    if not as_json:
        click.echo(f"{len(found)} trader(s)")


# ------------------------------------------------------------------------------------------- export, import

@aeo.command()
@_MEMBER
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--partner", callback=_member_code, help="The MRA partner the file is for: name and address of the "
              "traders that consented to it.")
@click.option("--all-details", is_flag=True, help="Name and address of every trader: the member's own backup "
              "(keep it as secret as the registry; never for a partner).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write; its signature goes to FILE.sig beside it.")
@_KEY
@network_options
@handled
def export(member: str, fmt: str, partner: str | None, all_details: bool, out: Path, key_path: Path | None,
           config_path: str | None, bootstrap_servers: str | None, timeout: float) -> None:
    """Write the signed snapshot of every trader MEMBER certified (the daily file of MRA partners)."""
    if partner and all_details:
        raise click.UsageError("--all-details is for the member's own backup; a partner gets only what was consented")
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    key = ctx.signing_key(member, key_path)
    if partner is not None and (partner == member or partner not in ctx.codes):
        raise Fail(f"{partner} is not an MRA partner or another member of the network (aeo.partners)", 2)
    registry = _loaded(ctx, member)
    events = registry.select(issuer=member)
    lacking = [s.trader_id for s in events if s.details is None and (all_details or (partner and partner in s.consent))]
    data, sig = write_snapshot(events, key, fmt, recipient=partner, all_details=all_details, file_name=out.name)
    sig_path = write_snapshot_files(out, data, sig)
    detailed = sum(1 for s in events if s.details is not None and (all_details or (partner and partner in s.consent)))
    click.echo(f"wrote {out}: {len(events)} event(s) of {member}, {detailed} with name and address"
               f"{f' (consented to {partner})' if partner else ''}; signed with key {key.key_id} in {sig_path}")
    if lacking:
        click.echo(f"warning: the registry has no name and address for {len(lacking)} trader(s) that should carry "
                   f"them: {' '.join(lacking[:10])}{' ...' if len(lacking) > 10 else ''}", err=True)


@aeo.command("import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--member", callback=_member_code, help="The importing member (for a partner's file: the one "
              "aeo.partners.<P>.importer names, the default).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Default: from the content.")
@network_options
@handled
def import_(path: Path, member: str | None, fmt: str | None, config_path: str | None, bootstrap_servers: str | None,
            timeout: float) -> None:
    """Verify a signed snapshot file (FILE and FILE.sig) and publish its events that are new to the registry.

    The file's signature must verify, or nothing is imported. Each event is then checked alone (signature,
    issuer = the file's signer, schema); refused events are reported and the command exits 1, the others are
    still published.
    """
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    data, sig = read_snapshot_files(path)
    s = ctx.settings
    partner = s.aeo.partners.get(sig.member)
    if partner is not None:
        importer = member or partner.importer
        if importer != partner.importer:
            raise Fail(f"only {partner.importer} imports {sig.member}'s files (aeo.partners.{sig.member}.importer), "
                       f"not {importer}")
    elif sig.member in s.members:
        importer = member or sig.member
        if importer != sig.member:
            raise Fail(f"a file of member {sig.member} is imported by {sig.member} itself (only the issuer writes "
                       f"oco.aeo.{sig.member}), not by {importer}")
    else:
        raise Fail(f"{signature_path(path)} says the file is from {sig.member}, neither a member nor an MRA partner "
                   "of the network (aeo.partners)", 2)
    ctx.check_member(importer)
    snapshot = read_snapshot(data, sig, ctx.trust, ctx.reader, fmt)
    for refusal in snapshot.refused:
        click.echo(f"refused {refusal}")

    async def run() -> tuple[int, int, int, list[str]]:
        async with RegistryView(ctx, importer, publish=True) as view:
            todo, known, older = [], 0, 0
            problems = []
            for status in snapshot.events:
                current = view.registry.get(status.trader_id)
                if current is None or status.sequence > current.sequence:
                    todo.append((status, current))
                elif current.same_event(status):
                    entitled = importer == status.issuer or importer in status.consent
                    if status.details is not None and current.details is None and entitled:
                        todo.append((status, current))  # the details view went missing: publish it again
                    else:
                        known += 1
                elif status.sequence == current.sequence:
                    problems.append(f"refused {status.trader_id}: replayed: #{status.sequence} differs from the "
                                    f"registry's own #{current.sequence}")
                else:
                    older += 1
            done = await view.publish_many(todo)
            problems += [f"not imported: {d.problem}" for d in done if d.problem]
            return len(done) - sum(1 for d in done if d.problem), known, older, problems

    published, known, older, problems = asyncio.run(run())
    for problem in problems:
        click.echo(problem)
    refused = len(snapshot.refused) + len(problems)
    click.echo(f"{path}: {snapshot.total} event(s) of {snapshot.signer} ({snapshot.format}, file signed with key "
               f"{snapshot.key_id}): {published} published, {known} already in the registry, {older} older than "
               f"the registry, {refused} refused")
    if refused:
        raise SystemExit(1)


# ------------------------------------------------------------------------------------------------------- load

@aeo.command()
@_MEMBER
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the rows against the registry; publish nothing.")
@_KEY
@network_options
@handled
def load(member: str, path: Path, dry_run: bool, key_path: Path | None, config_path: str | None,
         bootstrap_servers: str | None, timeout: float) -> None:
    """Load a national AEO list (CSV): one signed granted event per trader not yet in the registry.

    Columns: trader_id, category, effective, expiry, name, address_line, city, postcode, country, consent
    (codes separated by spaces or semicolons). Rows already granted with the same content are skipped, so
    the command can be run again; refused rows are listed with their line numbers (exit 1).
    """
    ctx = AeoContext.load(config_path, bootstrap_servers, timeout)
    key = ctx.signing_key(member, key_path)
    rows, problems = read_national_list(path.read_bytes(), member=member, known_codes=ctx.codes)
    checked = []
    for row in rows:  # what needs no registry is refused before Kafka
        try:
            ctx.preflight(_grant_row(key, row, None))
        except (IssueError, EventRefused) as exc:
            problems.append(RowProblem(row.line, row.trader_id, _reason(exc)))
            continue
        checked.append(row)

    async def run() -> tuple[int, int]:
        async with RegistryView(ctx, member, publish=not dry_run) as view:
            todo, same = [], 0
            for row in checked:
                current = view.registry.get(row.trader_id)
                if current is None:
                    todo.append((_grant_row(key, row, None), None))
                    continue
                differences = _differences(current, row)
                if current.status in ("granted", "reinstated") and not differences:
                    same += 1
                elif current.status in ("granted", "reinstated"):
                    problems.append(RowProblem(row.line, row.trader_id, f"already certified ({current.status} "
                                               f"#{current.sequence}) with another {', '.join(differences)}; "
                                               "not changed by a load"))
                else:
                    problems.append(RowProblem(row.line, row.trader_id, f"known to the network as {current.status} "
                                               f"(#{current.sequence}); certify it again with `oco-gateway aeo issue`"))
            if dry_run:
                return len(todo), same
            done = await view.publish_many(todo)
            by_trader = {row.trader_id: row.line for row in checked}
            problems.extend(RowProblem(by_trader[d.status.trader_id], d.status.trader_id, d.problem)
                            for d in done if d.problem)
            return sum(1 for d in done if not d.problem), same

    issued, same = asyncio.run(run())
    for problem in sorted(problems, key=lambda p: p.line):
        click.echo(f"refused {problem}")
    verb = "would grant" if dry_run else "granted"
    click.echo(f"{path}: {verb} {issued}, skipped {same} (already granted, same content), refused {len(problems)}")
    if problems:
        raise SystemExit(1)


def _grant_row(key: SigningKey, row: NationalRow, previous: TraderStatus | None) -> TraderStatus:
    return grant(key, trader_id=row.trader_id, category=row.category, effective=row.effective, expiry=row.expiry,
                 name=row.name, address=row.address, consent=row.consent, previous=previous)


def _differences(current: TraderStatus, row: NationalRow) -> list[str]:
    found = [name for name, a, b in (("category", current.category, row.category),
                                     ("effective date", current.effective, row.effective),
                                     ("expiry date", current.expiry, row.expiry),
                                     ("consent", tuple(sorted(current.consent)), tuple(sorted(row.consent))))
             if a != b]
    if current.details is not None:
        if current.details.name != row.name:
            found.append("name")
        if current.details.address != row.address:
            found.append("address")
    return found


def _reason(exc: Exception) -> str:
    return refusal_text(exc) if isinstance(exc, EventRefused) else str(exc)

