"""The signed snapshot file an administration sends its MRA partners every day (CSV or XML), and reading one back.

A snapshot holds the latest event of every trader one issuer certified. Each event keeps its own signature
(key id + Ed25519 signature over the event's canonical form, see ``status.py``), so every row can be
verified alone, whatever the file went through. Name and address are included only for the traders that
consented to the file's recipient (or, for an administration's own backup, for all of them); other rows carry
the public fields and the details digest only.

The whole file is signed too, by the issuer's current key, over the file's exact bytes; the signature sits in
``FILE.sig`` beside it (JSON: member, key_id, algorithm, sha256, signature in base64, the file's name). A file
whose signature does not verify is refused whole; a row whose own signature does not verify is refused alone.

Formats:

    csv   one header row (:data:`CSV_COLUMNS`), then one row per event; consent codes space-separated;
          name, address and salt empty when the row is the public view.
    xml   ``<AEOSnapshot xmlns="urn:oco:aeo:snapshot:1" issuer="FJ" recipient="US" created="..." events="N">``
          holding one OCO MetaData document per event, exactly as ``document.write_event`` writes it (public or
          full view); each is validated against ``schemas/oco`` on import, like an event read from a topic.

This module does no I/O beyond the two files and no Kafka: the ``oco-gateway aeo export|import`` commands
publish and read the registry.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lxml import etree

from gateway.aeo.document import write_event
from gateway.aeo.intake import EventReader
from gateway.aeo.signing import SigningKey, TrustStore
from gateway.aeo.status import ALGORITHM, Address, Signature, TraderDetails, TraderStatus, now_stamp
from gateway.errors import EventRefused

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "SNAPSHOT_NS",
    "FileSignature",
    "RowRefusal",
    "Snapshot",
    "SnapshotError",
    "detect_format",
    "read_snapshot",
    "read_snapshot_files",
    "signature_path",
    "snapshot_view",
    "verify_file",
    "write_snapshot",
    "write_snapshot_files",
]

FORMATS = ("csv", "xml")
SNAPSHOT_NS = "urn:oco:aeo:snapshot:1"
_ROOT = f"{{{SNAPSHOT_NS}}}AEOSnapshot"
_MD_ROOT = "{urn:wco:datamodel:WCO:DocumentMetaData-OCO:1}MetaData"

CSV_COLUMNS = (
    "trader_id", "category", "status", "effective", "expiry", "issuer", "sequence", "issued", "consent",
    "details_digest", "salt", "name", "address_line", "city", "postcode", "country",
    "key_id", "algorithm", "signature",
)
"""Every signed field of an event, the details (when included) and the event's signature."""

_DETAIL_COLUMNS = ("name", "address_line", "city", "postcode", "country")


class SnapshotError(ValueError):
    """The whole file is refused: unreadable, its signature missing or not verifying, or not a snapshot."""


@dataclass(frozen=True, slots=True)
class FileSignature:
    """The detached signature of a snapshot file (``FILE.sig``).

    Attributes:
        member: who signed: the issuer of every event in the file.
        key_id: which of its keys.
        sha256: hex SHA-256 of the file's bytes (a quick check; the signature is what counts).
        signature: Ed25519 signature of the file's bytes.
        file: the name of the file it signs (informative).
        algorithm: always ``Ed25519``.
    """

    member: str
    key_id: str
    sha256: str
    signature: bytes
    file: str = ""
    algorithm: str = ALGORITHM

    def to_json(self) -> str:
        """The JSON document of ``FILE.sig``."""
        return json.dumps({"member": self.member, "key_id": self.key_id, "algorithm": self.algorithm,
                           "sha256": self.sha256, "signature": base64.b64encode(self.signature).decode("ascii"),
                           "file": self.file}, indent=2) + "\n"

    @staticmethod
    def from_json(text: str | bytes, where: str = "the signature file") -> FileSignature:
        """Read a ``FILE.sig`` document.

        Raises:
            SnapshotError: not JSON, or a field missing or malformed.
        """
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return FileSignature(member=_text(data, "member"), key_id=_text(data, "key_id"),
                                 algorithm=_text(data, "algorithm"), sha256=_text(data, "sha256").lower(),
                                 signature=base64.b64decode(_text(data, "signature"), validate=True),
                                 file=str(data.get("file") or ""))
        except (ValueError, binascii.Error) as exc:
            raise SnapshotError(f"{where} is not a snapshot signature: {exc}") from None


def _text(data: dict[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} is missing")
    return value


@dataclass(frozen=True, slots=True)
class RowRefusal:
    """One event of a file that was refused, the rest of the file being accepted.

    Attributes:
        where: ``line 7`` (CSV) or ``event 3 (line 40)`` (XML).
        trader_id: the trader, when it could be read.
        reason: an :class:`EventRefused` reason, or ``duplicate`` (the trader appears twice).
        message: what is wrong.
    """

    where: str
    trader_id: str | None
    reason: str
    message: str

    def __str__(self) -> str:
        who = f" {self.trader_id}" if self.trader_id else ""
        return f"{self.where}{who}: {self.reason}: {self.message}"


@dataclass(slots=True)
class Snapshot:
    """A snapshot file whose signature verified, and what became of each of its events.

    Attributes:
        signer: the member or partner that signed the file (and issued every accepted event).
        key_id: the key it signed with.
        format: ``csv`` or ``xml``.
        events: the events that passed every check, in file order.
        refused: the events that did not, with why.
    """

    signer: str
    key_id: str
    format: str
    events: list[TraderStatus] = field(default_factory=list)
    refused: list[RowRefusal] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many events the file holds."""
        return len(self.events) + len(self.refused)


def snapshot_view(status: TraderStatus, recipient: str | None, *, all_details: bool = False) -> TraderStatus:
    """Return the view of an event a file for ``recipient`` carries.

    Args:
        status: the event, with its details when the issuer has them.
        recipient: the partner (or member) the file is for; None for no one in particular.
        all_details: keep every trader's details (an administration's own backup, never for a partner).
    """
    if all_details or (recipient is not None and recipient in status.consent):
        return status
    return status.public()


def detect_format(data: bytes) -> str:
    """Tell ``xml`` from ``csv`` by the first non-blank character."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "xml" if head == b"<" else "csv"


def write_snapshot(events: Iterable[TraderStatus], key: SigningKey, fmt: str, *, recipient: str | None = None,
                   all_details: bool = False, file_name: str = "") -> tuple[bytes, FileSignature]:
    """Return a snapshot file and its signature.

    Args:
        events: the latest event of each trader, all issued by ``key.member`` and signed.
        key: the issuer's current signing key; it signs the file.
        fmt: ``csv`` or ``xml``.
        recipient: the partner the file is for: name and address only for traders that consented to it.
        all_details: include every trader's name and address (the issuer's own backup).
        file_name: recorded in the signature file.

    Raises:
        ValueError: an unknown format, an unsigned event, or one issued by someone else.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    views = []
    for status in sorted(events, key=lambda s: s.trader_id):
        if status.signature is None:
            raise ValueError(f"event {status.trader_id} #{status.sequence} is not signed")
        if status.issuer != key.member:
            raise ValueError(f"a snapshot of {key.member} cannot carry {status.issuer}'s trader {status.trader_id}")
        views.append(snapshot_view(status, recipient, all_details=all_details))
    data = _write_csv(views) if fmt == "csv" else _write_xml(views, key.member, recipient)
    signature = FileSignature(member=key.member, key_id=key.key_id, sha256=hashlib.sha256(data).hexdigest(),
                              signature=key.sign_bytes(data), file=file_name)
    return data, signature


def _write_csv(events: Sequence[TraderStatus]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in events:
        assert s.signature is not None
        d = s.details
        a = d.address if d is not None else None
        writer.writerow([
            s.trader_id, s.category, s.status, s.effective.isoformat(), s.expiry.isoformat(), s.issuer,
            s.sequence, s.issued, " ".join(sorted(s.consent)), s.details_digest,
            d.salt if d else "", (d.name or "") if d else "",
            a.line if a else "", a.city if a else "", (a.postcode or "") if a else "", a.country if a else "",
            s.signature.key_id, s.signature.algorithm, base64.b64encode(s.signature.value).decode("ascii"),
        ])
    return out.getvalue().encode("utf-8")


def _write_xml(events: Sequence[TraderStatus], issuer: str, recipient: str | None) -> bytes:
    root = etree.Element(_ROOT, nsmap={None: SNAPSHOT_NS})
    root.set("issuer", issuer)
    if recipient:
        root.set("recipient", recipient)
    root.set("created", now_stamp())
    root.set("events", str(len(events)))
    for s in events:
        root.append(etree.fromstring(write_event(s, with_details=s.details is not None)))
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def signature_path(path: Path) -> Path:
    """Where the signature of a snapshot file lives: ``FILE.sig`` beside it."""
    return path.with_name(path.name + ".sig")


def write_snapshot_files(path: Path, data: bytes, signature: FileSignature) -> Path:
    """Write the file and its ``.sig`` beside it, each replaced whole (a reader never sees half a file).

    Returns:
        the signature file's path.

    Raises:
        OSError: a file cannot be written.
    """
    sig_path = signature_path(path)
    for target, content in ((path, data), (sig_path, signature.to_json().encode("utf-8"))):
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        try:
            tmp.write_bytes(content)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OSError(exc.errno, f"cannot write {target}: {exc.strerror or exc}") from None
    return sig_path


def read_snapshot_files(path: Path) -> tuple[bytes, FileSignature]:
    """Read a snapshot file and the signature beside it.

    Raises:
        SnapshotError: either file is missing or unreadable, or the signature file is not one.
    """
    sig_path = signature_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        sig_text = sig_path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read the signature {sig_path} ({exc.strerror or exc}): a snapshot is "
                            "imported only with the signature file its issuer made beside it") from None
    return data, FileSignature.from_json(sig_text, str(sig_path))


def verify_file(trust: TrustStore, data: bytes, signature: FileSignature) -> None:
    """Check a file against its detached signature.

    Raises:
        SnapshotError: altered, truncated, signed by an unknown or retired key, or the signature is wrong.
    """
    if signature.algorithm != ALGORITHM:
        raise SnapshotError(f"the file is signed with {signature.algorithm!r}; only {ALGORITHM} is accepted")
    if hashlib.sha256(data).hexdigest() != signature.sha256:
        raise SnapshotError(f"the file does not match its signature's SHA-256 ({signature.sha256[:12]}...): "
                            "it was altered or truncated after signing; whole file refused")
    try:
        trust.verify_bytes(signature.member, signature.key_id, data, signature.signature)
    except EventRefused as exc:
        raise SnapshotError(f"the file's signature is refused ({exc.reason}): {exc}; whole file refused") from None


def read_snapshot(data: bytes, signature: FileSignature, trust: TrustStore, reader: EventReader,
                  fmt: str | None = None) -> Snapshot:
    """Verify a snapshot file, then every event in it.

    The file's signature must verify with a current key of its signer, or nothing is read. Each event is
    then checked alone: readable and schema-valid (through ``reader``, as on a topic), issued by the file's
    signer (a file carries only its signer's own events), signed by a current key of the issuer, details
    matching the signed digest, within the issuer's jurisdiction, and its trader not already seen in the file.

    Args:
        data: the file's bytes.
        signature: the detached signature.
        trust: the public keys of members and partners.
        reader: the reading stages (safe parse, profile, XSD).
        fmt: ``csv`` or ``xml``; guessed from the content by default.

    Raises:
        SnapshotError: the file's signature fails, or the file is not a snapshot at all.
    """
    verify_file(trust, data, signature)
    fmt = fmt or detect_format(data)
    if fmt not in FORMATS:
        raise SnapshotError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    snapshot = Snapshot(signer=signature.member, key_id=signature.key_id, format=fmt)
    entries = _read_csv(data, reader) if fmt == "csv" else _read_xml(data, reader, signature.member)
    seen: dict[str, str] = {}
    for where, trader, status, refusal in entries:
        if refusal is None and status is not None:
            refusal = _check(status, signature.member, trust, seen)
            trader = status.trader_id
        if refusal is not None:
            snapshot.refused.append(RowRefusal(where, trader, refusal.reason, _message(refusal)))
            continue
        assert status is not None
        seen[status.trader_id] = where
        snapshot.events.append(status)
    return snapshot


class _Duplicate(Exception):
    reason = "duplicate"


def _message(refusal: Exception) -> str:
    if isinstance(refusal, EventRefused):
        return refusal.issues[0].message
    return str(refusal)


def _check(status: TraderStatus, signer: str, trust: TrustStore, seen: dict[str, str]) -> Exception | None:
    if status.issuer != signer:
        return EventRefused("out_of_jurisdiction", f"issued by {status.issuer}, but the file is signed by {signer}: "
                            "a file carries only its signer's own events")
    try:
        trust.verify(status)
    except EventRefused as exc:
        return exc
    if status.trader_id in seen:
        return _Duplicate(f"{status.trader_id} already appears at {seen[status.trader_id]}; a snapshot holds "
                          "one event per trader")
    return None


_Entry = tuple[str, str | None, TraderStatus | None, Exception | None]


def _read_csv(data: bytes, reader: EventReader) -> list[_Entry]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"the CSV file is not UTF-8: {exc}") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None or tuple(h.strip() for h in header) != CSV_COLUMNS:
        raise SnapshotError("not a snapshot CSV: the header must be " + ",".join(CSV_COLUMNS))
    entries: list[_Entry] = []
    try:
        start = rows.line_num + 1
        for row in rows:
            where, start = f"line {start}", rows.line_num + 1  # a quoted value may span lines: say where it starts
            if not any(cell.strip() for cell in row):
                continue
            trader = (row[0].strip() or None) if row else None
            if len(row) != len(CSV_COLUMNS):
                entries.append((where, trader, None, EventRefused(
                    "invalid", f"{len(row)} fields, the header has {len(CSV_COLUMNS)}")))
                continue
            try:
                status = _row_event(dict(zip(CSV_COLUMNS, row, strict=True)))
                status = _validated(status, reader)
            except EventRefused as exc:
                entries.append((where, trader, None, exc))
                continue
            entries.append((where, trader, status, None))
    except csv.Error as exc:
        raise SnapshotError(f"the CSV file cannot be read at line {rows.line_num}: {exc}") from None
    return entries


def _row_event(row: dict[str, str]) -> TraderStatus:
    """Rebuild an event from a CSV row; raise EventRefused (invalid) with the column at fault."""
    def day(name: str) -> date:
        try:
            return date.fromisoformat(row[name])
        except ValueError:
            raise EventRefused("invalid", f"{name} {row[name]!r} is not a date (YYYY-MM-DD)") from None

    try:
        sequence = int(row["sequence"])
    except ValueError:
        raise EventRefused("invalid", f"sequence {row['sequence']!r} is not a number") from None
    details = None
    if row["salt"]:
        line, city, country = row["address_line"], row["city"], row["country"]
        address = None
        if line or city or country or row["postcode"]:
            if not (line and city and country):
                raise EventRefused("invalid", "an address needs address_line, city and country")
            address = Address(line=line, city=city, country=country, postcode=row["postcode"] or None)
        details = TraderDetails(name=row["name"] or None, address=address, salt=row["salt"])
    elif any(row[c] for c in _DETAIL_COLUMNS):
        raise EventRefused("invalid", "name or address given without their salt: they cannot be checked "
                           "against the signed digest")
    signature = None
    if row["signature"] or row["key_id"]:
        try:
            value = base64.b64decode(row["signature"], validate=True)
        except (binascii.Error, ValueError):
            raise EventRefused("invalid", "the signature is not base64") from None
        signature = Signature(key_id=row["key_id"], value=value, algorithm=row["algorithm"] or ALGORITHM)
    return TraderStatus(
        trader_id=row["trader_id"], category=row["category"], status=row["status"], effective=day("effective"),
        expiry=day("expiry"), issuer=row["issuer"], sequence=sequence, issued=row["issued"],
        consent=tuple(sorted(row["consent"].split())), details_digest=row["details_digest"], details=details,
        signature=signature)


def _validated(status: TraderStatus, reader: EventReader) -> TraderStatus:
    # A row gets the checks an event on a topic gets (the XSD's codes, lengths, formats) by going through the
    # reader as the document it stands for; what comes back is what the row said.
    if status.signature is not None and not status.signature.key_id:
        raise EventRefused("invalid", "the key_id is empty")
    try:
        document = write_event(status, with_details=status.details is not None)
    except ValueError as exc:  # lxml: a value XML cannot carry (a control character)
        raise EventRefused("invalid", f"a value cannot be carried in XML: {exc}") from None
    reader.read(document)
    return status


def _read_xml(data: bytes, reader: EventReader, signer: str) -> list[_Entry]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_blank_text=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise SnapshotError(f"the XML file is not well-formed: {exc.msg}") from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise SnapshotError("the XML file carries a DTD; snapshots never do")
    if root.tag != _ROOT:
        raise SnapshotError(f"not a snapshot: the root element must be AEOSnapshot in {SNAPSHOT_NS}")
    issuer = root.get("issuer")
    if issuer != signer:
        raise SnapshotError(f"the file says it holds {issuer}'s traders but is signed by {signer}")
    entries: list[_Entry] = []
    for n, child in enumerate((c for c in root if isinstance(c.tag, str)), start=1):
        where = f"event {n} (line {child.sourceline})"
        if child.tag != _MD_ROOT:
            entries.append((where, None, None, EventRefused("invalid", f"unexpected element {child.tag}")))
            continue
        try:
            status = reader.read(etree.tostring(child, encoding="UTF-8"))
        except EventRefused as exc:
            entries.append((where, _trader_of(child), None, exc))
            continue
        entries.append((where, status.trader_id, status, None))
    return entries


def _trader_of(element: etree._Element) -> str | None:
    found = element.find(".//{urn:wco:datamodel:WCO:AEO-OCO:1}AuthorisationHolder/{urn:wco:datamodel:WCO:AEO-OCO:1}ID")
    return found.text.strip() if found is not None and found.text else None
