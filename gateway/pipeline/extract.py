"""Pipeline stage: read the routing fields (member, LRN, function code, AEO holders...) of a declaration."""

from __future__ import annotations

from gateway.pipeline.context import Submission

__all__ = ["extract_routing"]


def extract_routing(submission: Submission) -> Submission:
    """Fill ``submission.routing`` using the profile's routing paths, compiled once at start-up.

    Args:
        submission: a submission whose ``document`` and ``profile`` are set.

    Raises:
        Unidentified: the document is not a declaration (OCO-NOT-A-DECLARATION), or has no member, LRN or
            function code (OCO-MISSING-ROUTING-FIELD).
    """
    assert submission.profile is not None, "extract_routing runs after the identify stage"
    submission.routing = submission.profile.extract(submission.document)
    return submission
