"""Network configuration: members, participants, Kafka and limits, from a YAML file and ``OCO_*`` variables.

Loaded and validated once at start-up; a mistake stops the gateway with a message naming the key.
Environment variables override the file, nested keys joined by ``__`` (``OCO_KAFKA__BOOTSTRAP_SERVERS``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.errors import ConfigError

__all__ = [
    "AdapterSettings",
    "AeoSettings",
    "DeliverySettings",
    "GatewaySettings",
    "KafkaSettings",
    "LimitsSettings",
    "MemberSettings",
    "MetricsSettings",
    "ParticipantSettings",
    "PartnerSettings",
    "ProfileVersionSettings",
    "RecognitionSettings",
    "TrustedKey",
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


_SECURITY_PROTOCOL = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class KafkaSettings(_Strict):
    """How this process reaches the Kafka cluster, and as whom.

    Each process runs as one identity (``username``); its password comes from the environment
    (``OCO_KAFKA__PASSWORD``), a file (``password_file``, a mounted Secret) or ``secrets_dir/<username>``, never
    from the network file. ``gateway.kafka_security`` turns these settings into client options.
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "oco-gateway"
    group_id: str = "oco-gateway"
    batch_max_records: int = Field(500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(50, ge=1, le=10_000)
    partitions: int = Field(3, ge=1, description="partitions of the topics the gateway creates")
    replication_factor: int = Field(1, ge=1)
    security_protocol: _SECURITY_PROTOCOL | None = Field(
        None, description="default: SASL_* with a username, *_SSL with an ssl_* file, else PLAINTEXT")
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-256"
    username: str | None = Field(None, min_length=1, description="this process's identity (SASL user name)")
    password: SecretStr | None = Field(None, description="from OCO_KAFKA__PASSWORD only, never the file")
    password_file: Path | None = Field(None, description="file holding the password (a mounted Secret)")
    secrets_dir: Path | None = Field(None, description="folder of password files named after identities")
    ssl_cafile: Path | None = Field(None, description="CA certificates (PEM) the broker's certificate must chain to")
    ssl_certfile: Path | None = Field(None, description="client certificate (PEM), for brokers requiring mTLS")
    ssl_keyfile: Path | None = Field(None, description="the client certificate's private key (PEM)")
    allow_insecure: bool = Field(False, description="production: accept a connection that is not both encrypted "
                                 "and authenticated")

    @property
    def protocol(self) -> str:
        """The security protocol in effect: ``security_protocol``, else derived from the other settings."""
        if self.security_protocol is not None:
            return self.security_protocol
        tls = any(f is not None for f in (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile))
        return ("SASL_" if self.username else "") + ("SSL" if tls else "PLAINTEXT")

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        if self.protocol.startswith("SASL_") and not self.username:
            raise ValueError(f"security_protocol {self.protocol} needs kafka.username (OCO_KAFKA__USERNAME)")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together (the client certificate and its key)")
        return self

    def secure_enough(self) -> str | None:
        """Say what is unsafe about this connection (not encrypted, not authenticated), or None when it is both."""
        protocol = self.protocol
        problems = []
        if not protocol.endswith("SSL"):
            problems.append("not encrypted")
        if not protocol.startswith("SASL_") and not (protocol == "SSL" and self.ssl_certfile):
            problems.append("not authenticated")
        if protocol.startswith("SASL_") and self.sasl_mechanism == "PLAIN" and not protocol.endswith("SSL"):
            problems.append("sends the password in clear (PLAIN)")
        return " and ".join(problems) or None


class MetricsSettings(_Strict):
    """Where ``/metrics``, ``/healthz`` and ``/readyz`` are served."""

    host: str = "0.0.0.0"
    port: int = Field(9464, ge=0, le=65535)


RECORD_HEADROOM = 64 * 1024
"""Bytes a record may carry beyond ``max_message_bytes`` (headers, key, batch framing): the producer's
``max_request_size`` and the topics' ``max.message.bytes`` are ``max_message_bytes`` plus this."""


class LimitsSettings(_Strict):
    """Limits on hostile or accidental input, and on what one message may cost (docs/operations.md, *Limits*)."""

    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_depth: int | None = Field(None, ge=1, le=255, description="element nesting limit; libxml2 stops at 256")
    max_schema_errors: int = Field(100, ge=1, le=500, description="schema errors listed in a rejection; the "
                                   "Response ends with OCO-ERRORS-TRUNCATED when there were more")
    workers: int = Field(2, ge=1, le=64, description="pipeline worker threads; a participant uses one at a time")
    batch_seconds: float = Field(0.5, gt=0, le=60, description="a batch starts no message after this; the rest is "
                                 "read again in the next batch")
    slow_message_seconds: float = Field(0.5, gt=0, le=60, description="a message still running after this leaves "
                                        "its batch (slow lane): its participant's partitions wait, nobody else")
    max_seconds_per_message: float = Field(30.0, gt=0, le=3600, description="a message still running after this "
                                           "is given up: rejected (OCO-TIMEOUT) and parked")
    shutdown_grace_seconds: float = Field(25.0, gt=0, le=3600, description="on SIGTERM, how long work in hand "
                                          "may take to finish before it is handed back (keep it below Kubernetes' "
                                          "terminationGracePeriodSeconds)")
    exactly_once: bool = Field(False, description="publish outputs and commit consumed offsets in one Kafka "
                               "transaction (gateway and delivery workers); readers then see each output once")

    @property
    def max_record_bytes(self) -> int:
        """The largest record the gateway publishes (and its producer and topics accept)."""
        return self.max_message_bytes + RECORD_HEADROOM

    @model_validator(mode="after")
    def _ordered(self) -> LimitsSettings:
        if self.max_seconds_per_message <= self.slow_message_seconds:
            raise ValueError("max_seconds_per_message must be longer than slow_message_seconds")
        return self


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
    priority_burst: int = Field(10, ge=1, le=10_000, description="priority-lane records handled in a row, while "
                                "ordinary records or retries wait, before one of those gets its turn")
    concurrency: int = Field(4, ge=1, le=256, description="most national calls in flight at once, never two for "
                             "one declaration (participant + LRN); 1 handles one record at a time")


class ProfileVersionSettings(_Strict):
    """One entry of a ``profile_versions`` list: which profile version is submitted, from which date."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    profile: str = Field(min_length=1, description="a loaded profile's name (its profile.yaml `name:`)")
    since: dt.date | None = Field(None, alias="from", description="first day (UTC) it is used; unset: from the start")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"profile": value} if isinstance(value, str) else value


class ParticipantSettings(_Strict):
    """A system that submits declarations: a trader, a broker, a post office, a member's own system."""

    name: str
    acts_for: tuple[str, ...] | None = Field(
        None, description="trader ids (EORI-like, e.g. FJ0012345) it may name as declarant or representative; "
                          "a trailing * matches a prefix (FJ*), * alone matches any; unset: not bound (warned)")
    profile_versions: tuple[ProfileVersionSettings, ...] = Field(
        (), description="which version it submits of profiles its documents cannot tell apart (replaces the "
                        "top-level profile_versions for the profiles it names)")

    @field_validator("acts_for")
    @classmethod
    def _patterns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for pattern in value or ():
            if not re.fullmatch(r"\*|[A-Z0-9]{1,35}\*?", pattern):
                raise ValueError(f"acts_for entry {pattern!r} must be a trader id such as FJ0012345, a prefix such "
                                 "as FJ*, or * for any")
        return value

    def may_act_for(self, trader_id: str) -> bool:
        """Tell whether this participant may name ``trader_id`` as declarant or representative."""
        if self.acts_for is None:
            return True
        return any(p == "*" or p == trader_id or (p.endswith("*") and trader_id.startswith(p[:-1]))
                   for p in self.acts_for)


class MemberSettings(_Strict):
    """A member customs administration, and who may submit declarations for it."""

    name: str
    submitters: tuple[str, ...] = ()
    adapter: AdapterSettings | None = None
    delivery: DeliverySettings = DeliverySettings()


_CATEGORY = Literal["AEOC", "AEOS", "AEOF"]
_COUNTRY = r"^[A-Z]{2}$"


class TrustedKey(_Strict):
    """One public key of an administration (or MRA partner), as ``oco-gateway aeo keygen`` prints it.

    Public keys may sit in the network file; private keys never do (see docs/trusted-traders.md).
    """

    key_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    public_key: str = Field(description="the 32-byte Ed25519 public key, base64")
    retired: bool = Field(False, description="events signed with a retired key are refused")

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        import base64
        import binascii

        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("public_key must be base64 (as `oco-gateway aeo keygen` prints it)") from None
        if len(raw) != 32:
            raise ValueError(f"public_key must be a 32-byte Ed25519 key, got {len(raw)} bytes")
        return value


class MemberRecognition(_Strict):
    """A member's exceptions to the regional arrangement."""

    categories: tuple[_CATEGORY, ...] | None = Field(None, description="categories it recognises (default: regional)")
    not_from: tuple[str, ...] = Field((), description="issuers whose programmes it does not recognise")
    only_from: tuple[str, ...] | None = Field(None, description="if set, the only issuers it recognises")
    issuers: dict[str, tuple[_CATEGORY, ...]] = Field(
        default_factory=dict, description="categories it recognises per issuer, overriding the rest")


class RecognitionSettings(_Strict):
    """Mutual recognition: which member recognises which members' AEO programmes and categories."""

    regional: bool = Field(True, description="one regional arrangement: every member recognises every member")
    categories: tuple[_CATEGORY, ...] = ("AEOC", "AEOS", "AEOF")
    members: dict[str, MemberRecognition] = Field(default_factory=dict)


class PartnerSettings(_Strict):
    """An administration outside the network with which some members have a mutual recognition arrangement."""

    name: str
    recognised_by: tuple[str, ...] = Field(min_length=1, description="members whose MRA covers it")
    categories: tuple[_CATEGORY, ...] = ("AEOS", "AEOF")
    importer: str = Field(description="the member that imports the partner's snapshot files into the network")
    keys: tuple[TrustedKey, ...] = ()


class AeoSettings(_Strict):
    """The trusted-trader network: trust store, mutual recognition, external partners."""

    trust_store: Path | None = Field(None, description="YAML file: member -> list of public keys")
    keys: dict[str, tuple[TrustedKey, ...]] = Field(default_factory=dict,
                                                     description="public keys inline, member -> keys")
    recognition: RecognitionSettings = RecognitionSettings()
    partners: dict[str, PartnerSettings] = Field(default_factory=dict)
    load_timeout: float = Field(300.0, gt=0, description="seconds to wait for the registry at start-up")

    @field_validator("partners")
    @classmethod
    def _partner_codes(cls, value: dict[str, PartnerSettings]) -> dict[str, PartnerSettings]:
        for code in value:
            if not re.match(_COUNTRY, code):
                raise ValueError(f"partner code {code!r} must be an ISO 3166-1 alpha-2 code such as US")
        return value


class GatewaySettings(BaseSettings):
    """Everything the gateway needs to run, validated as a whole."""

    model_config = SettingsConfigDict(env_prefix="OCO_", env_nested_delimiter="__", extra="forbid", frozen=True)

    environment: Literal["development", "production"] = "development"
    kafka: KafkaSettings = KafkaSettings()
    metrics: MetricsSettings = MetricsSettings()
    gateway: LimitsSettings = LimitsSettings()
    profiles_dir: Path = Field(default_factory=default_profiles_dir)
    profile_versions: tuple[ProfileVersionSettings, ...] = Field(
        (), description="which version of profiles that documents cannot tell apart every participant submits")
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    participants: dict[str, ParticipantSettings] = Field(default_factory=dict)
    members: dict[str, MemberSettings] = Field(default_factory=dict)
    aeo: AeoSettings = AeoSettings()

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
        self._check_aeo()
        self._check_production()
        return self

    def _check_production(self) -> None:
        unsafe = self.kafka.secure_enough()
        if self.environment == "production" and unsafe and not self.kafka.allow_insecure:
            raise ValueError(
                f"environment is production, but the connection to Kafka ({self.kafka.protocol}) is {unsafe}: use "
                "kafka.security_protocol SASL_SSL with kafka.username and its password (OCO_KAFKA__PASSWORD or "
                "kafka.password_file), or set kafka.allow_insecure (OCO_KAFKA__ALLOW_INSECURE=true) to accept it")

    def _check_aeo(self) -> None:
        members = set(self.members)
        for code in self.aeo.recognition.members:
            if code not in members:
                raise ValueError(f"aeo.recognition.members.{code}: {code} is not a member")
        for code, partner in self.aeo.partners.items():
            if code in members:
                raise ValueError(f"aeo.partners.{code}: {code} is a member, not an outside partner")
            unknown = sorted(set(partner.recognised_by) - members)
            if unknown:
                raise ValueError(f"aeo.partners.{code}.recognised_by names {', '.join(unknown)}, not members")
            if partner.importer not in members:
                raise ValueError(f"aeo.partners.{code}.importer: {partner.importer} is not a member")

    @property
    def aeo_issuers(self) -> list[str]:
        """Every programme whose statuses the network carries: the members, then the MRA partners."""
        return sorted(self.members) + sorted(self.aeo.partners)

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
        kafka = data.get("kafka")
        if isinstance(kafka, dict) and "password" in kafka:
            raise ConfigError(
                f"configuration file {path}: kafka.password must not be written in the network file (it travels in "
                "ConfigMaps and repositories); give it as OCO_KAFKA__PASSWORD, or point kafka.password_file at a "
                "mounted Secret")
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
