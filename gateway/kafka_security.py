"""Client security options from the settings: the one place that says how a process authenticates to Kafka.

Every Kafka client of the gateway, the delivery workers, the tools, the ``kafka`` adapter and the benchmark
takes its options from here: :func:`client_options` for aiokafka (``AIOKafkaProducer(**options, ...)``) and
:func:`faststream_security` for FastStream's ``KafkaBroker(security=...)``.

The password is looked up in this order: ``OCO_KAFKA__PASSWORD``, ``kafka.password_file``,
``kafka.secrets_dir/<username>`` (a Kubernetes Secret mounted as a folder holds one file per key). It is
read when a client is built, never logged, and never taken from the network file.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from gateway.config import KafkaSettings
from gateway.errors import ConfigError

__all__ = ["acting_as", "client_options", "faststream_security", "read_password", "read_secret_file", "ssl_context"]


def acting_as(kafka: KafkaSettings, identity: str) -> KafkaSettings:
    """Return the settings of a process acting as ``identity`` (``submit --as P``, ``aeo ... --member M``).

    The user name defaults to ``identity`` when a password source (``password``, ``password_file``,
    ``secrets_dir``) is configured without one; an explicit ``kafka.username`` is kept (the broker's ACLs
    decide what it may do); with no credentials at all the connection stays anonymous (an insecure broker).

    Args:
        kafka: the process's Kafka settings.
        identity: the identity the command acts as.
    """
    if kafka.username or not (kafka.password or kafka.password_file or kafka.secrets_dir):
        return kafka
    return kafka.model_copy(update={"username": identity})


def read_secret_file(path: Path, what: str) -> str:
    """Return a secret kept in a file, without its trailing newline.

    Args:
        path: the file (a mounted Secret's key, a development secrets folder's file).
        what: what the secret is, for the error message.

    Raises:
        ConfigError: the file cannot be read or is empty; the message names the file, never its content.
    """
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} from {path}: {exc.strerror or exc}") from exc
    if not secret:
        raise ConfigError(f"{path} is empty: it should hold {what}")
    return secret


def read_password(kafka: KafkaSettings) -> str:
    """Return the password of ``kafka.username``.

    Raises:
        ConfigError: no password is given anywhere, or its file cannot be read.
    """
    what = f"the Kafka password of {kafka.username}"
    if kafka.password is not None:
        return kafka.password.get_secret_value()
    if kafka.password_file is not None:
        return read_secret_file(kafka.password_file, what)
    if kafka.secrets_dir is not None and kafka.username:
        return read_secret_file(kafka.secrets_dir / kafka.username, what)
    raise ConfigError(f"kafka.username is {kafka.username} but no password is given: set OCO_KAFKA__PASSWORD, "
                      "kafka.password_file (OCO_KAFKA__PASSWORD_FILE) or kafka.secrets_dir (OCO_KAFKA__SECRETS_DIR)")


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """Return the TLS context of a connection: the broker's certificate checked (host name included) against
    ``ssl_cafile`` (the system's CAs without it), and the client certificate presented when one is set.

    Raises:
        ConfigError: a certificate or key file cannot be loaded.
    """
    try:
        context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
        if kafka.ssl_certfile is not None:
            context.load_cert_chain(str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the Kafka TLS files (kafka.ssl_cafile, ssl_certfile, ssl_keyfile): {exc}") \
            from exc
    return context


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Return the security keyword arguments of an aiokafka client (producer, consumer, admin).

    ``bootstrap_servers`` is not included: pass it beside them.

    Args:
        kafka: the process's Kafka settings.

    Raises:
        ConfigError: the password or a TLS file cannot be read.
    """
    protocol = kafka.protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        options.update(sasl_mechanism=kafka.sasl_mechanism, sasl_plain_username=kafka.username,
                       sasl_plain_password=read_password(kafka))
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl_context(kafka)
    return options


def faststream_security(kafka: KafkaSettings) -> BaseSecurity | None:
    """Return the same options as FastStream's ``security=`` object (None for PLAINTEXT).

    Raises:
        ConfigError: the password or a TLS file cannot be read.
    """
    protocol = kafka.protocol
    context = ssl_context(kafka) if protocol.endswith("SSL") else None
    if not protocol.startswith("SASL_"):
        return BaseSecurity(ssl_context=context) if context is not None else None
    kind = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}[kafka.sasl_mechanism]
    assert kafka.username is not None  # KafkaSettings refuses SASL without one
    return kind(kafka.username, read_password(kafka), ssl_context=context, use_ssl=context is not None)
