"""``oco-gateway validate``: check declaration files offline, through the gateway's own XML stages."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.config import default_profiles_dir
from gateway.errors import Issue, ProfileError, Rejection
from gateway.pipeline.context import Stage, Submission
from gateway.pipeline.extract import extract_routing
from gateway.pipeline.identify import ProfileSelector
from gateway.pipeline.parse import SafeParser
from gateway.pipeline.validate import validate_schema
from gateway.profiles import ProfileRegistry

__all__ = ["validate"]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--profiles", "profile_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Profile folder, or folder of profile folders; repeatable. "
                   "Default: OCO_PROFILES_DIR, else the project's schemas/.")
@click.option("--max-bytes", default=16 * 1024 * 1024, show_default=True, help="Largest file accepted.")
def validate(files: tuple[Path, ...], profile_dirs: tuple[Path, ...], max_bytes: int) -> None:
    """Parse, identify and schema-check FILES (and read a declaration's routing fields).

    Prints `file: valid (profile, kind)` or one `file:line: message [code]` per problem; exits 1 if any
    file is not valid.
    """
    try:
        registry = ProfileRegistry.load(list(profile_dirs) or [default_profiles_dir()])
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    parse = SafeParser(max_bytes)
    stages: list[Stage] = [parse, ProfileSelector(registry), validate_schema]
    all_valid = True
    for path in files:
        try:
            payload = path.read_bytes()
        except OSError as exc:
            click.echo(f"{path}: cannot read: {exc.strerror or exc}")
            all_valid = False
            continue
        submission = Submission(payload=payload, participant="cli", tracking_id=path.name)
        try:
            for stage in stages:
                submission = stage(submission)
            assert submission.profile is not None
            if submission.profile.kind == "DEC":
                extract_routing(submission)
        except Rejection as exc:
            all_valid = False
            for issue in exc.issues:
                click.echo(_format(path, issue))
            continue
        click.echo(f"{path}: valid ({submission.profile.name}, {submission.profile.kind})")
    sys.exit(0 if all_valid else 1)


def _format(path: Path, issue: Issue) -> str:
    where = f"{path}:{issue.line}" if issue.line else str(path)
    return f"{where}: {issue.message} [{issue.code}]"
