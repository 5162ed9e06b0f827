"""The interface a national connector implements; the only gateway module an adapter imports.

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

An adapter checks its ``adapter.settings`` at start-up with :func:`parse_settings` and a pydantic model.
An adapter with Kafka clients of its own (a member's cluster) takes their security from a
:class:`KafkaClientSecurity` setting and :func:`kafka_client_options`: passwords come from the environment or a
file, never from the network file.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from gateway.declaration_model import (Address, AeoHolder, Amount, DeclarationModel, DutyTaxLine, GoodsItem,
                                       Location, Party, Quantity, Transport)
from gateway.errors import AdapterProtocolError, AdapterUnavailable, ConfigError, Issue

__all__ = [
    "Adapter",
    "AdapterProtocolError",
    "AdapterUnavailable",
    "Address",
    "AeoHolder",
    "Amount",
    "Assessment",
    "ConfigError",
    "Declaration",
    "DeclarationModel",
    "DutyTaxLine",
    "GoodsItem",
    "Issue",
    "KafkaClientSecurity",
    "Location",
    "NationalAnswer",
    "Party",
    "Quantity",
    "Registration",
    "TaxLine",
    "Transport",
    "header_value",
    "idempotency_key",
    "kafka_client_options",
    "parse_settings",
]

M = TypeVar("M", bound=BaseModel)


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
    """One assessed tax or duty."""

    code: str
    amount: Decimal
    item: int | None = None  # goods item sequence number, None for declaration-level taxes


@dataclass(frozen=True, slots=True)
class Assessment:
    """The duties and taxes the national system assessed."""

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


class KafkaClientSecurity(BaseModel):
    """How an adapter's own Kafka clients authenticate to a member's cluster (``settings.security``).

    The protocol defaults as the gateway's own does: SASL with a username, TLS with a CA or client certificate.
    The password is the value of the environment variable ``password_env`` or the content of ``password_file``
    (a mounted Secret): a ``password`` written in the network file is refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-256"
    username: str | None = Field(None, min_length=1)
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="name of the environment variable holding the password")
    password_file: Path | None = Field(None, description="file holding the password")
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "password" in value:
            raise ValueError("a password must not be written in the network file: name the environment variable "
                             "holding it (password_env) or the file (password_file)")
        return value


def kafka_client_options(security: KafkaClientSecurity) -> dict[str, Any]:
    """Return the aiokafka keyword arguments (protocol, SASL, TLS context) of an adapter's Kafka clients.

    Raises:
        ConfigError: the password's variable or file is missing, or a TLS file cannot be loaded.
    """
    from gateway.config import KafkaSettings  # noqa: PLC0415 - keeps pydantic-settings out of adapter imports
    from gateway.kafka_security import client_options  # noqa: PLC0415

    password = None
    if security.password_env:
        password = os.environ.get(security.password_env)
        if not password:
            raise ConfigError(f"the environment variable {security.password_env} (security.password_env) is not set")
    try:
        kafka = KafkaSettings(**security.model_dump(exclude={"password_env"}), password=password)
    except ValidationError as exc:
        raise ConfigError(f"security: {exc.errors()[0]['msg']}") from exc
    return client_options(kafka)


def parse_settings(model: type[M], settings: Mapping[str, Any], *, member: str, adapter: str) -> M:
    """Check a member's ``adapter.settings`` against a pydantic model and return the model.

    The model declares each setting with its type, default and constraints, and states its special rules
    as pydantic validators; it must refuse unknown keys (a typo must not silently fall back to a default)::

        class MySettings(BaseModel):
            model_config = ConfigDict(extra="forbid", frozen=True)

            url: str = Field(description="the system's base URL, such as https://customs.example/api")
            timeout: float = Field(10.0, gt=0, le=600, strict=True)

        self.config = parse_settings(MySettings, settings, member=member, adapter=self.NAME)

    Validators receive the context ``{"member": ..., "adapter": ...}`` (``info.context``), for defaults that
    depend on the member. A ``ValueError`` a validator raises is shown to operators as written: say what is
    expected and quote the value. Declare a field with ``strict=True`` where pydantic would otherwise convert
    (``"10"`` or ``true`` to a number).

    Args:
        model: the adapter's settings model (``extra="forbid"``).
        settings: the member's ``adapter.settings`` mapping from the network configuration.
        member: the member code, to name keys as operators write them.
        adapter: the adapter's ``NAME``, for messages.

    Raises:
        ConfigError: one line per problem, each naming ``members.<CODE>.adapter.settings.<key>``; an unknown
            key's line lists the known ones.
        TypeError: the model does not refuse unknown keys (a bug in the adapter, not in the settings).
    """
    if model.model_config.get("extra") != "forbid":
        raise TypeError(f"{model.__qualname__} must refuse unknown settings: "
                        'model_config = ConfigDict(extra="forbid", frozen=True)')
    try:
        return model.model_validate(dict(settings), context={"member": member, "adapter": adapter})
    except ValidationError as exc:
        where = f"members.{member}.adapter.settings"
        raise ConfigError("\n".join(_explain(error, model, where, adapter)
                                    for error in exc.errors(include_url=False))) from exc


def _explain(error: ErrorDetails, model: type[BaseModel], where: str, adapter: str) -> str:
    # One pydantic error as one operator line: full key, what is wrong, and the value when it is plain.
    loc = tuple(error["loc"])
    key = ".".join([where, *(str(part) for part in loc)])
    if error["type"] == "extra_forbidden":
        known = _keys(_model_at(model, loc[:-1]))
        return (f"{key}: unknown setting for adapter {adapter}"
                + (f"; known settings: {', '.join(known)}" if known else ""))
    if error["type"] == "missing":
        field = _field_at(model, loc)
        return f"{key}: required, but not set" + (f" ({field.description})" if field and field.description else "")
    if error["type"] in ("value_error", "assertion_error"):  # the validator's own words
        return f"{key}: {error['msg'].removeprefix('Value error, ').removeprefix('Assertion failed, ')}"
    message = error["msg"][:1].lower() + error["msg"][1:]
    return f"{key}: {message}, not {_shown(error.get('input'))}"


def _shown(value: Any) -> str:
    # Quote plain values (shortened); name the type of anything else, which may hold secrets (headers).
    if value is None or isinstance(value, (str, int, float)):
        text = repr(value)
        return text if len(text) <= 60 else f"{text[:57]}..."
    return {dict: "a mapping", list: "a list"}.get(type(value), f"a {type(value).__name__}")


def _field_at(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> FieldInfo | None:
    # The field a location names, through nested models (list indexes stepped over).
    field = None
    for part in (part for part in loc if isinstance(part, str)):
        fields = {info.alias or name: info for name, info in model.model_fields.items()} if model else {}
        field = fields.get(part)
        if field is None:
            return None
        model = _nested_model(field.annotation)
    return field


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    # The model whose keys are allowed at a location: the settings model itself, or a nested one.
    if not any(isinstance(part, str) for part in loc):
        return model
    field = _field_at(model, loc)
    return _nested_model(field.annotation) if field else None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    # The model inside an annotation such as ``HotFolderSettings | None`` or ``list[Route]``.
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_nested_model, get_args(annotation))), None)


def _keys(model: type[BaseModel] | None) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()] if model else []
