"""Ed25519 keys of the administrations: signing what one issues, and the trust store every gateway verifies with.

A signing key is a small JSON document (member, key id, private key) kept in a file with mode 0600 or a
Kubernetes Secret, never in the network file. The trust store holds only public keys, by member and key
id; a retired key stays listed so that what it signed is refused with that reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from gateway.aeo.status import ALGORITHM, Signature, TraderStatus
from gateway.config import AeoSettings, TrustedKey
from gateway.errors import ConfigError, EventRefused

__all__ = ["SIGNING_KEY_ENV", "SigningKey", "TrustStore", "load_signing_key"]

SIGNING_KEY_ENV = "OCO_AEO_SIGNING_KEY"
"""Environment variable holding a signing key's JSON, or the path of its file."""


@dataclass(frozen=True)
class SigningKey:
    """An administration's private key, with the key id under which its public half is trusted.

    Attributes:
        member: the member (or partner) it signs for.
        key_id: the id the trust store lists the public half under.
    """

    member: str
    key_id: str
    private: Ed25519PrivateKey

    @staticmethod
    def generate(member: str, key_id: str | None = None) -> SigningKey:
        """Make a new key pair; the default key id is ``<member>-<yyyymmdd>-<4 hex>``."""
        key_id = key_id or f"{member}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
        return SigningKey(member, key_id, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> str:
        """The public half, base64 of its 32 raw bytes, as the trust store lists it."""
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    def trusted_key(self) -> TrustedKey:
        """The trust-store entry of this key."""
        return TrustedKey(key_id=self.key_id, public_key=self.public_key)

    def sign(self, status: TraderStatus) -> TraderStatus:
        """Return the event signed with this key.

        Raises:
            ValueError: the event is not this member's to sign, or its details do not match its digest.
        """
        if status.issuer != self.member:
            raise ValueError(f"key {self.key_id} signs for {self.member}, not for issuer {status.issuer}")
        if not status.details_match():
            raise ValueError("the event's details do not match its digest")
        value = self.private.sign(status.canonical(self.key_id))
        return replace(status, signature=Signature(self.key_id, value))

    def sign_bytes(self, data: bytes) -> bytes:
        """Sign any bytes (a snapshot file)."""
        return self.private.sign(data)

    def to_json(self) -> str:
        """The key as the JSON document its file holds."""
        raw = self.private.private_bytes_raw()
        return json.dumps({"member": self.member, "key_id": self.key_id, "algorithm": ALGORITHM,
                           "private_key": base64.b64encode(raw).decode("ascii")}, indent=2) + "\n"

    def write(self, path: Path) -> None:
        """Write the key to a new file readable by its owner only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.to_json())

    def __repr__(self) -> str:  # never print the private key, even in a traceback
        return f"SigningKey(member={self.member!r}, key_id={self.key_id!r})"


def load_signing_key(source: str | Path | None = None) -> SigningKey:
    """Read a signing key: from a file, or from ``OCO_AEO_SIGNING_KEY`` (its JSON, or a file path).

    Raises:
        ConfigError: no key given, the file cannot be read, or it does not hold a key; the message never
            quotes the key.
    """
    text: str
    where: str
    if source is None:
        env = os.environ.get(SIGNING_KEY_ENV, "").strip()
        if not env:
            raise ConfigError(f"no signing key: pass --key FILE or set {SIGNING_KEY_ENV} "
                              "(make one with `oco-gateway aeo keygen --member M`)")
        if env.startswith("{"):
            text, where = env, SIGNING_KEY_ENV
        else:
            source = Path(env)
    if source is not None:
        where = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read signing key {where}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
        if data.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm must be {ALGORITHM}")
        raw = base64.b64decode(data["private_key"], validate=True)
        return SigningKey(str(data["member"]), str(data["key_id"]), Ed25519PrivateKey.from_private_bytes(raw))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        # The message names the problem, never the content: it may be a private key.
        raise ConfigError(f"signing key {where} is not a key made by `oco-gateway aeo keygen` "
                          f"({type(exc).__name__})") from None


@dataclass(frozen=True, slots=True)
class _Key:
    public: Ed25519PublicKey
    retired: bool


class TrustStore:
    """The public keys of every administration and partner, by member and key id.

    Args:
        keys: member (or partner) code -> its keys.
    """

    def __init__(self, keys: Mapping[str, Iterable[TrustedKey]]) -> None:
        self._keys: dict[str, dict[str, _Key]] = {}
        for member, entries in keys.items():
            for entry in entries:
                raw = base64.b64decode(entry.public_key)
                self._keys.setdefault(member, {})[entry.key_id] = _Key(
                    Ed25519PublicKey.from_public_bytes(raw), entry.retired)

    @classmethod
    def from_settings(cls, settings: AeoSettings) -> TrustStore:
        """Build the store from the network file (``aeo.keys``, partners' keys) and ``aeo.trust_store``.

        Raises:
            ConfigError: the trust store file cannot be read, or lists something that is not a key.
        """
        merged: dict[str, list[TrustedKey]] = {m: list(k) for m, k in settings.keys.items()}
        for code, partner in settings.partners.items():
            merged.setdefault(code, []).extend(partner.keys)
        if settings.trust_store is not None:
            for member, keys in _read_trust_file(settings.trust_store).items():
                merged.setdefault(member, []).extend(keys)
        return cls(merged)

    def members(self) -> list[str]:
        """The members and partners with at least one key."""
        return sorted(self._keys)

    def verify_bytes(self, member: str, key_id: str, data: bytes, signature: bytes) -> None:
        """Check a detached signature (a snapshot file) by one of ``member``'s current keys.

        Raises:
            EventRefused: unknown or retired key, or a bad signature.
        """
        key = self._key(member, key_id)
        try:
            key.public.verify(signature, data)
        except InvalidSignature:
            raise EventRefused("bad_signature", f"the signature by {member}'s key {key_id} does not verify") from None

    def verify(self, status: TraderStatus, *, topic_issuer: str | None = None) -> None:
        """Check that an event was signed by a current key of its issuer, within the issuer's jurisdiction.

        Args:
            status: the event, as read.
            topic_issuer: the issuer whose topic the event was read from, if from a topic.

        Raises:
            EventRefused: unsigned, unknown or retired key, bad signature (or details not matching the signed
                digest), or out of jurisdiction (trader of another country, or an issuer's event on another
                issuer's topic).
        """
        sig = status.signature
        if sig is None:
            raise EventRefused("unsigned", f"event {status.issuer}/{status.trader_id} #{status.sequence} carries no signature")
        if sig.algorithm != ALGORITHM:
            raise EventRefused("bad_signature", f"algorithm {sig.algorithm!r} is not {ALGORITHM}")
        key = self._key(status.issuer, sig.key_id)
        try:
            key.public.verify(sig.value, status.canonical(sig.key_id))
        except InvalidSignature:
            raise EventRefused("bad_signature", f"the signature of {status.issuer}/{status.trader_id} "
                               f"#{status.sequence} by key {sig.key_id} does not verify (altered or forged)") from None
        if not status.details_match():
            raise EventRefused("bad_signature", f"the name and address of {status.trader_id} #{status.sequence} "
                               "do not match the signed digest (altered)")
        if status.jurisdiction != status.issuer:
            raise EventRefused("out_of_jurisdiction", f"{status.issuer} may not change trader {status.trader_id}: "
                               f"only {status.jurisdiction} certifies traders whose AEO code starts with "
                               f"{status.jurisdiction}")
        if topic_issuer is not None and topic_issuer != status.issuer:
            raise EventRefused("out_of_jurisdiction", f"an event issued by {status.issuer} was found on "
                               f"{topic_issuer}'s topic; each administration publishes only its own")

    def _key(self, member: str, key_id: str) -> _Key:
        keys = self._keys.get(member)
        key = keys.get(key_id) if keys else None
        if key is None:
            owner = next((m for m, k in self._keys.items() if key_id in k), None)
            extra = f" (it is {owner}'s key)" if owner and owner != member else ""
            raise EventRefused("unknown_key", f"key {key_id!r} is not a trusted key of {member}{extra}")
        if key.retired:
            raise EventRefused("retired_key", f"key {key_id!r} of {member} is retired")
        return key


def _read_trust_file(path: Path) -> dict[str, list[TrustedKey]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the AEO trust store {path}: {exc.strerror or exc} "
                          "(aeo.trust_store, OCO_AEO__TRUST_STORE)") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"the AEO trust store {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"the AEO trust store {path} must map member codes to lists of keys")
    out: dict[str, list[TrustedKey]] = {}
    for member, keys in data.items():
        if not isinstance(keys, list):
            raise ConfigError(f"{path}: {member} must list its keys ({{key_id, public_key, retired}})")
        try:
            out[str(member)] = [TrustedKey.model_validate(k) for k in keys]
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path}: a key of {member} is invalid: {problems}") from None
    return out
