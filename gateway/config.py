"""Network configuration: members, participants, Kafka and limits, from a YAML file and ``OCO_*`` variables.

Loaded and validated once at start-up; a mistake stops the gateway with a message naming the key.
Environment variables override the file, nested keys joined by ``__`` (``OCO_KAFKA__BOOTSTRAP_SERVERS``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.errors import ConfigError

__all__ = [
    "AdapterSettings",
    "DeliverySettings",
    "GatewaySettings",
    "KafkaSettings",
    "LimitsSettings",
    "MemberSettings",
    "MetricsSettings",
    "ParticipantSettings",
    "default_profiles_dir",
    "load_settings",
]

_PARTICIPANT_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"  # also a topic-name suffix: keep it ACL-friendly


def default_profiles_dir() -> Path:
    """Return the schema profiles folder: ``OCO_PROFILES_DIR``, else the repository's ``schemas/``."""
    env = os.environ.get("OCO_PROFILES_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "schemas"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Strict):
    """How the gateway reaches the Kafka cluster."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "oco-gateway"
    group_id: str = "oco-gateway"
    batch_max_records: int = Field(500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(50, ge=1, le=10_000)
    partitions: int = Field(3, ge=1, description="partitions of the topics the gateway creates")
    replication_factor: int = Field(1, ge=1)


class MetricsSettings(_Strict):
    """Where ``/metrics``, ``/healthz`` and ``/readyz`` are served."""

    host: str = "0.0.0.0"
    port: int = Field(9464, ge=0, le=65535)


class LimitsSettings(_Strict):
    """Limits on hostile or accidental input."""

    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_depth: int | None = Field(None, ge=1, le=255, description="element nesting limit; libxml2 stops at 256")


class AdapterSettings(_Strict):
    """Which national connector delivers to a member, and its own settings (checked by the adapter)."""

    name: str
    settings: dict[str, Any] = Field(default_factory=dict)


class DeliverySettings(_Strict):
    """How one member's deliveries are paced and retried (each member has its own)."""

    rate_per_second: float = Field(50.0, gt=0, description="most national calls per second")
    max_attempts: int = Field(8, ge=1, le=100)
    base_delay: float = Field(1.0, gt=0, description="seconds before the first retry (then doubled)")
    max_delay: float = Field(300.0, gt=0)
    breaker_failures: int = Field(5, ge=1, description="consecutive failures that open the circuit")
    breaker_reset: float = Field(30.0, gt=0, description="seconds before a probe of an open circuit")
    call_timeout: float = Field(120.0, gt=0, description="longest a national call may take, whatever the adapter")


class ParticipantSettings(_Strict):
    """A system that submits declarations: a trader, a broker, a post office, a member's own system."""

    name: str


class MemberSettings(_Strict):
    """A member customs administration, and who may submit declarations for it."""

    name: str
    submitters: tuple[str, ...] = ()
    adapter: AdapterSettings | None = None
    delivery: DeliverySettings = DeliverySettings()


class GatewaySettings(BaseSettings):
    """Everything the gateway needs to run, validated as a whole."""

    model_config = SettingsConfigDict(env_prefix="OCO_", env_nested_delimiter="__", extra="forbid", frozen=True)

    kafka: KafkaSettings = KafkaSettings()
    metrics: MetricsSettings = MetricsSettings()
    gateway: LimitsSettings = LimitsSettings()
    profiles_dir: Path = Field(default_factory=default_profiles_dir)
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    participants: dict[str, ParticipantSettings] = Field(default_factory=dict)
    members: dict[str, MemberSettings] = Field(default_factory=dict)

    @field_validator("participants")
    @classmethod
    def _participant_ids(cls, value: dict[str, ParticipantSettings]) -> dict[str, ParticipantSettings]:
        for pid in value:
            if not re.match(_PARTICIPANT_ID, pid):
                raise ValueError(f"participant id {pid!r} must be lower-case letters, digits and '-' (2-63)")
        return value

    @field_validator("members")
    @classmethod
    def _member_codes(cls, value: dict[str, MemberSettings]) -> dict[str, MemberSettings]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"member code {code!r} must be an ISO 3166-1 alpha-2 code such as FJ")
        return value

    @model_validator(mode="after")
    def _submitters_are_participants(self) -> GatewaySettings:
        for code, member in self.members.items():
            unknown = sorted(set(member.submitters) - set(self.participants))
            if unknown:
                raise ValueError(
                    f"members.{code}.submitters names {', '.join(unknown)}, not declared under participants"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file (passed as init values), as operators expect from containers.
        return env_settings, init_settings

    def may_submit(self, participant: str, member: str) -> bool:
        """Tell whether a participant may submit declarations for a member.

        Args:
            participant: participant id (from the submit topic).
            member: member code (the declaration's ResponsibleCountryCode).
        """
        found = self.members.get(member)
        return found is not None and participant in found.submitters


def load_settings(path: str | Path | None = None) -> GatewaySettings:
    """Read and validate the configuration.

    Args:
        path: YAML file; defaults to ``OCO_CONFIG``; with neither, only defaults and the environment apply.

    Raises:
        ConfigError: the file is missing or unreadable, or a value is invalid; the message names each key.
    """
    path = path or os.environ.get("OCO_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration file {path} must hold a mapping at the top level")
        data = loaded or {}
    try:
        return GatewaySettings(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from exc


def _explain(exc: ValidationError, path: str | Path | None) -> str:
    where = f"configuration {path}" if path else "configuration (environment)"
    lines = [f"{where} is invalid:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling)"
        lines.append(f"  - {key}: {msg}")
    return "\n".join(lines)
