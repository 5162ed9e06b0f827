"""The simulators' registration book (gateway.sdk.registry): volume, restart, the unique-LRN rule, bad files."""

from __future__ import annotations

import functools
import json
import sqlite3
from pathlib import Path

import pytest

from gateway.responses import build_response
from gateway.sdk.registry import RegistrationBook, content_digest


@functools.cache
def _answer(n: int) -> bytes:
    """A realistic answer: an OCO Response 01 (about 1.5 KB); built once per n (it carries the time)."""
    return build_response(status="accepted", tracking_id=f"trk-{n}", lrn=f"LRN-{n}", member="NZ",
                          declaration_id=f"26NZ{n:09d}")


def _register(book: RegistrationBook, n: int, *, declarant: str = "NZ1234567", function_code: str = "9") -> None:
    document = f"<declaration n='{n}'/>".encode()
    book.register(f"p:LRN-{n}:{function_code}:{n:016x}", declarant=declarant, lrn=f"LRN-{n}",
                  function_code=function_code, digest=content_digest(document), reference=f"26NZ{n:09d}",
                  answer=_answer(n))


class TestVolume:
    def test_five_thousand_registrations_stay_small_and_survive_a_restart(self, tmp_path: Path) -> None:
        """5,000 registrations (answers included) take under 4 KB each on disk; a new instance on the file
        replays, counts and numbers on."""
        path = tmp_path / "book.sqlite"
        book = RegistrationBook(path)
        for n in range(5_000):
            _register(book, n)
            book.next_number("reference")
        book.close()
        size = sum(p.stat().st_size for p in tmp_path.iterdir())  # the database and any WAL left
        assert size / 5_000 < 4096, f"{size / 5_000:.0f} bytes per registration"
        again = RegistrationBook(path)
        assert again.count("p:LRN-4321:9:00000000000010e1") == 1
        replayed = again.replay("p:LRN-4321:9:00000000000010e1")
        assert replayed is not None and replayed.answer == _answer(4321) and replayed.replays == 1
        assert again.next_number("reference") == 5_001
        assert again.totals() == {"keys": 5_000, "total": 5_000, "replays": 1, "counters": {"reference": 5_001}}
        assert again.conflict("NZ1234567", "LRN-17", "9", "other") is not None
        again.close()


class TestRule:
    def test_an_lrn_is_unique_per_declarant_for_originals(self) -> None:
        """Another original with other content under (declarant, LRN) conflicts; the same content, another
        declarant or an amendment does not."""
        book = RegistrationBook()
        book.register("k1", declarant="FJ1", lrn="L", function_code="9", digest="a", reference="R1", answer=b"1")
        taken = book.conflict("FJ1", "L", "9", "b")
        assert taken is not None and taken.reference == "R1"
        assert book.conflict("FJ1", "L", "9", "a") is None
        assert book.conflict("FJ2", "L", "9", "b") is None
        assert book.conflict("FJ1", "L", "13", "b") is None
        assert book.conflict("FJ1", "M", "9", "b") is None

    def test_a_key_is_registered_once(self) -> None:
        """Registering a known key again is a bug of the caller (it replays instead)."""
        book = RegistrationBook()
        book.register("k", declarant="D", lrn="L", function_code="9", digest="a", reference="R", answer=b"1")
        with pytest.raises(ValueError, match="already registered"):
            book.register("k", declarant="D", lrn="L", function_code="9", digest="a", reference="R", answer=b"1")
        assert book.count("k") == 1 and book.get("k") is not None and book.get("nope") is None


class TestFiles:
    def test_an_old_json_state_file_is_refused_by_name(self, tmp_path: Path) -> None:
        """The JSON state file of earlier simulators is not read: the error names the file."""
        path = tmp_path / "state.json"
        path.write_text(json.dumps({"counters": {}, "records": {}}))
        with pytest.raises(ValueError, match=f"{path}.*not a simulator registration book"):
            RegistrationBook(path)

    def test_another_sqlite_database_is_refused(self, tmp_path: Path) -> None:
        """A SQLite database of something else is not taken over."""
        path = tmp_path / "other.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (x)")
        with pytest.raises(ValueError, match=f"{path} is a SQLite database of something else"):
            RegistrationBook(path)
