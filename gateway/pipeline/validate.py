"""Pipeline stage: validate the document against its profile's XSDs, compiled once at start-up."""

from __future__ import annotations

from gateway.errors import SchemaInvalid
from gateway.pipeline.context import Stage, Submission
from gateway.profiles._issues import DEFAULT_MAX_ERRORS

__all__ = ["schema_validator", "validate_schema"]


def schema_validator(max_errors: int = DEFAULT_MAX_ERRORS) -> Stage:
    """Return the validate stage listing at most ``max_errors`` schema errors (``gateway.max_schema_errors``).

    Args:
        max_errors: errors listed in the rejection; more are counted in a last ``OCO-ERRORS-TRUNCATED`` Issue.
    """
    if max_errors < 1:
        raise ValueError(f"max_errors must be at least 1, not {max_errors}")

    def validate_schema(submission: Submission) -> Submission:
        """Pass a schema-valid submission on; refuse an invalid one with its errors.

        Args:
            submission: a submission whose ``document`` and ``profile`` are set.

        Raises:
            SchemaInvalid: one Issue per libxml2 error (code, message, line and element path), at most
                ``max_errors``, then one saying how many more there were.
        """
        assert submission.profile is not None, "validate_schema runs after the identify stage"
        issues = submission.profile.validate(submission.document, max_errors)
        if issues:
            raise SchemaInvalid(issues, stage="validate")
        return submission

    return validate_schema


validate_schema = schema_validator()
"""The validate stage with the default limit of listed errors."""
