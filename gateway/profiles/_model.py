"""Build the adapters' :class:`~gateway.sdk.model.DeclarationModel` from paths a profile declares.

Paths are XPath 1.0, relative to the payload element (``Declaration``), with WCO DM defaults
(``_model_paths.DEFAULT_PATHS``) that a descriptor overrides key by key under ``model:``. The prefix ``dec``
is the payload's namespace unless the descriptor declares it, so the defaults fit any WCO DM profile.
Plain child paths (``dec:Commodity/dec:Classification/dec:ID``, every default) are merged into one tree of
tags per kind of node and found in a single walk over a node's elements; anything else (predicates,
functions, ``*``) runs as compiled XPath. Every path is compiled at load, so a wrong one stops start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from lxml import etree

from gateway.errors import AdapterProtocolError, ProfileError
from gateway.profiles._model_paths import DEFAULT_PATHS
from gateway.profiles._xpath import nodes_xpath, string_xpath
from gateway.profiles.descriptor import ProfileDescriptor, load_descriptor
from gateway.sdk.model import (Address, AeoHolder, Amount, DeclarationModel, DutyTaxLine, GoodsItem, Location, Party,
                               Quantity, Transport)

__all__ = ["DEFAULT_PATHS", "ModelReader", "ModelReaders", "default_readers"]

_DATE = re.compile(r"^(\d{8})(\d{4}(?:\d{2})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$")


def _parser() -> etree.XMLParser:
    # The payload passed the gateway's safe parser already; still: no DTD, no entities, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


_STEP = re.compile(r"^([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)$")


class _Path:
    """One compiled path: its child steps as Clark names when it is plain (``dec:Commodity/dec:Classification``,
    as every default is), else a compiled XPath 1.0 (predicates, functions, ``*``)."""

    __slots__ = ("expr", "steps", "_nodes", "_string")

    def __init__(self, expr: str, namespaces: Mapping[str, str], key: str, descriptor: Path) -> None:
        self.expr = expr
        self._nodes = nodes_xpath(expr, namespaces, key=f"model.{key}", descriptor=descriptor)
        self._string = string_xpath(expr, namespaces, key=f"model.{key}", descriptor=descriptor)
        matches = [_STEP.match(step) for step in expr.split("/")]
        self.steps: tuple[str, ...] | None = None
        if all(m is not None and m.group(1) in namespaces for m in matches):
            self.steps = tuple(f"{{{namespaces[m.group(1)]}}}{m.group(2)}" for m in matches if m is not None)

    def nodes(self, node: etree._Element) -> list[etree._Element]:
        found = self._nodes(node)
        return [n for n in found if isinstance(n, etree._Element)] if isinstance(found, list) else []

    def string(self, node: etree._Element) -> str | None:
        return self._string(node).strip() or None


_Trie = dict[str, tuple[list[str], "_Trie"]]


class _Group:
    """The paths read inside one kind of node (the declaration, a goods item, a party...).

    Plain paths are merged into one tree of tags, so a node's values are found in a single walk over the
    elements they pass through, instead of one lookup per path: the cost per goods item that counts.
    """

    __slots__ = ("_other", "_trie")

    def __init__(self, paths: Mapping[str, _Path]) -> None:
        self._trie: _Trie = {}
        self._other: dict[str, _Path] = {}
        for key, path in paths.items():
            if path.steps is None:
                self._other[key] = path
                continue
            level = self._trie
            for i, tag in enumerate(path.steps):
                keys, sub = level.setdefault(tag, ([], {}))
                if i == len(path.steps) - 1:
                    keys.append(key)
                level = sub

    def scan(self, node: etree._Element) -> _Found:
        found: dict[str, list[etree._Element]] = {}
        _walk(node, self._trie, found)
        return _Found(node, found, self._other)


def _walk(node: etree._Element, trie: _Trie, found: dict[str, list[etree._Element]]) -> None:
    for child in node:
        entry = trie.get(child.tag)  # type: ignore[call-overload]
        if entry is not None:
            keys, sub = entry
            for key in keys:
                found.setdefault(key, []).append(child)
            if sub:
                _walk(child, sub, found)


class _Found:
    """The elements a :class:`_Group` found under one node, by key."""

    __slots__ = ("_found", "_node", "_other")

    def __init__(self, node: etree._Element, found: dict[str, list[etree._Element]], other: Mapping[str, _Path]) -> None:
        self._node, self._found, self._other = node, found, other

    def all(self, key: str) -> list[etree._Element]:
        other = self._other.get(key)
        return other.nodes(self._node) if other is not None else self._found.get(key, [])

    def first(self, key: str) -> etree._Element | None:
        hits = self.all(key)
        return hits[0] if hits else None

    def text(self, key: str) -> str | None:
        other = self._other.get(key)
        if other is not None:
            return other.string(self._node)
        hits = self._found.get(key)
        if not hits:
            return None
        element = hits[0]
        value = element.text if len(element) == 0 else "".join(element.itertext())
        return (value or "").strip() or None

    def amount(self, key: str) -> Amount | None:
        element = self.first(key)
        value = _decimal(element.text) if element is not None else None
        return None if value is None else Amount(value, element.get("currencyID"))  # type: ignore[union-attr]

    def quantity(self, key: str) -> Quantity | None:
        element = self.first(key)
        value = _decimal(element.text) if element is not None else None
        return None if value is None else Quantity(value, element.get("unitCode"))  # type: ignore[union-attr]


class ModelReader:
    """Read a :class:`DeclarationModel` from one profile's declarations.

    Args:
        overrides: the descriptor's ``model:`` paths (keys of :data:`DEFAULT_PATHS`).
        namespaces: the descriptor's prefix map.
        payload: Clark name of the payload element (its namespace is ``dec`` unless declared), or None.
        descriptor: the descriptor file, for load errors.

    Raises:
        ProfileError: an unknown key, or a path that is not a usable XPath.
    """

    def __init__(self, overrides: Mapping[str, str], namespaces: Mapping[str, str], payload: str | None,
                 descriptor: Path) -> None:
        unknown = sorted(set(overrides) - set(DEFAULT_PATHS))
        if unknown:
            raise ProfileError(f"{descriptor}: model: unknown key(s) {', '.join(unknown)}; known: "
                               f"{', '.join(DEFAULT_PATHS)}")
        ns = dict(namespaces)
        if "dec" not in ns and payload and payload.startswith("{"):
            ns["dec"] = payload[1:].split("}")[0]
        self.payload = payload
        paths = {key: _Path(expr, ns, key, descriptor) for key, expr in {**DEFAULT_PATHS, **overrides}.items()}
        self._groups = {group: _Group({k: p for k, p in paths.items() if k.partition(".")[0] == group
                                       or (group == "" and "." not in k)})
                        for group in ("", "party", "address", "aeo", "transport", "location", "item", "duty_tax")}
        # Field -> element path in local names (pointer form), for the plain paths: what pointer_to() appends.
        self._elements = {group: {k.partition(".")[2] if group else k: _local_path(p)
                                  for k, p in paths.items() if p.steps is not None
                                  and (k.partition(".")[0] == group or (group == "" and "." not in k))}
                          for group in ("", "item")}

    @classmethod
    def for_descriptor(cls, descriptor: ProfileDescriptor, source: Path) -> dict[tuple[str, str | None], ModelReader]:
        """Return a reader per (root, payload) of the descriptor's declaration documents.

        Args:
            descriptor: a loaded descriptor.
            source: its file, for errors.

        Raises:
            ProfileError: as the constructor.
        """
        readers: dict[tuple[str, str | None], ModelReader] = {}
        for doc in descriptor.documents:
            if doc.kind == "DEC" and (doc.root, doc.payload) not in readers:
                readers[(doc.root, doc.payload)] = cls(descriptor.model, descriptor.namespaces, doc.payload, source)
        return readers

    def read(self, root: etree._Element, xml: bytes = b"") -> DeclarationModel:
        """Return the model of a parsed declaration.

        Args:
            root: the document's root element.
            xml: the document's bytes, kept in the model.
        """
        dec = root
        if self.payload is not None and root.tag != self.payload:
            dec = next(root.iterchildren(self.payload), root)
        return _read(self._groups, self._elements, dec, xml)


def _local_path(path: _Path) -> str:
    assert path.steps is not None
    return "/".join(step.rpartition("}")[2] for step in path.steps)


def _path(node: etree._Element, cache: dict[etree._Element, str]) -> str:
    """Return a node's pointer, as :func:`gateway.profiles._issues.element_path` writes it, its ancestors' cached."""
    known = cache.get(node)
    if known is None:
        parent, tag = node.getparent(), node.tag
        local = tag.rpartition("}")[2]  # type: ignore[union-attr]
        if parent is None:
            known = f"/{local}"
        else:
            count = position = 0
            for sibling in parent.iterchildren(tag):  # type: ignore[arg-type]
                count += 1
                if sibling is node:
                    position = count
            known = f"{_path(parent, cache)}/{local}[{position}]" if count > 1 else f"{_path(parent, cache)}/{local}"
        cache[node] = known
    return known


def _pointers(nodes: list[etree._Element], cache: dict[etree._Element, str]) -> list[str]:
    """Return each node's pointer; the goods items of one parent cost one pass over it, not one each."""
    out: list[str] = []
    parents: dict[tuple[etree._Element, str], tuple[str, dict[etree._Element, int] | None]] = {}
    for node in nodes:
        parent, tag = node.getparent(), node.tag
        if parent is None or not isinstance(tag, str):
            out.append(_path(node, cache))
            continue
        known = parents.get((parent, tag))
        if known is None:
            same = list(parent.iterchildren(tag))
            known = parents[(parent, tag)] = (_path(parent, cache),
                                              {c: i for i, c in enumerate(same, 1)} if len(same) > 1 else None)
        base, positions = known
        local = tag.rpartition("}")[2]
        out.append(f"{base}/{local}[{positions[node]}]" if positions else f"{base}/{local}")
    return out


def _read(groups: Mapping[str, _Group], elements: Mapping[str, Mapping[str, str]], dec: etree._Element,
          xml: bytes) -> DeclarationModel:
    # One scan per node read: the declaration, then each party, transport, location, item and tax line.
    party_g, address_g, aeo_g = groups["party"], groups["address"], groups["aeo"]
    transport_g, location_g, item_g, tax_g = groups["transport"], groups["location"], groups["item"], groups["duty_tax"]

    def party(node: etree._Element | None) -> Party | None:
        if node is None:
            return None
        f = party_g.scan(node)
        address = f.first("party.address")
        a = address_g.scan(address) if address is not None else None
        return Party(id=f.text("party.id"), name=f.text("party.name"), address=None if a is None else Address(
            line=a.text("address.line"), city=a.text("address.city"), postcode=a.text("address.postcode"),
            country=a.text("address.country")))

    def transport(node: etree._Element | None) -> Transport | None:
        if node is None:
            return None
        f = transport_g.scan(node)
        return Transport(mode_code=f.text("transport.mode_code"), id=f.text("transport.id"),
                         id_type_code=f.text("transport.id_type_code"), name=f.text("transport.name"),
                         nationality=f.text("transport.nationality"))

    def location(node: etree._Element | None) -> Location | None:
        if node is None:
            return None
        f = location_g.scan(node)
        return Location(id=f.text("location.id"), name=f.text("location.name"), type_code=f.text("location.type_code"),
                        country=f.text("location.country"))

    def tax(node: etree._Element) -> DutyTaxLine:
        f = tax_g.scan(node)
        return DutyTaxLine(type_code=f.text("duty_tax.type_code"), regime_code=f.text("duty_tax.regime_code"),
                           rate=_decimal(f.text("duty_tax.rate")), base_quantity=f.quantity("duty_tax.base_quantity"),
                           base_amount=f.amount("duty_tax.base_amount"), assessed=f.amount("duty_tax.assessed"))

    item_paths = elements["item"]

    def item(node: etree._Element, pointer: str) -> GoodsItem:
        f = item_g.scan(node)
        return GoodsItem(
            sequence=_int(f.text("item.sequence")), hs_code=f.text("item.hs_code"),
            description=f.text("item.description"), customs_value=f.amount("item.customs_value"),
            gross_mass=f.quantity("item.gross_mass"), net_mass=f.quantity("item.net_mass"),
            packages=_int(f.text("item.packages")), package_type=f.text("item.package_type"),
            origin=f.text("item.origin"), procedure=f.text("item.procedure"),
            duty_tax=tuple(tax(n) for n in f.all("item.duty_tax")), pointer=pointer, element_paths=item_paths)

    def aeo(node: etree._Element) -> AeoHolder:
        f = aeo_g.scan(node)
        return AeoHolder(trader_id=f.text("aeo.id") or "", category=f.text("aeo.category") or "")

    d = groups[""].scan(dec)
    item_nodes = d.all("items")
    paths: dict[etree._Element, str] = {}
    return DeclarationModel(
        function_code=d.text("function_code"), type_code=d.text("type_code"), lrn=d.text("lrn"),
        customs_reference=d.text("customs_reference"), issued=_datetime(d.text("issued")),
        office=d.text("office"), exit_office=d.text("exit_office"),
        declarant=party(d.first("declarant")), representative=party(d.first("representative")),
        importer=party(d.first("importer")), exporter=party(d.first("exporter")),
        aeo_holders=tuple(aeo(n) for n in d.all("aeo_holders")),
        border_transport=transport(d.first("border_transport")),
        arrival_transport=transport(d.first("arrival_transport")),
        departure_transport=transport(d.first("departure_transport")),
        goods_location=location(d.first("goods_location")), loading_location=location(d.first("loading_location")),
        destination_country=d.text("destination_country"), export_country=d.text("export_country"),
        invoice_amount=d.amount("invoice_amount"), total_gross_mass=d.quantity("total_gross_mass"),
        total_packages=_int(d.text("total_packages")),
        items=tuple(item(n, p) for n, p in zip(item_nodes, _pointers(item_nodes, paths), strict=True)),
        xml=xml, pointer=_path(dec, paths), element_paths=elements[""],
    )


class ModelReaders:
    """The model readers of every loaded profile, chosen per document by the profile that validated it, else by
    root and payload tag.

    Built from the descriptors alone (no XSD is compiled): the delivery worker gets the validated bytes and the
    name of the profile that accepted them (two versions of one profile read the same tags, each with its own
    ``model:`` paths).

    Args:
        readers: (root Clark name, payload Clark name or None) → reader.
        by_profile: profile name → its readers by (root, payload).
    """

    def __init__(self, readers: Mapping[tuple[str, str | None], ModelReader],
                 by_profile: Mapping[str, Mapping[tuple[str, str | None], ModelReader]] | None = None) -> None:
        self._readers = dict(readers)
        self._by_profile = {name: dict(found) for name, found in (by_profile or {}).items()}
        self._payloads: dict[str, tuple[str, ...]] = {}
        for root, payload in self._readers:
            if payload is not None:
                self._payloads[root] = (*self._payloads.get(root, ()), payload)

    @classmethod
    def load(cls, dirs: Iterable[str | Path] | str | Path) -> ModelReaders:
        """Read every ``profile.yaml`` found (as the profile registry finds them).

        Args:
            dirs: profile folders, or folders of profile folders.

        Raises:
            ProfileError: a descriptor or a model path is wrong.
        """
        from gateway.profiles.registry import _find_descriptors  # noqa: PLC0415 - one way to find them

        folders = [Path(dirs)] if isinstance(dirs, (str, Path)) else [Path(d) for d in dirs]
        readers: dict[tuple[str, str | None], ModelReader] = {}
        by_profile: dict[str, dict[tuple[str, str | None], ModelReader]] = {}
        for path in _find_descriptors(folders):
            descriptor = load_descriptor(path)
            by_profile[descriptor.name] = ModelReader.for_descriptor(descriptor, path)
            readers.update(by_profile[descriptor.name])
        return cls(readers, by_profile)

    def __call__(self, xml: bytes, profile: str | None = None) -> DeclarationModel:
        """Parse a validated declaration and return its model.

        Args:
            xml: the declaration as delivered.
            profile: the name of the profile that validated it (the ``oco-profile`` header); its readers are
                used when it is loaded here, else the first profile that reads the document's tags.

        Raises:
            AdapterProtocolError: the document is not XML, or no loaded profile reads it (a gateway or
                configuration fault: the declaration cannot be mapped, so retrying will not help).
        """
        try:
            root = etree.fromstring(xml, _parser())
        except etree.XMLSyntaxError as exc:
            raise AdapterProtocolError(f"the declaration is not well-formed XML: {exc}") from exc
        payload = next(root.iterchildren(*self._payloads[root.tag]), None) if root.tag in self._payloads else None
        tags = (root.tag, None if payload is None else payload.tag)
        own = self._by_profile.get(profile or "", {})
        reader = own.get(tags) or self._readers.get(tags) or self._readers.get((root.tag, None))
        if reader is None:
            raise AdapterProtocolError(f"no loaded profile gives a declaration model for a {root.tag} document")
        return reader.read(root, xml)


@lru_cache(maxsize=1)
def default_readers() -> ModelReaders:
    """Return the readers of the gateway's profiles folder (``OCO_PROFILES_DIR``, else the shipped ones).

    Raises:
        ProfileError: a descriptor is wrong.
    """
    import os  # noqa: PLC0415

    from gateway.config import default_profiles_dir  # noqa: PLC0415 - keeps pydantic-settings out of adapter imports

    configured = os.environ.get("OCO_PROFILES_DIR")
    return ModelReaders.load(Path(configured) if configured else default_profiles_dir())


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _int(text: str | None) -> int | None:
    value = _decimal(text)
    return int(value) if value is not None and value == value.to_integral_value() else None


def _datetime(text: str | None) -> datetime | None:
    # WCO DM DateTimeString: formatCode 102 (CCYYMMDD) or 304 (CCYYMMDDHHMMSS with a zone, Z or +hh[mm]).
    match = _DATE.match(text) if text else None
    if match is None:
        return None
    day, clock, zone = match.groups()
    try:
        moment = datetime.strptime(day + (clock or "").ljust(6, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if zone == "Z":
        return moment.replace(tzinfo=timezone.utc)
    if zone:
        digits = zone[1:].replace(":", "").ljust(4, "0")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset))
    return moment
