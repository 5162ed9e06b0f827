"""The XML layout of one ASYCUDA World installation, as data: which elements it writes, in which order, how it
writes an empty value and a date, how it spells names.

ASYCUDA World has no published XSD, and its national installations differ: one writes an
``Assessment_notice`` with tax totals, another without; one writes an empty value as ``<null/>``, another as an
empty element; spellings vary in case and in doubled letters (``Suppplementary_unit_code``). The adapter's
stylesheet writes one full document; a :class:`Layout` then reshapes it into what the member's own
installation writes (:meth:`Layout.apply`), and checks a document against it (:meth:`Layout.check`), which
the simulator does too. A layout is derived from one real XML export of the installation
(:meth:`Layout.derive`, ``oco-gateway asycuda layout FILE``), so onboarding a new ASYCUDA country is a file.

What a single export cannot show is kept as the stylesheet writes it and named in :attr:`Layout.unseen`: a
header-only export (no ``Item``) says nothing about how items are written; derive the layout again from an
export with items when one is at hand.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from lxml import etree

from adapters.asycuda._xml import parse_xml

__all__ = ["LAYOUTS_DIR", "Layout", "LayoutError", "load_layout"]

LAYOUTS_DIR = Path(__file__).with_name("layouts")
_NULL = "null"
_SECTIONS = ("Item", "Container")  # repeatable top-level sections an export may simply not contain
_DATE_FORMS = {  # a layout's date form -> the regular expression of a value written so
    "M/D/YY": r"\d{1,2}/\d{1,2}/\d{2}",
    "M/D/YYYY": r"\d{1,2}/\d{1,2}/\d{4}",
    "YYYY-MM-DD": r"\d{4}-\d{2}-\d{2}",
    "DD/MM/YYYY": r"\d{2}/\d{2}/\d{4}",
}
_CANONICAL_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})")  # what the stylesheet writes (M/D/YY)


class LayoutError(ValueError):
    """A layout file that cannot be used (named, with the reason)."""


@dataclass(frozen=True)
class Layout:
    """One installation's layout.

    Attributes:
        name: the layout's name (its file name without ``.yaml``).
        children: element path -> the names of its child elements, in the installation's order.
        empty: element path -> how an empty value is written there: ``null`` (a ``<null/>`` child) or ``empty``.
        default_empty: the same, for a path the export never showed empty.
        date_form: how dates are written (a key of the forms known), None when the export showed no date.
        unseen: top-level sections the export did not contain: written as the stylesheet writes them.
        source: where the layout was derived from (file name and SHA-256).
    """

    name: str
    children: dict[str, list[str]]
    empty: dict[str, str] = field(default_factory=dict)
    default_empty: str = _NULL
    date_form: str | None = None
    unseen: tuple[str, ...] = ()
    source: str = ""

    # --- deriving and storing ----------------------------------------------------------------------------
    @classmethod
    def derive(cls, data: bytes, *, name: str, source: str = "") -> Layout:
        """Derive the layout an installation's XML export shows.

        Args:
            data: the export (an ``<ASYCUDA>`` document).
            name: the layout's name.
            source: a label of the file (its name); its SHA-256 is added.

        Raises:
            LayoutError: not an ASYCUDA document.
        """
        root = parse_xml(data)
        if root.tag != "ASYCUDA":
            raise LayoutError(f"{source or name}: the root element is <{root.tag}>, not <ASYCUDA>")
        children: dict[str, list[str]] = {}
        empties: dict[str, Counter[str]] = {}
        dates: Counter[str] = Counter()

        def walk(element: etree._Element, path: str) -> None:
            names = [c.tag for c in element if isinstance(c.tag, str) and c.tag != _NULL]
            if names:
                children[path] = _merge(children.get(path, []), names)
            style = _empty_style(element)
            if style is not None:
                empties.setdefault(path, Counter())[style] += 1
            elif not names and element.text:
                form = _date_form(element.text.strip())
                if form is not None:
                    dates[form] += 1
            for child in element:
                if isinstance(child.tag, str) and child.tag != _NULL:
                    walk(child, f"{path}/{child.tag}")

        walk(root, "ASYCUDA")
        overall: Counter[str] = Counter()
        for counts in empties.values():
            overall.update(counts)
        top = children.get("ASYCUDA", [])
        return cls(name=name, children=children,
                   empty={p: c.most_common(1)[0][0] for p, c in sorted(empties.items())},
                   default_empty=overall.most_common(1)[0][0] if overall else _NULL,
                   date_form=dates.most_common(1)[0][0] if dates else None,
                   unseen=tuple(s for s in _SECTIONS if s not in top),
                   source=f"{source} sha256:{hashlib.sha256(data).hexdigest()}".strip())

    def to_yaml(self) -> str:
        """The layout as the YAML file the adapter reads (stable: the same export gives the same text)."""
        head = (f"# ASYCUDA World layout {self.name!r}, derived by `oco-gateway asycuda layout` from {self.source}.\n"
                "# children: each element's child elements in this installation's order and spelling; empty: how an\n"
                "# empty value is written there (null: <null/>, empty: an empty element); unseen: sections the export\n"
                "# did not contain, written as the adapter's stylesheet does.\n")
        return head + yaml.safe_dump({
            "name": self.name, "source": self.source, "date_form": self.date_form, "default_empty": self.default_empty,
            "unseen": list(self.unseen), "children": self.children, "empty": self.empty}, sort_keys=False, width=120)

    @classmethod
    def from_yaml(cls, text: str, *, origin: str = "layout") -> Layout:
        """Read a layout file.

        Raises:
            LayoutError: not a layout (the key at fault is named).
        """
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LayoutError(f"{origin}: not YAML: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("children"), dict):
            raise LayoutError(f"{origin}: expected a mapping with `children` (element path -> child names)")
        styles = set(data.get("empty", {}).values()) | {data.get("default_empty", _NULL)}
        if not styles <= {_NULL, "empty"}:
            raise LayoutError(f"{origin}: `empty` values must be null or empty, not {sorted(styles - {_NULL, 'empty'})}")
        if data.get("date_form") not in (None, *_DATE_FORMS):
            raise LayoutError(f"{origin}: date_form {data['date_form']!r} is not one of {sorted(_DATE_FORMS)}")
        return cls(name=str(data.get("name", origin)), children={str(k): [str(n) for n in v]
                                                                for k, v in data["children"].items()},
                   empty={str(k): str(v) for k, v in data.get("empty", {}).items()},
                   default_empty=str(data.get("default_empty", _NULL)), date_form=data.get("date_form"),
                   unseen=tuple(data.get("unseen", ())), source=str(data.get("source", "")))

    # --- using ---------------------------------------------------------------------------------------------
    def apply(self, document: bytes) -> bytes:
        """Reshape the stylesheet's document into this installation's layout.

        Elements the installation does not write are left out; names take its spelling; children its order;
        empty values its form; dates its form. Sections in :attr:`unseen` stay as they are.
        """
        root = parse_xml(document)
        self._reshape(root, "ASYCUDA")
        etree.indent(root, space="  ")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False) + b"\n"

    def check(self, document: bytes | etree._Element) -> list[str]:
        """Return what in ``document`` this installation would not write (empty when it conforms).

        Every element path must be one the layout knows (sections in :attr:`unseen` excepted), and siblings
        must come in the layout's order.
        """
        root = parse_xml(document) if isinstance(document, bytes) else document
        problems: list[str] = []

        def walk(element: etree._Element, path: str) -> None:
            if path.split("/")[1:2] and path.split("/")[1] in self.unseen:
                return
            allowed = self.children.get(path)
            names = [c.tag for c in element if isinstance(c.tag, str) and c.tag != _NULL]
            if names and allowed is None:
                problems.append(f"{path} has child elements; this installation writes it without")
                return
            order = {n: i for i, n in enumerate([*(allowed or []), *(self.unseen if path == "ASYCUDA" else ())])}
            last = -1
            for child in element:
                if not isinstance(child.tag, str) or child.tag == _NULL:
                    continue
                if child.tag not in order:
                    problems.append(f"{path}/{child.tag} is not an element this installation writes")
                    continue
                if order[child.tag] < last:
                    problems.append(f"{path}/{child.tag} comes after an element this installation writes after it")
                last = max(last, order[child.tag])
                walk(child, f"{path}/{child.tag}")

        if root.tag != "ASYCUDA":
            return [f"the root element is <{root.tag}>, not <ASYCUDA>"]
        walk(root, "ASYCUDA")
        return problems

    def _reshape(self, element: etree._Element, path: str) -> None:
        if path.count("/") >= 1 and path.split("/")[1] in self.unseen:
            return
        allowed = self.children.get(path, [])
        spelled = {_fold(n): n for n in allowed}
        kept = []
        for child in list(element):
            if not isinstance(child.tag, str) or child.tag == _NULL:
                continue
            name = child.tag if child.tag in allowed else spelled.get(_fold(child.tag))
            if name is None and child.tag in self.unseen and path == "ASYCUDA":
                name = child.tag
            if name is None:
                element.remove(child)
                continue
            child.tag = name
            kept.append(child)
            self._reshape(child, f"{path}/{name}")
        order = {n: i for i, n in enumerate(allowed)}
        kept.sort(key=lambda c: order.get(c.tag, len(order)))  # stable: repeated elements keep their order
        for child in kept:
            element.append(child)
        if not kept:
            self._leaf(element, path)

    def _leaf(self, element: etree._Element, path: str) -> None:
        value = (element.text or "").strip()
        if not value:
            for child in list(element):
                element.remove(child)
            element.text = None
            if self.empty.get(path, self.default_empty) == _NULL:
                etree.SubElement(element, _NULL)
        elif self.date_form is not None and "date" in element.tag.lower():
            element.text = _write_date(value, self.date_form)


def load_layout(name_or_path: str) -> Layout:
    """Load a shipped layout by name (``adapters/asycuda/layouts/<name>.yaml``) or a layout file by path.

    Raises:
        LayoutError: no such layout, or not a layout.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = LAYOUTS_DIR / f"{name_or_path}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        shipped = ", ".join(sorted(p.stem for p in LAYOUTS_DIR.glob("*.yaml")))
        raise LayoutError(f"no ASYCUDA layout {name_or_path!r} ({exc.strerror}); shipped layouts: {shipped}; "
                          "derive one with `oco-gateway asycuda layout EXPORT.xml`") from exc
    return Layout.from_yaml(text, origin=str(path))


def _merge(known: list[str], seen: list[str]) -> list[str]:
    """The names of ``known`` with those of ``seen`` added, each new one right after its predecessor in ``seen``."""
    merged = list(known)
    previous: str | None = None
    for name in seen:
        if name not in merged:
            merged.insert(merged.index(previous) + 1 if previous is not None else 0, name)
        previous = name
    return merged


def _empty_style(element: etree._Element) -> str | None:
    """``null`` or ``empty`` when the element is an empty value, else None."""
    kids = [c for c in element if isinstance(c.tag, str)]
    if (element.text or "").strip():
        return None
    if not kids:
        return "empty"
    if len(kids) == 1 and kids[0].tag == _NULL:
        return _NULL
    return None


def _date_form(value: str) -> str | None:
    for form, pattern in _DATE_FORMS.items():
        if re.fullmatch(pattern, value):
            return form
    return None


def _write_date(value: str, form: str) -> str:
    found = _CANONICAL_DATE.fullmatch(value)
    if found is None:
        return value
    month, day, year = (int(g) for g in found.groups())
    full = 2000 + year
    return {"M/D/YY": f"{month}/{day}/{year:02d}", "M/D/YYYY": f"{month}/{day}/{full}",
            "YYYY-MM-DD": f"{full}-{month:02d}-{day:02d}", "DD/MM/YYYY": f"{day:02d}/{month:02d}/{full}"}[form]


def _fold(name: str) -> str:
    """A name with case and doubled letters folded: how installations' spellings of one element differ."""
    return re.sub(r"(.)\1+", r"\1", name.lower())
