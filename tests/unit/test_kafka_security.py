"""Client security from the settings: protocol, credentials, TLS, the production switch, and no secret leaks."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import yaml
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from gateway.config import GatewaySettings, KafkaSettings, load_settings
from gateway.errors import ConfigError
from gateway.kafka_security import acting_as, client_options, faststream_security, read_password


def network(tmp_path: Path, **kafka: object) -> Path:
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump({"kafka": kafka, "participants": {"fj-broker": {"name": "x"}},
                                    "members": {"FJ": {"name": "Fiji", "submitters": ["fj-broker"]}}}))
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OCO_ variable of the developer's shell leaks into these tests."""
    import os

    for key in [k for k in os.environ if k.startswith("OCO_")]:
        monkeypatch.delenv(key)


class TestProtocol:
    def test_plaintext_without_credentials(self) -> None:
        """No username and no TLS file: PLAINTEXT, no SASL options."""
        assert client_options(KafkaSettings()) == {"security_protocol": "PLAINTEXT"}
        assert faststream_security(KafkaSettings()) is None

    def test_username_means_sasl_scram(self) -> None:
        """A username selects SASL_PLAINTEXT with SCRAM-SHA-256 and the password."""
        options = client_options(KafkaSettings(username="oco-gateway", password="s3cret-pass"))
        assert options == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                           "sasl_plain_username": "oco-gateway", "sasl_plain_password": "s3cret-pass"}

    def test_tls_file_and_username_mean_sasl_ssl(self, tmp_path: Path) -> None:
        """With a CA file too, the protocol is SASL_SSL and a TLS context is built from it."""
        ca = _self_signed_ca(tmp_path)
        kafka = KafkaSettings(username="u", password="p", ssl_cafile=ca)
        options = client_options(kafka)
        assert options["security_protocol"] == "SASL_SSL"
        assert isinstance(options["ssl_context"], ssl.SSLContext)
        assert options["ssl_context"].check_hostname

    def test_faststream_security_mirrors_the_options(self) -> None:
        """FastStream gets the same mechanism, user and password."""
        security = faststream_security(KafkaSettings(username="u", password="p"))
        assert isinstance(security, SASLScram256) and not security.use_ssl
        assert (security.username, security.password) == ("u", "p")
        other = faststream_security(KafkaSettings(username="u", password="p", sasl_mechanism="SCRAM-SHA-512"))
        assert isinstance(other, SASLScram512)

    def test_ssl_without_sasl(self, tmp_path: Path) -> None:
        """A CA file alone means SSL; FastStream gets a plain TLS security object."""
        security = faststream_security(KafkaSettings(ssl_cafile=_self_signed_ca(tmp_path)))
        assert type(security) is BaseSecurity and security.use_ssl

    def test_sasl_without_username_is_refused(self) -> None:
        """An explicit SASL protocol needs a username."""
        with pytest.raises(ValueError, match="needs kafka.username"):
            KafkaSettings(security_protocol="SASL_SSL")

    def test_client_certificate_needs_its_key(self, tmp_path: Path) -> None:
        """ssl_certfile without ssl_keyfile is refused."""
        with pytest.raises(ValueError, match="go together"):
            KafkaSettings(ssl_certfile=tmp_path / "c.pem")


class TestPassword:
    def test_environment_first_then_file_then_secrets_dir(self, tmp_path: Path) -> None:
        """OCO_KAFKA__PASSWORD wins over password_file, which wins over secrets_dir/<username>."""
        (tmp_path / "file").write_text("from-file\n")
        (tmp_path / "u").write_text("from-dir\n")
        assert read_password(KafkaSettings(username="u", password="env", password_file=tmp_path / "file")) == "env"
        assert read_password(KafkaSettings(username="u", password_file=tmp_path / "file")) == "from-file"
        assert read_password(KafkaSettings(username="u", secrets_dir=tmp_path)) == "from-dir"

    def test_missing_password_says_where_to_put_it(self) -> None:
        """No password anywhere: the error names the three places, not a secret."""
        with pytest.raises(ConfigError, match="OCO_KAFKA__PASSWORD.*PASSWORD_FILE.*SECRETS_DIR"):
            client_options(KafkaSettings(username="u"))

    def test_unreadable_file_is_named_not_shown(self, tmp_path: Path) -> None:
        """A missing password file is named in the error."""
        with pytest.raises(ConfigError, match="no-such-file"):
            read_password(KafkaSettings(username="u", password_file=tmp_path / "no-such-file"))

    def test_password_in_the_network_file_is_refused(self, tmp_path: Path) -> None:
        """kafka.password written in the YAML stops the load, with the operator's way out."""
        with pytest.raises(ConfigError, match="must not be written in the network file.*OCO_KAFKA__PASSWORD"):
            load_settings(network(tmp_path, username="u", password="leaked"))

    def test_password_from_the_environment_is_hidden(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """OCO_KAFKA__PASSWORD is accepted, and neither repr nor str of the settings shows it."""
        monkeypatch.setenv("OCO_KAFKA__USERNAME", "oco-gateway")
        monkeypatch.setenv("OCO_KAFKA__PASSWORD", "very-secret-value")
        settings = load_settings(network(tmp_path))
        assert read_password(settings.kafka) == "very-secret-value"
        assert "very-secret-value" not in repr(settings) and "very-secret-value" not in str(settings.kafka)
        assert "very-secret-value" not in settings.model_dump_json()

    def test_acting_as_defaults_the_username_only_with_a_password_source(self, tmp_path: Path) -> None:
        """submit --as P: P's identity when a secrets folder is set; an explicit username is kept; none stays none."""
        assert acting_as(KafkaSettings(secrets_dir=tmp_path), "fj-broker").username == "fj-broker"
        assert acting_as(KafkaSettings(username="oco-admin", password="x"), "fj-broker").username == "oco-admin"
        assert acting_as(KafkaSettings(), "fj-broker").username is None


class TestProduction:
    @pytest.mark.parametrize(("kafka", "problem"), [
        ({}, "not encrypted and not authenticated"),
        ({"username": "u"}, "not encrypted"),
        ({"security_protocol": "SSL"}, "not authenticated"),
    ])
    def test_insecure_connections_are_refused(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              kafka: dict[str, str], problem: str) -> None:
        """environment: production refuses PLAINTEXT, SASL without TLS and TLS without a client identity."""
        monkeypatch.setenv("OCO_ENVIRONMENT", "production")
        with pytest.raises(ConfigError, match=f"production.*{problem}.*allow_insecure"):
            load_settings(network(tmp_path, **kafka))

    def test_sasl_ssl_is_accepted(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """SASL over TLS passes; so does an insecure connection explicitly allowed."""
        monkeypatch.setenv("OCO_ENVIRONMENT", "production")
        assert load_settings(network(tmp_path, security_protocol="SASL_SSL", username="u")).kafka.protocol == "SASL_SSL"
        assert load_settings(network(tmp_path, allow_insecure=True)).environment == "production"

    def test_plain_mechanism_needs_tls(self) -> None:
        """SASL/PLAIN sends the password as it is: only over TLS."""
        assert "in clear" in (KafkaSettings(username="u", sasl_mechanism="PLAIN").secure_enough() or "")
        assert KafkaSettings(username="u", security_protocol="SASL_SSL", sasl_mechanism="PLAIN").secure_enough() is None

    def test_development_accepts_anything(self) -> None:
        """The default environment checks nothing."""
        assert GatewaySettings().environment == "development"


def _self_signed_ca(tmp_path: Path) -> Path:
    """Write a self-signed CA certificate (PEM) and return its path."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path
