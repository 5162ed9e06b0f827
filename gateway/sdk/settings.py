"""An adapter's settings: checked at start-up against a pydantic model, Kafka security without secrets in files.

An adapter checks its ``members.<CODE>.adapter.settings`` in ``__init__`` with :func:`parse_settings` and a
pydantic model that refuses unknown keys; every problem becomes one operator line naming the full key. An
adapter with Kafka clients of its own (a member's cluster) takes their security from a
:class:`KafkaClientSecurity` setting and :func:`kafka_client_options`: passwords come from the environment or a
file, never from the network file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from gateway.errors import ConfigError

__all__ = ["KafkaClientSecurity", "kafka_client_options", "parse_settings"]

M = TypeVar("M", bound=BaseModel)


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
