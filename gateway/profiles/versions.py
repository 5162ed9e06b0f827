"""Which version of a profile each participant submits, where the documents themselves cannot tell.

Two profiles of one :attr:`~gateway.profiles.ProfileRegistry.families` read the same documents with the same
envelope version codes (UK HMRC's DMS 2.x and 3.x bundles). The network configuration then says which one
each participant submits, possibly changing on a cut-over date: a default list (``profile_versions``) and
per-participant lists (``participants.<id>.profile_versions``) that replace the default for the families
they name. :class:`VersionPlan` checks those lists against the loaded profiles once, at start-up, and answers
the registry's ``choose`` for each message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.errors import ProfileError
from gateway.profiles.registry import ProfileRegistry

__all__ = ["VersionChoice", "VersionPlan"]

DEFAULT_KEY = "profile_versions"


@dataclass(frozen=True, slots=True)
class VersionChoice:
    """One entry of a ``profile_versions`` list: a profile, used from a date on (None: from the start)."""

    profile: str
    since: dt.date | None = None


class VersionPlan:
    """The configured profile versions, checked against the loaded registry.

    Args:
        registry: the loaded profiles.
        default: ``profile_versions``, for every participant.
        participants: ``participants.<id>.profile_versions``, by participant id: every participant that
            may submit (an empty list: the default applies), each must end up with one version per family.

    Raises:
        ProfileError: an entry names a profile that is not loaded or that shares documents with no other;
            or, for some participant (or the default), a family of profiles is left undecided: no entry,
            none without a ``from`` date, or two entries of one date. The message names the keys to set.
    """

    def __init__(self, registry: ProfileRegistry, default: Sequence[VersionChoice] = (),
                 participants: Mapping[str, Sequence[VersionChoice]] | None = None) -> None:
        self._default = tuple(default)
        self._participants = {pid: tuple(c) for pid, c in (participants or {}).items()}
        self._family_of = {name: family for family in registry.families for name in family}
        loaded = set(registry.names)
        for key, choices in [(DEFAULT_KEY, self._default),
                             *((_key(pid), c) for pid, c in sorted(self._participants.items()))]:
            for i, choice in enumerate(choices):
                if choice.profile not in loaded:
                    raise ProfileError(f"{key}[{i}]: no loaded profile is named {choice.profile!r} (loaded: "
                                       f"{', '.join(registry.names) or 'none'}); fix the name or the profiles folder")
                if choice.profile not in self._family_of:
                    raise ProfileError(f"{key}[{i}]: profile {choice.profile!r} reads no document that another loaded "
                                       "profile reads alike, so there is nothing to choose; remove the entry")
        for family in registry.families:
            self._check(family, DEFAULT_KEY, self._default, required=False)
            for pid in sorted(self._participants):
                own = [c for c in self._participants[pid] if c.profile in family]
                self._check(family, _key(pid), own or self._default, required=True, participant=pid)

    def choose(self, participant: str, names: tuple[str, ...], today: dt.date) -> str | None:
        """Return the profile, among ``names``, that the participant submits on ``today``, or None.

        Args:
            participant: who submitted (the submit topic's participant).
            names: profiles that read the document alike.
            today: the date the cut-over dates are compared with.
        """
        own = [c for c in self._participants.get(participant, ()) if c.profile in names]
        due = [c for c in own or self._default if c.profile in names and (c.since is None or c.since <= today)]
        if not due:
            return None
        return max(due, key=lambda c: c.since or dt.date.min).profile

    @staticmethod
    def _check(family: tuple[str, ...], key: str, choices: Sequence[VersionChoice], *, required: bool,
               participant: str | None = None) -> None:
        mine = [c for c in choices if c.profile in family]
        names = ", ".join(family)
        if not mine:
            if required:
                raise ProfileError(
                    f"profiles {names} read the same documents and their envelopes' version codes do not tell them "
                    f"apart: say which one participant {participant!r} submits under {key} (for example "
                    f"`- {{profile: {family[0]}}}`), or for every participant under {DEFAULT_KEY}")
            return
        undated = [c.profile for c in mine if c.since is None]
        if len(undated) != 1:
            raise ProfileError(
                f"{key}: {'no entry' if not undated else 'several entries'} for {names} without a `from` date "
                f"({', '.join(undated) or 'all are dated'}); give exactly one, the version used before any "
                "cut-over, and a `from` date to each later one")
        dates: dict[dt.date, str] = {}
        for c in mine:
            if c.since is None:
                continue
            if c.since in dates:
                raise ProfileError(f"{key}: {dates[c.since]} and {c.profile} both start on {c.since.isoformat()}; "
                                   "one version per date: change one `from` or remove an entry")
            dates[c.since] = c.profile


def _key(participant: str) -> str:
    return f"participants.{participant}.{DEFAULT_KEY}"
