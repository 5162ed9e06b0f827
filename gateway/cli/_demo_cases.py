"""The demo's mixed batch (valid, invalid, malformed, misrouted) and its per-member summary."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import click

from gateway.config import MemberSettings
from gateway.responses import ResponseSummary
from gateway.samples import make_declaration

__all__ = ["Case", "make_cases", "print_summary"]


@dataclass(frozen=True)
class Case:
    """One submission of the demo."""

    participant: str
    member: str  # the member the submitter meant, also for messages the gateway cannot read
    kind: str
    payload: bytes


def make_cases(members: dict[str, MemberSettings], count: int) -> list[Case]:
    """Return ``count`` valid declarations spread over every (submitter, member) pair, plus the bad ones.

    Args:
        members: the configured members and their submitters.
        count: how many valid declarations.
    """
    rng = random.Random(2026)
    pairs = [(p, code) for code, m in sorted(members.items()) for p in m.submitters]
    cases = []
    for n in range(count):
        participant, member = pairs[n % len(pairs)]
        aeo = [(f"{member}AEO{rng.randint(1000, 9999)}", "AEOF")] if n % 3 == 0 else []
        payload = make_declaration(member=member, lrn=f"DEMO-{member}-{n:04d}", items=rng.randint(1, 30),
                                   aeo=aeo, seed=n)
        cases.append(Case(participant, member, "valid", payload))
    for n, (participant, member) in enumerate(pairs[:4]):
        good = make_declaration(member=member, lrn=f"DEMO-BAD-{n}", items=2, seed=1000 + n)
        # Schema-invalid: an LRN longer than the 35 characters WCO allows.
        cases.append(Case(participant, member, "invalid", good.replace(f"DEMO-BAD-{n}".encode(), b"X" * 40, 1)))
        # Malformed: cut in the middle, as a broken upload would be.
        cases.append(Case(participant, member, "malformed", good[: len(good) // 2]))
    participant, member = pairs[0]
    other = next(code for code in sorted(members) if participant not in members[code].submitters)
    cases.append(Case(participant, other, "not authorised",
                      make_declaration(member=other, lrn="DEMO-NOT-MINE", items=1, seed=9)))
    cases.append(Case(participant, "ZZ", "unknown member",
                      make_declaration(member="ZZ", lrn="DEMO-NOWHERE", items=1, seed=10)))
    # A broker naming a declarant that never mandated it (acts_for in the network file).
    cases.append(Case(participant, member, "not mandated",
                      make_declaration(member=member, lrn="DEMO-NOT-MANDATED", items=1, seed=11,
                                       declarant="XX0000001")))
    return cases


def print_summary(cases: list[Case], answers: dict[int, list[ResponseSummary]], parked: set[int],
                  members: dict[str, MemberSettings]) -> int:
    """Print the per-member table and a few registrations; return how many submissions got no final answer.

    Args:
        cases: what was submitted.
        answers: every reply per case index, in arrival order.
        parked: indexes of the cases found in the dead-letter topic.
        members: the configured members (for names).
    """
    table: dict[str, Counter[str]] = {}
    unanswered = 0
    for i, case in enumerate(cases):
        row = table.setdefault(case.member, Counter())
        statuses = [a.status for a in answers.get(i, [])]
        row["submitted"] += 1
        row["validated"] += "received" in statuses
        row["registered"] += "accepted" in statuses
        row["rejected"] += "rejected" in statuses
        row["dead-lettered"] += i in parked
        unanswered += not ({"accepted", "rejected"} & set(statuses))
    click.echo("\nper member: validated = passed the gateway and sent to oco.deliver.<member>; "
               "registered = accepted by the national system")
    cols = ("submitted", "validated", "registered", "rejected", "dead-lettered")
    click.echo(f"  {'member':<7}" + "".join(f"{c:>14}" for c in cols) + "  national system")
    for code in sorted(table):
        name = members[code].name if code in members else "(not an OCO member)"
        click.echo(f"  {code:<7}" + "".join(f"{table[code][c]:>14}" for c in cols) + f"  {name}")
    click.echo("\nregistrations (one per member):")
    shown: set[str] = set()
    for i, case in enumerate(cases):
        final = next((a for a in answers.get(i, []) if a.status == "accepted"), None)
        if final and case.member not in shown:
            shown.add(case.member)
            taxes = ", ".join(f"{t.code} {t.amount} {t.currency}" for t in final.taxes) or "no taxes"
            click.echo(f"  {case.member}  {final.lrn:<16} → customs reference {final.declaration_id}  ({taxes})")
    click.echo("\nrejections, one of each kind:")
    seen: set[str] = set()
    for i, case in enumerate(cases):
        rejected = next((a for a in answers.get(i, []) if a.status == "rejected"), None)
        if rejected and case.kind not in seen and rejected.issues:
            seen.add(case.kind)
            issue = rejected.issues[0]
            click.echo(f"  {case.kind:<15} {issue.code}: {issue.message[:110]}")
    return unanswered
