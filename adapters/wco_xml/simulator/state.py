"""What a running simulator remembers: the declarations it registered, by key, in a registration book.

The book is :class:`gateway.sdk.registry.RegistrationBook` (SQLite); the knobs are ``gateway.sdk.simkit``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.sdk.registry import ORIGINAL, Registered, RegistrationBook

__all__ = ["Registrations"]


class Registrations:
    """Declarations registered, once per idempotency key, with the answer each got (replayed on redelivery).

    Args:
        member: the member code, the middle of each customs reference.
        path: the SQLite file the registrations and the reference series are kept in (created when missing);
            None keeps them in memory.

    Raises:
        ValueError: ``path`` is not a registration book (an old JSON state file...); the message names it.
    """

    def __init__(self, member: str, path: str | Path | None = None) -> None:
        self.member = member
        self.book = RegistrationBook(path)

    def answer_for(self, key: str) -> bytes | None:
        """Return the answer given when ``key`` was registered, or None (counts nothing).

        Args:
            key: an idempotency key.
        """
        found = self.book.get(key) if key else None
        return found.answer if found else None

    def replay(self, key: str) -> bytes | None:
        """Return the answer given when ``key`` was registered, counting this redelivery; None when unknown.

        Args:
            key: an idempotency key.
        """
        found = self.book.replay(key) if key else None
        return found.answer if found else None

    def taken(self, declarant: str, lrn: str, function_code: str, digest: str) -> Registered | None:
        """Return the original whose reference this declaration would reuse (refuse it), or None.

        Args:
            declarant: the declarant's id in the document.
            lrn: the trader's reference.
            function_code: 9 original, 13 amendment or cancellation (never refused).
            digest: :func:`gateway.sdk.registry.content_digest` of the document.
        """
        return self.book.conflict(declarant, lrn, function_code, digest)

    def next_reference(self, now: datetime | None = None) -> tuple[str, datetime]:
        """Allocate the next customs reference (``26NZ000000001``) and its acceptance time.

        Args:
            now: the acceptance time; default now (UTC).
        """
        when = now or datetime.now(UTC).replace(microsecond=0)
        return f"{when:%y}{self.member}{self.book.next_number('reference'):09d}", when

    def record(self, key: str, answer: bytes, *, reference: str = "", declarant: str = "", lrn: str = "",
               function_code: str = ORIGINAL, digest: str = "") -> None:
        """Remember the answer under ``key``; call once, when the declaration is registered.

        Args:
            key: the idempotency key.
            answer: the Response sent.
            reference: the customs reference given.
            declarant: the declarant's id in the document ('' when unknown: no LRN rule then).
            lrn: the trader's reference.
            function_code: 9 original, 13 amendment or cancellation.
            digest: :func:`gateway.sdk.registry.content_digest` of the document.
        """
        self.book.register(key, declarant=declarant, lrn=lrn, function_code=function_code, digest=digest,
                           reference=reference, answer=answer)

    def count(self, key: str) -> int:
        """Return how many times ``key`` was registered: 0 or 1, since a key is registered once.

        Args:
            key: an idempotency key.
        """
        return self.book.count(key)

    def totals(self) -> dict[str, Any]:
        """Return the book's totals (``GET /control/registrations`` without a key)."""
        return self.book.totals()
