"""ASYCUDA World's fields, pointed back at the submitter's WCO document.

ASYCUDA names the faulty field of an error in its own format (``ASYCUDA/Item[2]/Tarification/HScode/Commodity_code``),
which the trader has never seen. :func:`wco_pointer` turns it into the pointer of the WCO element the stylesheet
(``wco_to_asycuda.xsl``) mapped it from, through the declaration model (:meth:`GoodsItem.pointer_to`):
``/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity/Classification/ID``. ASYCUDA's
``Item[n]`` is the n-th goods item: the stylesheet writes one ``Item`` per ``GovernmentAgencyGoodsItem``, in order.
"""

from __future__ import annotations

import re

from gateway.sdk import DeclarationModel

__all__ = ["HEADER_FIELDS", "ITEM_FIELDS", "wco_pointer"]

ITEM_FIELDS = {
    "Tarification/HScode/Commodity_code": "hs_code",
    "Tarification/HScode/Precision_1": "hs_code",
    "Tarification/Extended_customs_procedure": "procedure",
    "Tarification/Preference_code": "duty_tax",
    "Goods_description/Description_of_goods": "description",
    "Goods_description/Commercial_Description": "description",
    "Goods_description/Country_of_origin_code": "origin",
    "Packages/Number_of_packages": "packages",
    "Packages/Kind_of_packages_code": "package_type",
    "Valuation_item/Weight_itm/Gross_weight_itm": "gross_mass",
    "Valuation_item/Weight_itm/Net_weight_itm": "net_mass",
    "Valuation_item/Total_CIF_itm": "customs_value",
    "Valuation_item/Item_Invoice/Amount_foreign_currency": "customs_value",
    "Valuation_item/Item_Invoice/Amount_national_currency": "customs_value",
}
"""An ``Item``'s ASYCUDA field (below ``Item[n]``) -> the :class:`~gateway.sdk.GoodsItem` field it is mapped from."""

HEADER_FIELDS = {
    "Identification/Office_segment/Customs_clearance_office_code": "office",
    "Identification/Type/Type_of_declaration": "type_code",
    "Identification/Type/Declaration_gen_procedure_code": "type_code",
    "Declarant/Declarant_code": "declarant",
    "Declarant/Reference/Number": "lrn",
    "Traders/Exporter/Exporter_code": "exporter",
    "Traders/Consignee/Consignee_code": "importer",
    "Valuation/Gs_Invoice/Amount_foreign_currency": "invoice_amount",
    "Valuation/Gs_Invoice/Currency_code": "invoice_amount",
    "Property/Nbers/Total_number_of_packages": "total_packages",
    "Valuation/Weight/Gross_weight": "total_gross_mass",
    "Item": "items",
}
"""A header ASYCUDA field (below ``ASYCUDA/``) -> the :class:`~gateway.sdk.DeclarationModel` field it is mapped from."""

_ITEM = re.compile(r"Item(?:\[(\d+)\])?(?:/(.+))?")


def wco_pointer(field: str | None, model: DeclarationModel) -> str | None:
    """Return the pointer of the submitter's element an ASYCUDA field was mapped from, or None.

    A field of an item not in :data:`ITEM_FIELDS` points at the goods item itself; a header field not in
    :data:`HEADER_FIELDS`, or an item ASYCUDA numbers beyond the declaration's, at nothing (None): a pointer
    is never a guess, and never a path of ASYCUDA's format.

    Args:
        field: ASYCUDA's ``Field`` (``ASYCUDA/Item[2]/Tarification/HScode/Commodity_code``), or None.
        model: the submitted declaration's model.
    """
    if not field:
        return None
    path = field.strip().removeprefix("ASYCUDA/")
    match = _ITEM.fullmatch(path)
    if match and (match.group(1) or match.group(2)):
        position = int(match.group(1) or 1)
        if not 1 <= position <= len(model.items):
            return None
        item = model.items[position - 1]
        name = ITEM_FIELDS.get(match.group(2) or "")
        return item.pointer_to(name) if name else item.pointer
    name = HEADER_FIELDS.get(path)
    if name == "items":
        return model.items[0].pointer if model.items else None
    return model.pointer_to(name) if name else None
