"""The declaration model's paths: every key a descriptor's ``model:`` may set, with its WCO DM default."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_PATHS"]

_HEADER = {
    "function_code": "dec:FunctionCode", "type_code": "dec:TypeCode", "lrn": "dec:FunctionalReferenceID",
    "customs_reference": "dec:ID", "issued": "dec:IssueDateTime/*", "office": "dec:DeclarationOfficeID",
    "exit_office": "dec:ExitOffice/dec:ID", "destination_country": "dec:GoodsShipment/dec:Destination/dec:CountryCode",
    "export_country": "dec:GoodsShipment/dec:ExportCountry/dec:ID", "invoice_amount": "dec:InvoiceAmount",
    "total_gross_mass": "dec:TotalGrossMassMeasure", "total_packages": "dec:TotalPackageQuantity",
    "declarant": "dec:Declarant", "representative": "dec:Agent", "importer": "dec:GoodsShipment/dec:Importer",
    "exporter": "dec:Exporter", "aeo_holders": "dec:AuthorisationHolder",
    "border_transport": "dec:BorderTransportMeans",
    "arrival_transport": "dec:GoodsShipment/dec:Consignment/dec:ArrivalTransportMeans",
    "departure_transport": "dec:GoodsShipment/dec:Consignment/dec:DepartureTransportMeans",
    "goods_location": "dec:GoodsShipment/dec:Consignment/dec:GoodsLocation",
    "loading_location": "dec:GoodsShipment/dec:Consignment/dec:LoadingLocation",
    "items": "dec:GoodsShipment/dec:GovernmentAgencyGoodsItem",
}
_INNER = {
    "party.id": "dec:ID", "party.name": "dec:Name", "party.address": "dec:Address",
    "address.line": "dec:Line", "address.city": "dec:CityName", "address.postcode": "dec:PostcodeID",
    "address.country": "dec:CountryCode",
    "aeo.id": "dec:ID", "aeo.category": "dec:CategoryCode",
    "transport.mode_code": "dec:ModeCode", "transport.id": "dec:ID", "transport.id_type_code": "dec:IdentificationTypeCode",
    "transport.name": "dec:Name", "transport.nationality": "dec:RegistrationNationalityCode",
    "location.id": "dec:ID", "location.name": "dec:Name", "location.type_code": "dec:TypeCode",
    "location.country": "dec:Address/dec:CountryCode",
    "item.sequence": "dec:SequenceNumeric", "item.hs_code": "dec:Commodity/dec:Classification/dec:ID",
    "item.description": "dec:Commodity/dec:Description", "item.customs_value": "dec:CustomsValueAmount",
    "item.gross_mass": "dec:Commodity/dec:GoodsMeasure/dec:GrossMassMeasure",
    "item.net_mass": "dec:Commodity/dec:GoodsMeasure/dec:NetNetWeightMeasure",
    "item.packages": "dec:Packaging/dec:QuantityQuantity", "item.package_type": "dec:Packaging/dec:TypeCode",
    "item.origin": "dec:Origin/dec:CountryCode", "item.procedure": "dec:GovernmentProcedure/dec:CurrentCode",
    "item.duty_tax": "dec:Commodity/dec:DutyTaxFee",
    "duty_tax.type_code": "dec:TypeCode", "duty_tax.regime_code": "dec:DutyRegimeCode",
    "duty_tax.rate": "dec:TaxRateNumeric", "duty_tax.base_quantity": "dec:SpecificTaxBaseQuantity",
    "duty_tax.base_amount": "dec:AdValoremTaxBaseAmount", "duty_tax.assessed": "dec:Payment/dec:TaxAssessedAmount",
}
DEFAULT_PATHS: Mapping[str, str] = {**_HEADER, **_INNER}
"""Every key a descriptor's ``model:`` may set, with its WCO DM default (relative to the payload; ``party.*``
relative to each party, ``item.*`` to each goods item, ``duty_tax.*`` to each tax line...)."""
