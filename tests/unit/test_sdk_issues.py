"""The adapter kit's issue conventions: codes <MEMBER>-<SYSTEM>-<REASON>, pointers into the submitter's document."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.profiles._issues import element_path
from gateway.samples import make_declaration
from gateway.sdk import POINTER, cannot_take, issue_code, national_issue


class TestIssueCode:
    @pytest.mark.parametrize(("parts", "code"), [
        (("FJ", "ASYCUDA", "DUPLICATE-LRN"), "FJ-ASYCUDA-DUPLICATE-LRN"),
        (("fj", "asycuda", "duplicate lrn"), "FJ-ASYCUDA-DUPLICATE-LRN"),
        (("VU", "TSW", "E_1042"), "VU-TSW-E_1042"),  # a national code keeps its own spelling
        (("WS", "wco.xml", " too many/items "), "WS-WCO-XML-TOO-MANY-ITEMS"),
    ])
    def test_parts_are_joined_upper_case(self, parts: tuple[str, str, str], code: str) -> None:
        assert issue_code(*parts) == code

    @pytest.mark.parametrize("parts", [("", "ASYCUDA", "X"), ("FJ", "ASY CUDA!", "X"), ("FJ", "ASYCUDA", "  ")])
    def test_a_bad_part_is_named(self, parts: tuple[str, str, str]) -> None:
        with pytest.raises(ValueError, match="issue code"):
            issue_code(*parts)


class TestPointer:
    def test_every_element_path_of_a_declaration_is_a_pointer(self) -> None:
        """The form the gateway's own schema errors use is the pointer form adapters must use."""
        root = etree.fromstring(make_declaration(member="FJ", lrn="P-1", items=3, seed=4))
        paths = [element_path(e) for e in root.iter() if isinstance(e.tag, str)]
        assert any("[2]" in p for p in paths)
        assert all(POINTER.fullmatch(p) for p in paths)

    @pytest.mark.parametrize("pointer", ["Declaration/ID", "/Item[0]", "//Declaration", "/a b", "Item[2]/HScode"])
    def test_a_national_or_malformed_path_is_refused(self, pointer: str) -> None:
        with pytest.raises(ValueError, match="pointer"):
            national_issue("FJ", "ASYCUDA", "X", "m", pointer=pointer)


def test_cannot_take_is_a_rejection_with_a_coded_pointed_reason() -> None:
    answer = cannot_take("FJ", "ASYCUDA", "too many items", "at most 999 goods items",
                         pointer="/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1000]")
    assert not answer.accepted and answer.registration is None
    (issue,) = answer.issues
    assert issue.code == "FJ-ASYCUDA-TOO-MANY-ITEMS"
    assert issue.path and issue.path.endswith("GovernmentAgencyGoodsItem[1000]")


class TestTooManyItems:
    def test_over_the_limit_points_at_the_first_item_too_many(self) -> None:
        """4 items where 3 are taken: rejected FJ-TSW-TOO-MANY-ITEMS, pointing at item 4, which exists."""
        from gateway.profiles._model import default_readers
        from gateway.sdk import too_many_items
        from gateway.sdk.contract import resolve_pointer

        payload = make_declaration(member="FJ", lrn="L", items=4, seed=2)
        model = default_readers()(payload)
        answer = too_many_items(model, 3, member="FJ", system="TSW")
        assert answer is not None and not answer.accepted
        (issue,) = answer.issues
        assert issue.code == "FJ-TSW-TOO-MANY-ITEMS" and "at most 3" in issue.message
        assert issue.path == "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[4]"
        assert resolve_pointer(payload, issue.path) is not None
        assert too_many_items(model, 4, member="FJ", system="TSW") is None
        assert too_many_items(model, None, member="FJ", system="TSW") is None
