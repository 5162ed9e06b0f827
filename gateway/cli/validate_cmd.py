"""``oco-gateway validate``: check declaration files offline, through the gateway's own XML stages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from gateway.config import default_profiles_dir
from gateway.errors import Issue, ProfileError, Rejection
from gateway.pipeline.context import Submission
from gateway.pipeline.extract import extract_routing
from gateway.pipeline.identify import ProfileSelector
from gateway.pipeline.parse import SafeParser
from gateway.pipeline.validate import validate_schema
from gateway.profiles import ProfileRegistry, VersionChoice, VersionPlan

__all__ = ["validate"]

_LINE_BREAK = re.compile(r"\s*[\r\n]+\s*")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--profiles", "profile_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Profile folder, or folder of profile folders; repeatable. "
                   "Default: OCO_PROFILES_DIR, else the project's schemas/.")
@click.option("--profile", "versions", multiple=True, metavar="NAME",
              help="Where several loaded profiles read a file alike (two versions of one profile), check it "
                   "against this one; repeatable, one per family of versions.")
@click.option("--max-bytes", default=16 * 1024 * 1024, show_default=True, help="Largest file accepted.")
def validate(files: tuple[Path, ...], profile_dirs: tuple[Path, ...], versions: tuple[str, ...],
             max_bytes: int) -> None:
    """Parse, identify and schema-check FILES (and read a declaration's routing fields).

    Prints `file: valid as profile/document (KIND)`, or `file: invalid as profile/document (KIND), N
    problems` followed by one `file:line: message [code]` line per problem; exits 1 if any file is not valid.
    """
    try:
        registry = ProfileRegistry.load(list(profile_dirs) or [default_profiles_dir()])
        plan = VersionPlan(registry, [VersionChoice(name) for name in versions]) if versions else None
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    parse, identify = SafeParser(max_bytes), ProfileSelector(registry, plan)
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
            identify(parse(submission))
            assert submission.profile is not None
            validate_schema(submission)
            if submission.profile.kind == "DEC":
                extract_routing(submission)
        except Rejection as exc:
            all_valid = False
            if submission.profile is not None:
                count = len(exc.issues)
                click.echo(f"{path}: invalid as {_checked_as(submission)}, {count} problem{'s' * (count != 1)}")
            for issue in exc.issues:
                click.echo(_format(path, issue))
            continue
        click.echo(f"{path}: valid as {_checked_as(submission)}")
    sys.exit(0 if all_valid else 1)


def _checked_as(submission: Submission) -> str:
    profile = submission.profile
    assert profile is not None
    return f"{profile.label} ({profile.kind})"


def _format(path: Path, issue: Issue) -> str:
    # One line per problem, whatever libxml2 wrote: its messages may quote values spanning lines.
    message = _LINE_BREAK.sub(" ", issue.message)
    if issue.code == "OCO-AMBIGUOUS-PROFILE":
        message += "; choose one with --profile NAME"
    where = f"{path}:{issue.line}" if issue.line else str(path)
    return f"{where}: {message} [{issue.code}]"
