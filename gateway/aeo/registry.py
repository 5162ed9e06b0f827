"""The regional registry: every trader's latest verified status, in this process's memory.

It holds one entry per trader (about 0.5 KB each: 100,000 traders take about 50 MB; `make bench`
measures it), is rebuilt from the compacted ``oco.aeo.*`` topics at start-up, and is kept current by the
feed. Nothing enters it unverified: :meth:`AeoRegistry.apply` checks the signature, the key, the
jurisdiction and the sequence before it stores anything.

Reads come from the pipeline's worker thread while the feed writes from the event loop: each entry is an
immutable object replaced whole, so a reader sees the old status or the new one, never half of each.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.aeo.signing import TrustStore
from gateway.aeo.status import TraderStatus
from gateway.errors import EventRefused

__all__ = ["AeoRegistry"]


class AeoRegistry:
    """Latest verified status per trader.

    Args:
        trust: the public keys to verify with.
        viewer: the member whose view this is (it reads the details topics addressed to it); None for the
            gateway, which sees only the public view.
    """

    def __init__(self, trust: TrustStore, viewer: str | None = None) -> None:
        self.trust = trust
        self.viewer = viewer
        self._entries: dict[str, TraderStatus] = {}
        self.applied = 0  # events that changed the registry, for tests and metrics

    def apply(self, status: TraderStatus, *, topic_issuer: str | None = None) -> str:
        """Verify an event and store it when it is newer than what is known.

        Args:
            status: the event as read (public or full view).
            topic_issuer: the issuer whose topic it came from, if any.

        Returns:
            ``applied`` (the trader's status changed), ``details`` (the name and address of the current
            event arrived), or ``duplicate`` (this very event was already known: redelivery, another view).

        Raises:
            EventRefused: the trust checks fail, or the sequence is not newer than the registry's
                (``replayed``).
        """
        self.trust.verify(status, topic_issuer=topic_issuer)
        current = self._entries.get(status.trader_id)
        if current is not None:
            if status.sequence < current.sequence or (
                    status.sequence == current.sequence and not current.same_event(status)):
                raise EventRefused("replayed", f"event #{status.sequence} of {status.trader_id} is not newer "
                                   f"than the registry's #{current.sequence} ({current.status}); refused as a replay")
            if status.sequence == current.sequence:
                if status.details is not None and current.details is None:
                    self._entries[status.trader_id] = status
                    return "details"
                return "duplicate"
        self._entries[status.trader_id] = status
        self.applied += 1
        return "applied"

    def forget_details(self, trader_id: str) -> bool:
        """Drop a trader's name and address (consent withdrawn: a tombstone on a details topic).

        Returns:
            whether there were details to drop.
        """
        current = self._entries.get(trader_id)
        if current is None or current.details is None:
            return False
        self._entries[trader_id] = current.public()
        return True

    def get(self, trader_id: str) -> TraderStatus | None:
        """Return a trader's latest status, or None when the network has never certified it."""
        return self._entries.get(trader_id)

    def select(self, *, issuer: str | None = None, status: str | None = None) -> list[TraderStatus]:
        """Return the traders of one issuer and/or in one status, ordered by trader id."""
        return sorted((s for s in self._entries.values()
                       if (issuer is None or s.issuer == issuer) and (status is None or s.status == status)),
                      key=lambda s: s.trader_id)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[TraderStatus]:
        return iter(list(self._entries.values()))
