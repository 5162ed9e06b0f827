"""Snapshot files for MRA partners without Kafka: CSV and XML round trips, per-row signatures, the file's own
signature, and what a tampered or wrongly signed file becomes; restated events; national lists for a bulk load."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway.aeo.exchange import (
    CSV_COLUMNS,
    FileSignature,
    SnapshotError,
    detect_format,
    read_snapshot,
    read_snapshot_files,
    signature_path,
    write_snapshot,
    write_snapshot_files,
)
from gateway.aeo.intake import EventReader
from gateway.aeo.issuing import IssueError, change_status, grant, reissue
from gateway.aeo.national import NationalListError, read_national_list
from gateway.aeo.signing import SigningKey, TrustStore
from gateway.aeo.status import Address
from gateway.config import load_settings
from gateway.pipeline.chain import build_reading_stages
from gateway.profiles import ProfileRegistry

REPO = Path(__file__).resolve().parents[2]
TODAY = date.today()
FJ = SigningKey.generate("FJ", "FJ-1")
FJ_FILES = SigningKey.generate("FJ", "FJ-2")  # a second current key: events by one, the file by the other
WS = SigningKey.generate("WS", "WS-1")


def trust() -> TrustStore:
    return TrustStore({"FJ": [FJ.trusted_key(), FJ_FILES.trusted_key()], "WS": [WS.trusted_key()]})


@pytest.fixture(scope="module")
def reader() -> EventReader:
    settings = load_settings(REPO / "config" / "network.yaml")
    return EventReader(build_reading_stages(settings, ProfileRegistry.load([REPO / "schemas"])))


def traders() -> list:
    """Four Fijian traders: consented to US, to NZ only, to nobody (no address), and one suspended since."""
    base = dict(category="AEOF", effective=TODAY - timedelta(days=10), expiry=TODAY + timedelta(days=700))
    a = grant(FJ, trader_id="FJ0000001", name="Pacific Freight, \"Suva\" Ltd", consent=("US", "NZ"),
              address=Address(line="12 Harbour Road\nWharf 3", city="Suva", country="FJ", postcode="0101"), **base)
    b = grant(FJ, trader_id="FJ0000002", name="Lautoka Sugar Exports", consent=("NZ",),
              address=Address(line="1 Mill Street", city="Lautoka", country="FJ"), **base)
    c = grant(FJ, trader_id="FJ0000003", name="Nadi Air Cargo", **base)
    d = change_status(FJ, grant(FJ, trader_id="FJ0000004", name="Labasa Timber", consent=("US",), **base),
                      "suspended")
    return [a, b, c, d]


def by_trader(events) -> dict:
    return {e.trader_id: e for e in events}


class TestRoundTrip:
    @pytest.mark.parametrize("fmt", ["csv", "xml"])
    def test_partner_file_carries_details_only_where_consented(self, fmt: str, reader: EventReader) -> None:
        """A file for US carries name and address of the traders that consented to US, public fields for the
        others; every event reads back equal to its view and verifies alone."""
        events = traders()
        data, sig = write_snapshot(events, FJ_FILES, fmt, recipient="US")
        assert detect_format(data) == fmt
        assert b"Lautoka Sugar" not in data and b"Nadi Air" not in data
        snapshot = read_snapshot(data, sig, trust(), reader)
        assert (snapshot.signer, snapshot.key_id, snapshot.format, snapshot.refused) == ("FJ", "FJ-2", fmt, [])
        got = by_trader(snapshot.events)
        for event in events:
            expected = event if "US" in event.consent else event.public()
            assert got[event.trader_id] == expected
            assert got[event.trader_id].signature.key_id == "FJ-1"
            trust().verify(got[event.trader_id])
        assert got["FJ0000001"].details.address.line == "12 Harbour Road\nWharf 3"
        assert got["FJ0000004"].status == "suspended" and got["FJ0000004"].sequence == 2

    @pytest.mark.parametrize("fmt", ["csv", "xml"])
    def test_backup_with_all_details_and_public_only(self, fmt: str, reader: EventReader) -> None:
        """all_details keeps every trader's details (an administration's backup); no recipient keeps none."""
        events = traders()
        data, sig = write_snapshot(events, FJ, fmt, all_details=True)
        assert by_trader(read_snapshot(data, sig, trust(), reader).events) == by_trader(events)
        data, sig = write_snapshot(events, FJ, fmt)
        assert all(e.details is None for e in read_snapshot(data, sig, trust(), reader).events)

    def test_csv_has_every_signed_field_and_one_row_per_event(self) -> None:
        data, _sig = write_snapshot(traders(), FJ, "csv", recipient="US")
        lines = data.decode().split("\r\n")
        assert lines[0] == ",".join(CSV_COLUMNS)
        rows = [line for line in lines[1:] if line and line[0:2] == "FJ"]
        assert len(rows) == 4 and "US" in rows[0] and ",Ed25519," in rows[0]

    def test_files_on_disk_and_signature_document(self, tmp_path: Path, reader: EventReader) -> None:
        """FILE.sig beside the file: member, key id, algorithm, sha256 and the signature in base64."""
        path = tmp_path / "FJ-2026-01-01.csv"
        data, sig = write_snapshot(traders(), FJ_FILES, "csv", recipient="US", file_name=path.name)
        assert write_snapshot_files(path, data, sig) == signature_path(path) == tmp_path / "FJ-2026-01-01.csv.sig"
        doc = json.loads(signature_path(path).read_text())
        assert doc == {"member": "FJ", "key_id": "FJ-2", "algorithm": "Ed25519", "file": path.name,
                       "sha256": hashlib.sha256(data).hexdigest(),
                       "signature": base64.b64encode(sig.signature).decode()}
        assert read_snapshot_files(path) == (data, sig)
        signature_path(path).unlink()
        with pytest.raises(SnapshotError, match="signature"):
            read_snapshot_files(path)

    def test_events_of_another_issuer_are_not_written(self) -> None:
        with pytest.raises(ValueError, match="cannot carry FJ's trader"):
            write_snapshot(traders(), WS, "csv")


class TestTampering:
    @pytest.mark.parametrize("fmt", ["csv", "xml"])
    def test_an_altered_file_is_refused_whole(self, fmt: str, reader: EventReader) -> None:
        """One byte changed after signing (here a status): nothing of the file is read."""
        data, sig = write_snapshot(traders(), FJ, fmt, recipient="US")
        forged = data.replace(b"suspended", b"granted\x20\x20")
        assert forged != data
        with pytest.raises(SnapshotError, match="altered or truncated"):
            read_snapshot(forged, sig, trust(), reader)
        # Also with the SHA-256 recomputed: the signature itself fails.
        with pytest.raises(SnapshotError, match="bad_signature"):
            read_snapshot(forged, dataclasses.replace(sig, sha256=hashlib.sha256(forged).hexdigest()), trust(), reader)
        with pytest.raises(SnapshotError, match="altered or truncated"):
            read_snapshot(data[:-40], sig, trust(), reader)

    def test_a_row_altered_and_the_file_signed_again_is_refused_alone(self, reader: EventReader) -> None:
        """Someone holding the file key (or rewriting the file before signing) changes one row's status:
        the row's own signature catches it, the other rows are accepted."""
        data, _ = write_snapshot(traders(), FJ, "csv", recipient="US")
        text = data.decode()
        row = next(line for line in text.split("\r\n") if line.startswith("FJ0000004,"))
        forged = text.replace(row, row.replace(",suspended,", ",granted,")).encode()
        sig = FileSignature("FJ", "FJ-1", hashlib.sha256(forged).hexdigest(), FJ.sign_bytes(forged))
        snapshot = read_snapshot(forged, sig, trust(), reader)
        assert sorted(e.trader_id for e in snapshot.events) == ["FJ0000001", "FJ0000002", "FJ0000003"]
        (refusal,) = snapshot.refused
        assert (refusal.trader_id, refusal.reason, refusal.where) == ("FJ0000004", "bad_signature", "line 6")
        assert str(refusal).startswith("line 6 FJ0000004: bad_signature: ")

    def test_altered_details_and_unreadable_rows_are_refused_alone(self, reader: EventReader) -> None:
        data, _ = write_snapshot(traders(), FJ, "csv", recipient="US")
        forged = data.replace(b"Pacific Freight", b"Phantom Freight").replace(
            b"FJ0000003,AEOF,granted," + data.split(b"FJ0000003,AEOF,granted,")[1][:10],
            b"FJ0000003,AEOF,granted,2026-02-30")
        sig = FileSignature("FJ", "FJ-1", hashlib.sha256(forged).hexdigest(), FJ.sign_bytes(forged))
        refused = {r.trader_id: r for r in read_snapshot(forged, sig, trust(), reader).refused}
        assert refused["FJ0000001"].reason == "bad_signature" and "digest" in refused["FJ0000001"].message
        assert refused["FJ0000003"].reason == "invalid" and "effective" in refused["FJ0000003"].message

    def test_a_trader_twice_keeps_the_first(self, reader: EventReader) -> None:
        events = traders()
        data, _ = write_snapshot(events, FJ, "csv")
        lines = data.split(b"\r\n")
        forged = b"\r\n".join([*lines[:-1], lines[1], b""])
        sig = FileSignature("FJ", "FJ-1", hashlib.sha256(forged).hexdigest(), FJ.sign_bytes(forged))
        snapshot = read_snapshot(forged, sig, trust(), reader)
        assert len(snapshot.events) == 4
        (dup,) = snapshot.refused
        assert dup.reason == "duplicate" and "line 2" in dup.message

    def test_schema_invalid_xml_event_is_refused_alone(self, reader: EventReader) -> None:
        data, _ = write_snapshot(traders(), FJ, "xml")
        forged = data.replace(b"<CategoryCode>AEOF</CategoryCode>", b"<CategoryCode>GOLD</CategoryCode>", 1)
        sig = FileSignature("FJ", "FJ-1", hashlib.sha256(forged).hexdigest(), FJ.sign_bytes(forged))
        snapshot = read_snapshot(forged, sig, trust(), reader)
        (refusal,) = snapshot.refused
        assert refusal.reason == "invalid" and refusal.trader_id == "FJ0000001" and refusal.where.startswith("event 1")
        assert len(snapshot.events) == 3


class TestSigner:
    def test_a_file_signed_by_another_member_carries_none_of_its_events(self, reader: EventReader) -> None:
        """WS signs (with its own valid key) a CSV of Fijian events: the file verifies, every row is out of
        jurisdiction."""
        data, _ = write_snapshot(traders(), FJ, "csv")
        sig = FileSignature("WS", "WS-1", hashlib.sha256(data).hexdigest(), WS.sign_bytes(data))
        snapshot = read_snapshot(data, sig, trust(), reader)
        assert snapshot.events == [] and {r.reason for r in snapshot.refused} == {"out_of_jurisdiction"}
        assert "signed by WS" in snapshot.refused[0].message

    def test_xml_naming_another_issuer_than_its_signer_is_refused_whole(self, reader: EventReader) -> None:
        data, _ = write_snapshot(traders(), FJ, "xml")
        sig = FileSignature("WS", "WS-1", hashlib.sha256(data).hexdigest(), WS.sign_bytes(data))
        with pytest.raises(SnapshotError, match="holds FJ's traders but is signed by WS"):
            read_snapshot(data, sig, trust(), reader)

    def test_unknown_key_and_key_claimed_for_another_member(self, reader: EventReader) -> None:
        data, sig = write_snapshot(traders(), SigningKey.generate("FJ", "FJ-rogue"), "csv")
        with pytest.raises(SnapshotError, match="unknown_key"):
            read_snapshot(data, sig, trust(), reader)
        data, sig = write_snapshot(traders(), FJ, "csv")
        with pytest.raises(SnapshotError, match="unknown_key"):
            read_snapshot(data, dataclasses.replace(sig, member="WS"), trust(), reader)

    def test_not_a_snapshot(self, reader: EventReader) -> None:
        for data in (b"a,b,c\r\n1,2,3\r\n", b"<root/>"):
            sig = FileSignature("FJ", "FJ-1", hashlib.sha256(data).hexdigest(), FJ.sign_bytes(data))
            with pytest.raises(SnapshotError, match="not a snapshot"):
                read_snapshot(data, sig, trust(), reader)
        with pytest.raises(SnapshotError, match="not a snapshot signature"):
            FileSignature.from_json('{"member": "FJ"}')


class TestReissue:
    def test_new_consent_same_status_next_sequence(self) -> None:
        """A consent change restates the event: same status, dates and details, sequence + 1, a fresh salt."""
        first = traders()[0]
        again = reissue(FJ_FILES, first, consent=("WS",))
        assert (again.status, again.sequence, again.consent, again.effective) == ("granted", 2, ("WS",), first.effective)
        assert again.details.name == first.details.name and again.details.salt != first.details.salt
        assert again.signature.key_id == "FJ-2"
        trust().verify(again)
        with pytest.raises(IssueError, match="certified by FJ"):
            reissue(WS, first)


class TestNationalList:
    LIST = (
        "trader_id,category,effective,expiry,name,address_line,city,postcode,country,consent\r\n"
        "FJ0000001,AEOF,2024-03-01,2027-02-28,  Pacific Freight Ltd ,12 Harbour Road,Suva,,,NZ WS\r\n"
        "fj0000002,aeos,2024-03-01,2027-02-28,\"Sugar, Ltd\",,,,,nz;ws;FJ\r\n"
        "\r\n"
        "WS0000003,AEOC,2024-03-01,2027-02-28,Wrong Country,,,,,\r\n"
        "FJ0000004,AEOC,2024-03-01,2023-02-28,Backwards,,,,,\r\n"
        "FJ0000005,AEOC,2024-03-01,2027-02-28,Half Address,,Suva,,,\r\n"
        "FJ0000006,AEOC,2024-03-01,2027-02-28,Stranger,,,,,XX\r\n"
        "FJ0000001,AEOC,2024-03-01,2027-02-28,Again,,,,,\r\n"
        "FJ0000007,AEOC,2024-03-01\r\n"
    )

    def test_rows_checked_with_line_numbers(self) -> None:
        rows, problems = read_national_list(self.LIST.encode(), member="FJ", known_codes=["FJ", "NZ", "WS"])
        assert [r.trader_id for r in rows] == ["FJ0000001", "FJ0000002"]
        first, second = rows
        assert first.name == "Pacific Freight Ltd" and first.address == Address("12 Harbour Road", "Suva", "FJ")
        assert first.consent == ("NZ", "WS") and second.consent == ("NZ", "WS")  # own code dropped
        assert (second.category, second.name, second.address, second.line) == ("AEOS", "Sugar, Ltd", None, 3)
        found = {p.line: str(p) for p in problems}
        assert sorted(found) == [5, 6, 7, 8, 9, 10]
        assert "must start with FJ" in found[5] and "before the effective date" in found[6]
        assert "address_line and city" in found[7] and "XX" in found[8]
        assert found[9] == "line 9 FJ0000001: FJ0000001 is already on line 2; each trader once"
        assert "3 fields" in found[10]

    def test_header_must_name_known_columns(self) -> None:
        with pytest.raises(NationalListError, match="missing expiry.*unknown 'adress'"):
            read_national_list(b"trader_id,category,effective,adress\r\n", member="FJ", known_codes=[])
        rows, problems = read_national_list(b"\xef\xbb\xbfcategory,trader_id,expiry,effective\nAEOC,FJ9,2027-01-01,2026-01-01\n",
                                            member="FJ", known_codes=[])
        assert problems == [] and rows[0].trader_id == "FJ9" and rows[0].name is None
