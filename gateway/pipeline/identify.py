"""Pipeline stage: find the profile and document type of a parsed message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.pipeline.context import Submission
from gateway.profiles.versions import VersionChoice, VersionPlan

if TYPE_CHECKING:
    from gateway.config import GatewaySettings, ProfileVersionSettings
    from gateway.profiles import ProfileRegistry

__all__ = ["ProfileSelector", "version_plan"]


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def version_plan(settings: GatewaySettings, registry: ProfileRegistry) -> VersionPlan:
    """Return the configured profile versions (``profile_versions``), checked against the loaded profiles.

    Args:
        settings: the network configuration.
        registry: the loaded profiles.

    Raises:
        ProfileError: the configuration names an unknown profile, or leaves some participant undecided between
            profiles its documents cannot tell apart; the message names the keys.
    """
    def choices(entries: tuple[ProfileVersionSettings, ...]) -> list[VersionChoice]:
        return [VersionChoice(e.profile, e.since) for e in entries]

    return VersionPlan(registry, choices(settings.profile_versions),
                       {pid: choices(p.profile_versions) for pid, p in settings.participants.items()})


class ProfileSelector:
    """Set ``submission.profile`` from the root element's tag, its payload's tag, the profiles' conditions and
    version codes, and, where several profiles still read the document alike, the submitter's configured version.

    Args:
        registry: the profiles loaded at start-up.
        versions: which version each participant submits (:func:`version_plan`); None chooses none.
        today: the processing date, UTC today by default; cut-overs (``from``) compare with the day the broker
            stamped the submission (:attr:`Submission.submitted_ms`), with this where it did not.
    """

    def __init__(self, registry: ProfileRegistry, versions: VersionPlan | None = None,
                 today: Callable[[], dt.date] = _utc_today) -> None:
        self._select = registry.select
        # Without families nothing is ever chosen: skip the per-message closure.
        self._versions = versions if registry.families else None
        self._today = today

    def __call__(self, submission: Submission) -> Submission:
        """Identify one parsed submission.

        Args:
            submission: a submission whose ``document`` is set (``parse`` stage).

        Raises:
            Unidentified: no loaded profile reads this document, none accepts its version codes, or several
                do and the configuration names none of them for this participant.
        """
        versions = self._versions
        if versions is None:
            submission.profile = self._select(submission.document)
            return submission
        participant, stamped, today = submission.participant, submission.submitted_ms, self._today

        def day() -> dt.date:  # read only when several versions remain, not for every message
            return today() if stamped is None else dt.datetime.fromtimestamp(stamped / 1000, dt.UTC).date()

        submission.profile = self._select(submission.document, lambda names: versions.choose(participant, names, day()))
        return submission
