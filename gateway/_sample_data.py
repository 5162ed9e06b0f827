"""Reference tables behind the sample declarations: Pacific administrations, ports, traders and goods.

Trader and vessel names are invented; ports are UN/LOCODE-style codes of real ports; HS codes and rates are
plausible, not any member's tariff.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "BROKERS",
    "EXPORT_GOODS",
    "FOREIGN_TRADERS",
    "IMPORT_GOODS",
    "LOCAL_TRADERS",
    "MEMBERS",
    "VESSELS",
    "Goods",
    "Member",
    "member",
]


class Member(NamedTuple):
    """A customs administration: agency, currency, ports (UN/LOCODE, name) and VAT/GST rate."""

    agency: str
    currency: str
    ports: tuple[tuple[str, str], ...]
    vat: int


MEMBERS: dict[str, Member] = {
    "FJ": Member("Fiji Revenue and Customs Service", "FJD", (("FJSUV", "Suva"), ("FJLTK", "Lautoka"),
                                                            ("FJNAN", "Nadi International Airport")), 15),
    "WS": Member("Ministry of Customs and Revenue", "WST", (("WSAPW", "Apia"), ("WSFGI", "Faleolo Airport")), 15),
    "TO": Member("Ministry of Revenue and Customs", "TOP", (("TOTBU", "Nuku'alofa"), ("TOVAV", "Neiafu")), 15),
    "VU": Member("Customs and Inland Revenue", "VUV", (("VUVLI", "Port Vila"), ("VUSAN", "Luganville")), 15),
    "PG": Member("PNG Customs Service", "PGK", (("PGPOM", "Port Moresby"), ("PGLAE", "Lae")), 10),
    "SB": Member("Customs and Excise Division", "SBD", (("SBHIR", "Honiara"), ("SBNOR", "Noro")), 15),
    "KI": Member("Kiribati Customs Service", "AUD", (("KITRW", "Tarawa"),), 12),
    "TV": Member("Tuvalu Customs", "AUD", (("TVFUN", "Funafuti"),), 7),
    "NR": Member("Nauru Customs", "AUD", (("NRINU", "Aiwo"),), 10),
    "NU": Member("Niue Customs", "NZD", (("NUALO", "Alofi"),), 12),
    "CK": Member("Revenue Management Division", "NZD", (("CKRAR", "Rarotonga"),), 15),
    "FM": Member("FSM Customs and Tax Administration", "USD", (("FMPNI", "Pohnpei"),), 5),
    "MH": Member("Marshall Islands Customs", "USD", (("MHMAJ", "Majuro"),), 4),
    "PW": Member("Palau Customs", "USD", (("PWROR", "Koror"),), 10),
    "AU": Member("Australian Border Force", "AUD", (("AUBNE", "Brisbane"), ("AUSYD", "Sydney")), 10),
    "NZ": Member("New Zealand Customs Service", "NZD", (("NZAKL", "Auckland"), ("NZTRG", "Tauranga")), 15),
    "NC": Member("Direction Regionale des Douanes", "XPF", (("NCNOU", "Noumea"),), 11),
}


def member(code: str) -> Member:
    """Return a member's reference data; an unknown code gets a generic administration.

    Args:
        code: ISO 3166-1 alpha-2 code.
    """
    return MEMBERS.get(code) or Member(f"{code} Customs", "USD", ((f"{code}XXX", f"{code} main port"),), 10)


class Goods(NamedTuple):
    """A kind of goods: HS code (6 to 8 digits), description, package type, kg per package, unit price (USD),
    customs duty %, excise %, typical origins."""

    hs: str
    description: str
    package: str
    kg: float
    price: float
    duty: int
    excise: int
    origins: tuple[str, ...]


IMPORT_GOODS = (
    Goods("02044200", "Frozen lamb cuts, bone in", "CT", 20.0, 96.0, 15, 0, ("NZ", "AU")),
    Goods("04021000", "Milk powder, skimmed, in 25 kg bags", "BG", 25.0, 78.0, 5, 0, ("NZ", "AU")),
    Goods("10063000", "Rice, wholly milled, long grain", "BG", 25.0, 19.5, 5, 0, ("TH", "VN", "AU")),
    Goods("11010000", "Wheat flour", "BG", 25.0, 14.2, 5, 0, ("AU",)),
    Goods("17019900", "Refined cane sugar", "BG", 50.0, 38.0, 15, 0, ("FJ", "AU")),
    Goods("22030000", "Beer made from malt, 330 ml cans", "CT", 9.0, 21.0, 32, 20, ("NZ", "AU", "MX")),
    Goods("27101200", "Motor spirit, unleaded", "DR", 155.0, 180.0, 5, 12, ("SG",)),
    Goods("30049000", "Medicaments in measured doses for retail sale", "CT", 6.0, 240.0, 0, 0, ("IN", "AU")),
    Goods("39269000", "Articles of plastics, household", "CT", 8.0, 35.0, 15, 0, ("CN",)),
    Goods("44071100", "Sawn pine timber, treated", "BE", 600.0, 420.0, 5, 0, ("NZ",)),
    Goods("63090000", "Worn clothing, in bales", "BL", 45.0, 60.0, 32, 0, ("AU", "NZ", "US")),
    Goods("69072100", "Ceramic floor tiles", "PX", 900.0, 510.0, 15, 0, ("CN",)),
    Goods("72104900", "Galvanised corrugated iron roofing sheets", "BE", 400.0, 380.0, 5, 0, ("CN", "AU")),
    Goods("84181000", "Refrigerator-freezers, household", "CS", 65.0, 410.0, 15, 0, ("CN", "TH")),
    Goods("84713000", "Laptop computers", "CT", 3.0, 520.0, 0, 0, ("CN",)),
    Goods("85171300", "Smartphones", "CT", 1.5, 310.0, 5, 0, ("CN", "VN")),
    Goods("87032300", "Motor cars, 1500-3000 cc, used", "VN", 1300.0, 8200.0, 32, 15, ("JP",)),
    Goods("94036000", "Wooden furniture, flat-packed", "CT", 35.0, 150.0, 15, 0, ("CN", "MY")),
    Goods("84295200", "Excavators, 360 degree, tracked", "VN", 14000.0, 64000.0, 0, 0, ("JP", "US")),
    Goods("21069000", "Food preparations, noodles, instant", "CT", 12.0, 18.0, 15, 0, ("FJ", "CN")),
)

EXPORT_GOODS = (
    Goods("16041400", "Canned skipjack tuna in brine", "CT", 12.0, 42.0, 0, 0, ()),
    Goods("03023200", "Fresh yellowfin tuna, chilled", "CS", 30.0, 260.0, 0, 0, ()),
    Goods("09011100", "Green coffee beans, arabica", "BG", 60.0, 270.0, 0, 0, ()),
    Goods("18010000", "Cocoa beans, fermented and dried", "BG", 62.5, 190.0, 0, 0, ()),
    Goods("15131100", "Crude coconut oil", "DR", 190.0, 240.0, 0, 0, ()),
    Goods("12030000", "Copra", "BG", 50.0, 38.0, 0, 0, ()),
    Goods("12119000", "Kava root (Piper methysticum), dried", "BG", 20.0, 420.0, 0, 0, ()),
    Goods("22011000", "Natural mineral water, bottled", "CT", 12.0, 9.0, 0, 0, ()),
    Goods("08043000", "Pineapples, fresh", "CT", 15.0, 14.0, 0, 0, ()),
    Goods("44039900", "Tropical hardwood logs", "BE", 2400.0, 900.0, 0, 0, ()),
)

LOCAL_TRADERS = (
    "Pacific Island Traders Ltd", "South Seas Wholesale Ltd", "Coral Coast Hardware Ltd", "Lagoon Foods Ltd",
    "Reef Building Supplies Ltd", "Island Motors Ltd", "Harbourside Pharmacy Ltd", "Mana Electronics Ltd",
    "Ocean Fresh Exporters Ltd", "Highlands Coffee Growers Cooperative", "Niu Coconut Products Ltd",
    "Kava Kings Exporters Ltd",
)
FOREIGN_TRADERS = {
    "NZ": ("Kiwi Dairy Exports Ltd", "Auckland"), "AU": ("Queensland Building Supplies Pty Ltd", "Brisbane"),
    "CN": ("Guangzhou Homeware Trading Co Ltd", "Guangzhou"), "JP": ("Osaka Auto Export KK", "Osaka"),
    "SG": ("Straits Marine Fuels Pte Ltd", "Singapore"), "TH": ("Bangkok Rice Mills Co Ltd", "Bangkok"),
    "VN": ("Saigon Agrifoods JSC", "Ho Chi Minh City"), "US": ("Pacific Rim Machinery Inc", "Los Angeles"),
    "IN": ("Mumbai Generic Pharma Pvt Ltd", "Mumbai"), "MY": ("Johor Furniture Sdn Bhd", "Johor Bahru"),
    "MX": ("Cerveceria del Pacifico SA", "Mazatlan"), "FJ": ("Viti Sugar Refiners Ltd", "Lautoka"),
}
BROKERS = ("Island Customs Brokers Ltd", "Pacific Clearing and Forwarding Ltd", "Bluewater Logistics Ltd",
           "Outrigger Freight Agents Ltd")
# Invented vessel names; the numbers are well-formed IMO numbers (the seventh digit is the check digit).
VESSELS = (("Pacific Voyager", "9301122"), ("Coral Trader", "9198824"), ("Southern Cross Star", "9323948"),
           ("Island Endeavour", "9612961"), ("Lagoon Express", "9436379"), ("Tasman Reefer", "9189380"))
