"""Pipeline stage: the destination must be a member, and the submitter must be allowed to submit for it."""

from __future__ import annotations

from gateway.config import GatewaySettings
from gateway.errors import Issue, NotAllowed
from gateway.pipeline.context import Submission

__all__ = ["Authorizer"]


class Authorizer:
    """Refuse declarations for unknown members, or from participants not allowed to submit for them.

    Args:
        settings: the network configuration (members and their submitters).
    """

    def __init__(self, settings: GatewaySettings) -> None:
        # Frozen sets built once: this runs for every message.
        self._submitters = {code: frozenset(m.submitters) for code, m in settings.members.items()}

    def __call__(self, submission: Submission) -> Submission:
        """Pass the submission on, or raise.

        Raises:
            NotAllowed: unknown member, or a submitter acting for a member it may not submit for.
        """
        assert submission.routing is not None, "authorize runs after extract"
        member = submission.routing.member
        allowed = self._submitters.get(member)
        if allowed is None:
            known = ", ".join(sorted(self._submitters)) or "none"
            raise NotAllowed(
                [Issue("OCO-UNKNOWN-MEMBER", f"ResponsibleCountryCode {member!r} is not an OCO member "
                       f"served by this gateway (members: {known})")],
                stage="authorize",
            )
        if submission.participant not in allowed:
            raise NotAllowed(
                [Issue("OCO-NOT-AUTHORISED", f"participant {submission.participant!r} may not submit "
                       f"declarations for member {member}")],
                stage="authorize",
            )
        return submission
