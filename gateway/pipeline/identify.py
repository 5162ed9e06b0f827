"""Pipeline stage: find the profile and document type of a parsed message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.pipeline.context import Submission

if TYPE_CHECKING:
    from gateway.profiles import ProfileRegistry

__all__ = ["ProfileSelector"]


class ProfileSelector:
    """Set ``submission.profile`` from the root element's tag, its payload's tag and the profile's conditions.

    Args:
        registry: the profiles loaded at start-up.
    """

    def __init__(self, registry: ProfileRegistry) -> None:
        self._select = registry.select

    def __call__(self, submission: Submission) -> Submission:
        """Identify one parsed submission.

        Args:
            submission: a submission whose ``document`` is set (``parse`` stage).

        Raises:
            Unidentified: no loaded profile reads this document, or its WCO version is not accepted.
        """
        submission.profile = self._select(submission.document)
        return submission
