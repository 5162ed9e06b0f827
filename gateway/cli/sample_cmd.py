"""``oco-gateway sample``: a realistic OCO declaration to test with, so nobody writes WCO XML by hand."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from gateway.samples import make_declaration

__all__ = ["sample"]

_AEO = re.compile(r"^([A-Z]{2}[A-Z0-9]{1,15}):(AEO[A-Z]{1,2})$")


def _holder(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    holders = []
    for value in values:
        found = _AEO.match(value)
        if found is None:
            raise click.BadParameter(f"{value!r}: expected TRADER:CATEGORY, e.g. WS0000042:AEOS")
        holders.append((found.group(1), found.group(2)))
    return holders


@click.command()
@click.option("--member", required=True, help="Destination member (FJ, WS, TO...).")
@click.option("--lrn", default="SAMPLE-0001", show_default=True, help="The trader's local reference number.")
@click.option("--items", type=click.IntRange(1, 999), default=3, show_default=True, help="Goods items.")
@click.option("--export", "export_", is_flag=True, help="An export (EXA) rather than an import (IMA).")
@click.option("--amendment", is_flag=True, help="An amendment (function code 13) rather than an original (9).")
@click.option("--declarant", help="The declarant's id (default: a trader of the member).")
@click.option("--representative", help="A representative acting for the declarant (the participant's own id).")
@click.option("--aeo", multiple=True, callback=_holder, metavar="TRADER:CATEGORY",
              help="An AEO authorisation holder named in the declaration (repeatable), e.g. WS0000042:AEOS.")
@click.option("--seed", type=int, help="Makes the document reproducible.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
def sample(member: str, lrn: str, items: int, export_: bool, amendment: bool, declarant: str | None,
           representative: str | None, aeo: list[tuple[str, str]], seed: int | None, output: Path | None) -> None:
    """Write a realistic declaration for MEMBER (valid against the oco profile): parties, offices, transport,
    goods items with HS codes, values and origins, as the demo and the benchmark use."""
    try:
        document = make_declaration(member=member.upper(), lrn=lrn, items=items, aeo=aeo, seed=seed,
                                    function_code="13" if amendment else "9", type_code="EXA" if export_ else "IMA",
                                    declarant=declarant, representative=representative)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(f"cannot make a sample for {member}: {exc}") from exc
    if output is None:
        sys.stdout.buffer.write(document)
    else:
        output.write_bytes(document)
        click.echo(f"{output}: {len(document)} bytes, {items} goods item(s), LRN {lrn}", err=True)
