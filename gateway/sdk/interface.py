"""The interface a national connector implements: Adapter, Declaration and the NationalAnswer it returns.

An adapter turns one validated WCO DM declaration into its national system's format, delivers it, and
reads the national answer back. It is a class that subclasses :class:`Adapter`, sets ``NAME``, and
implements :meth:`Adapter.deliver` and :meth:`Adapter.aclose`; it registers under the entry-point group
``oco_gateway.adapters``::

    [project.entry-points."oco_gateway.adapters"]
    asycuda = "adapters.asycuda:AsycudaAdapter"

The delivery worker owns everything around the call: retries with backoff, the circuit breaker, the rate
limit, the dead-letter topic and the WCO DM Response to the submitter. An adapter only says what happened:

- return a :class:`NationalAnswer` (registered, or rejected by the national system with its reasons);
- raise :class:`AdapterUnavailable` when the system could not be reached or did not answer in time
  (down, timeout, HTTP 5xx, no result file): the worker retries later;
- raise :class:`AdapterProtocolError` when the system answered something the adapter cannot read:
  retrying will not help, so the declaration is rejected and parked.

Deliveries are at-least-once: the same declaration may be delivered twice. Send
:attr:`Declaration.idempotency_key` to the national system so it registers it once.

An adapter checks its ``adapter.settings`` at start-up: see :mod:`gateway.sdk.settings`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from gateway.errors import Issue
from gateway.sdk.model import DeclarationModel

__all__ = [
    "Adapter",
    "Assessment",
    "Declaration",
    "NationalAnswer",
    "Registration",
    "TaxLine",
    "header_value",
    "idempotency_key",
]


def header_value(value: str) -> str:
    """Return ``value`` as an HTTP header can carry it: as is when printable ASCII, else percent-encoded UTF-8.

    An idempotency key holds the trader's LRN, which may be any text (``ÑÅ-東京``), while HTTP header values
    are ASCII (httpx refuses anything else). The encoding is stable, so a redelivery sends the same key, and
    ASCII keys travel unchanged. A national system knows such a key in this form.

    Args:
        value: the header value.
    """
    return value if value.isascii() and value.isprintable() else quote(value, safe="")


def idempotency_key(participant: str, lrn: str, function_code: str, payload: bytes) -> str:
    """Return the key under which a national system registers a declaration once.

    Participant + LRN + function code + version, the version being a digest of the document: a redelivery
    of the same message has the same key, an amendment with new content has another.

    Args:
        participant: the submitter.
        lrn: the trader's local reference number.
        function_code: 9 original, 13 amendment or cancellation.
        payload: the declaration as delivered.
    """
    version = hashlib.sha256(payload).hexdigest()[:16]
    return f"{participant}:{lrn}:{function_code}:{version}"


@dataclass(frozen=True, slots=True)
class Declaration:
    """A validated declaration on its way to one member's national system.

    Attributes:
        payload: the WCO DM XML document exactly as submitted (it passed the member's profile).
        member: destination member code (``FJ``).
        participant: who submitted it.
        lrn: the trader's local reference number.
        function_code: 9 original, 13 amendment or cancellation.
        tracking_id: the gateway's tracking id; log it with everything.
        idempotency_key: see :func:`idempotency_key`; send it to the national system.
        type_code: declaration type (``IMA``...), when known.
        attempt: 1 for the first delivery, then 2, 3... on retries.
        reader: builds :attr:`model` from the payload; the delivery worker passes the profiles' readers,
            None reads with the gateway's profiles folder.
    """

    payload: bytes
    member: str
    participant: str
    lrn: str
    function_code: str
    tracking_id: str
    idempotency_key: str
    type_code: str | None = None
    attempt: int = 1
    reader: Callable[[bytes], DeclarationModel] | None = field(default=None, repr=False, compare=False)
    _model: list[DeclarationModel] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def model(self) -> DeclarationModel:
        """The declaration's content as typed, read-only data: parties, references, items, taxes.

        Built on first use from the paths of the member's profile, then kept: an adapter that does not read
        it pays nothing. See :class:`DeclarationModel`; :attr:`payload` holds anything it does not carry.

        Raises:
            AdapterProtocolError: no loaded profile reads this document (the declaration cannot be mapped).
        """
        if not self._model:
            reader = self.reader
            if reader is None:
                from gateway.profiles._model import default_readers  # noqa: PLC0415 - lxml only when used
                reader = default_readers()
            self._model.append(reader(self.payload))
        return self._model[0]


@dataclass(frozen=True, slots=True)
class Registration:
    """How the national system registered the declaration (ASYCUDA: serial, number, date)."""

    reference: str  # the customs reference the trader quotes from now on, e.g. "FJSUV01 C 1234 2026"
    serial: str | None = None
    number: str | None = None
    date: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One assessed tax or duty, in its own currency when that is not the assessment's.

    Attributes:
        code: the national tax code (``CUD``, ``VAT``...).
        amount: the amount assessed.
        item: goods item sequence number, None for declaration-level taxes.
        currency: ISO 4217 code of ``amount``; None means :attr:`Assessment.currency`. Set it when the
            national system assesses a line in another currency (a duty collected in the invoice's
            currency): the submitter's Response then carries this line with its own ``currencyID``.
    """

    code: str
    amount: Decimal
    item: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The duties and taxes the national system assessed.

    ``currency`` is the currency of ``total`` and of every tax line that names none (:attr:`TaxLine.currency`);
    ``total`` sums only the lines in ``currency``.
    """

    number: str | None
    total: Decimal
    currency: str
    taxes: tuple[TaxLine, ...] = ()
    serial: str | None = None
    date: datetime | None = None


@dataclass(frozen=True, slots=True)
class NationalAnswer:
    """What the national system answered.

    Attributes:
        accepted: registered (True) or refused by the national system's own rules (False).
        registration: the registration, when accepted.
        assessment: the assessment, when the system assessed at once.
        issues: the national system's reasons, when refused.
        duplicate: the system had registered this idempotency key before and answered with that.
        raw: the national answer document, kept for the logs and the dead-letter topic.
    """

    accepted: bool
    registration: Registration | None = None
    assessment: Assessment | None = None
    issues: tuple[Issue, ...] = ()
    duplicate: bool = False
    raw: bytes | None = field(default=None, repr=False)


class Adapter(ABC):
    """Base class of every national connector.

    One instance serves one member; it is created at start-up with that member's ``adapter.settings``
    from the network configuration, and closed at shutdown.

    Args:
        member: the member code this instance delivers to.
        settings: the member's ``adapter.settings`` mapping; check it here with :func:`parse_settings`
            (or raise ``ConfigError`` with a message an operator understands: which key, what is expected).

    Raises:
        ConfigError: the settings are wrong.
    """

    NAME: ClassVar[str] = ""
    """The name operators write under ``members.<CODE>.adapter.name``."""

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        self.member = member
        self.settings = dict(settings)

    @abstractmethod
    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Deliver one declaration and return the national answer.

        Args:
            declaration: the validated declaration and its routing facts.

        Raises:
            AdapterUnavailable: not reachable, timed out, or answered "try later"; it will be retried.
            AdapterProtocolError: answered something unreadable; it will not be retried.
        """

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections, files and tasks; called once at shutdown."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.NAME!r} member={self.member}>"
