"""Pipeline stage: the destination must be a member, and the submitter must be allowed to submit for it."""

from __future__ import annotations

from gateway.config import GatewaySettings
from gateway.errors import Issue, NotAllowed
from gateway.pipeline.context import Submission

__all__ = ["Authorizer"]


class Authorizer:
    """Refuse declarations for unknown members, from participants not allowed to submit for them, or naming a
    declarant or representative the participant may not act for.

    Args:
        settings: the network configuration (members and their submitters, participants and whom they act for).
    """

    def __init__(self, settings: GatewaySettings) -> None:
        # Frozen sets built once: this runs for every message.
        self._submitters = {code: frozenset(m.submitters) for code, m in settings.members.items()}
        self._participants = dict(settings.participants)

    def __call__(self, submission: Submission) -> Submission:
        """Pass the submission on, or raise.

        Raises:
            NotAllowed: unknown member (OCO-UNKNOWN-MEMBER), a submitter acting for a member it may not submit
                for (OCO-NOT-AUTHORISED), or naming a declarant or representative it may not act for
                (OCO-NOT-MANDATED, one issue each).
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
        self._check_mandate(submission)
        return submission

    def _check_mandate(self, submission: Submission) -> None:
        # Who submitted is the topic (broker ACLs); whom it speaks for is bound by the configuration.
        participant = self._participants.get(submission.participant)
        routing = submission.routing
        assert routing is not None
        if participant is None or participant.acts_for is None:
            return
        issues = [
            Issue("OCO-NOT-MANDATED", f"participant {submission.participant!r} may not act for {role} "
                  f"{trader!r}: it is not among the traders it is registered to act for", path=path)
            for role, trader, path in (("declarant", routing.declarant, "Declaration/Declarant/ID"),
                                       ("representative", routing.representative, "Declaration/Agent/ID"))
            if trader is not None and not participant.may_act_for(trader)
        ]
        if issues:
            raise NotAllowed(issues, stage="authorize")
