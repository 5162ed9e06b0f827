"""``oco-gateway asycuda``: tools for onboarding an ASYCUDA World installation."""

from __future__ import annotations

from pathlib import Path

import click

from adapters.asycuda._xml import XMLError
from adapters.asycuda.layout import Layout, LayoutError

__all__ = ["asycuda"]


@click.group()
def asycuda() -> None:
    """ASYCUDA World installations: derive the layout a member's installation writes."""


@asycuda.command()
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The layout's name (default: the file's name without extension).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the layout here (default: print it).")
def layout(export: Path, name: str | None, output: Path | None) -> None:
    """Derive the layout of an ASYCUDA World installation from one real XML export of it (EXPORT).

    Give the result to the member's adapter as `members.<M>.adapter.settings.layout: FILE` (or ship it in
    adapters/asycuda/layouts/ and give its name). An export with items shows more than a header-only one:
    the sections it lacks are listed under `unseen` and written as the adapter's stylesheet does.
    """
    try:
        derived = Layout.derive(export.read_bytes(), name=name or export.stem, source=export.name)
    except (LayoutError, XMLError) as exc:
        raise click.ClickException(f"{export}: {exc}") from exc
    text = derived.to_yaml()
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    seen = sum(len(v) for v in derived.children.values())
    unseen = f"; not in the export: {', '.join(derived.unseen)}" if derived.unseen else ""
    click.echo(f"layout {derived.name!r}: {len(derived.children)} sections, {seen} elements, "
               f"dates {derived.date_form or 'not shown'}{unseen} -> {output}", err=True)
