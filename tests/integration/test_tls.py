"""TLS between clients and the broker, with a CA this test makes: SASL/SCRAM over TLS, client certificates.

A broker of its own, with a second listener (SASL_SSL, mutual TLS required) whose certificate a CA made here
signs for 127.0.0.1. The gateway's clients, configured only through ``kafka.ssl_cafile``, ``ssl_certfile``,
``ssl_keyfile`` and the SCRAM credentials, produce and consume over it; without the client certificate, or
trusting another CA, they are refused.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config import KafkaSettings
from gateway.kafka_security import client_options
from gateway.ops.broker import ADMIN_USER, BrokerTls, LocalBroker, free_ports

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

_PEM = serialization.Encoding.PEM
_PKCS8 = serialization.PrivateFormat.PKCS8
_NO_PASSWORD = serialization.NoEncryption()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OCO test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(folder: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    """A self-signed CA: its key, its certificate, and the certificate's PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(_PEM))
    return key, cert, path


def issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str, *,
          server: bool) -> tuple[bytes, bytes]:
    """A certificate signed by the CA (for 127.0.0.1 when ``server``): its PEM key (PKCS#8) and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return key.private_bytes(_PEM, _PKCS8, _NO_PASSWORD), cert.public_bytes(_PEM)


class TestTls:
    async def test_sasl_over_mutual_tls_with_a_ca_of_our_own(self, tmp_path: Path) -> None:
        """Produce and consume over SASL_SSL with the client's certificate; refused without it, and refused by
        a client that trusts another CA (the broker's certificate is checked, host name included)."""
        ca_key, ca_cert, ca_file = make_ca(tmp_path, "oco-test-ca")
        broker_key, broker_cert = issue(ca_key, ca_cert, "kafka.local", server=True)
        keystore = tmp_path / "broker.pem"
        keystore.write_bytes(broker_key + broker_cert)
        keystore.chmod(0o600)
        client_key, client_cert = issue(ca_key, ca_cert, "oco-gateway", server=False)
        (tmp_path / "client.key").write_bytes(client_key)
        (tmp_path / "client.pem").write_bytes(client_cert)
        _, _, other_ca = make_ca(tmp_path, "someone-else")

        port, controller, tls_port = free_ports(3)
        broker = LocalBroker(tmp_path / "kafka", port=port, controller_port=controller,
                             tls=BrokerTls(keystore, ca_file, tls_port, client_auth=True))
        broker.start(timeout=120)
        try:
            settings = KafkaSettings(bootstrap_servers=broker.tls_bootstrap_servers, username=ADMIN_USER,
                                     password_file=broker.admin_password_file, ssl_cafile=ca_file,
                                     ssl_certfile=tmp_path / "client.pem", ssl_keyfile=tmp_path / "client.key")
            assert settings.protocol == "SASL_SSL" and settings.secure_enough() is None
            options = client_options(settings)
            topic = "oco.tls.check"
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **options)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(topic, 1, 1)])
            finally:
                await admin.close()
            producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, **options, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(topic, b"<over TLS/>", key=b"k")
            finally:
                await producer.stop()
            consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, **options,
                                        enable_auto_commit=False)
            await consumer.start()
            try:
                tp = TopicPartition(topic, 0)
                consumer.assign([tp])
                await consumer.seek_to_beginning(tp)
                record = await asyncio.wait_for(consumer.getone(), timeout=30)
                assert record.value == b"<over TLS/>"
            finally:
                await consumer.stop()

            refused = {
                "no client certificate": settings.model_copy(update={"ssl_certfile": None, "ssl_keyfile": None}),
                "another CA trusted": settings.model_copy(update={"ssl_cafile": other_ca}),
            }
            for why, attempt in refused.items():
                probe = AIOKafkaAdminClient(bootstrap_servers=attempt.bootstrap_servers, **client_options(attempt),
                                            request_timeout_ms=5000)
                with pytest.raises((KafkaConnectionError, TimeoutError)):
                    await asyncio.wait_for(probe.start(), timeout=20)
                await probe.close()
                print(f"refused as expected: {why}")
        finally:
            broker.stop()
