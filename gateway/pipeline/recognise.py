"""Pipeline stage: does the destination member recognise one of the declaration's AEO holders?

Looked up in the regional registry as it stands when the declaration is processed: a suspension the
registry has seen applies to every declaration processed after it, never to one processed before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from gateway.aeo.recognition import RecognitionPolicy
from gateway.aeo.status import TraderStatus
from gateway.pipeline.context import Submission

__all__ = ["Recogniser"]


class Recogniser:
    """Set ``submission.recognition`` for a declaration naming AEO holders (leave it None otherwise).

    Args:
        lookup: the registry's ``get`` (trader id -> latest verified status).
        policy: the mutual recognition configuration.
        today: the day certificates are judged on (default: today, UTC).
    """

    def __init__(self, lookup: Callable[[str], TraderStatus | None], policy: RecognitionPolicy,
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self._lookup = lookup
        self._policy = policy
        self._today = today

    def __call__(self, submission: Submission) -> Submission:
        """Assess the declaration's AEO holders; never refuses a declaration."""
        routing = submission.routing
        assert routing is not None, "recognise runs after extract"
        submission.recognition = self._policy.assess(routing.member, routing.aeo_holders, self._lookup, self._today())
        return submission
