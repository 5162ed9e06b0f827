"""Pipeline stage: validate the document against its profile's XSDs, compiled once at start-up."""

from __future__ import annotations

from gateway.errors import SchemaInvalid
from gateway.pipeline.context import Submission

__all__ = ["validate_schema"]


def validate_schema(submission: Submission) -> Submission:
    """Pass a schema-valid submission on; refuse an invalid one with every error.

    Args:
        submission: a submission whose ``document`` and ``profile`` are set.

    Raises:
        SchemaInvalid: one Issue per libxml2 error (code, message, line and element path).
    """
    assert submission.profile is not None, "validate_schema runs after the identify stage"
    issues = submission.profile.validate(submission.document)
    if issues:
        raise SchemaInvalid(issues, stage="validate")
    return submission
