"""Compile a profile's XSD entry points into one lxml schema, after checking every file they pull in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from gateway.errors import ProfileError

__all__ = ["compile_schema"]

XS = "http://www.w3.org/2001/XMLSchema"
_REFS = (f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine")

# XSDs are configuration, but still parsed the safe way: no DTDs loaded, no entities, no network.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=True)


def compile_schema(paths: Sequence[Path], descriptor: Path) -> etree.XMLSchema:
    """Compile XSD entry points; several are joined by an in-memory wrapper that imports each.

    Args:
        paths: absolute XSD paths, in descriptor order.
        descriptor: the ``profile.yaml`` they come from, named in error messages.

    Raises:
        ProfileError: a file is missing, unreadable, carries a DTD, refers to a remote location, or the
            set does not compile.
    """
    namespaces = [_check_closure(p, descriptor) for p in paths]
    if len(paths) == 1:
        doc: etree._ElementTree | etree._Element = etree.parse(str(paths[0]), _PARSER)
    else:
        doc = _wrapper(paths, namespaces)
    try:
        return etree.XMLSchema(doc)
    except etree.XMLSchemaParseError as exc:
        errors = [f"{e.filename}:{e.line}: {e.message}" for e in exc.error_log][:3] or [str(exc)]
        raise ProfileError(f"{descriptor}: the schemas {', '.join(p.name for p in paths)} do not compile: "
                           f"{' | '.join(errors)}; fix the XSD or the descriptor's `schemas` list") from exc


def _wrapper(paths: Sequence[Path], namespaces: Sequence[str | None]) -> etree._Element:
    # A wrapper in no namespace may import any namespace and include no-namespace schemas, so a profile
    # whose publisher ships no single entry point for a document type needs only a descriptor.
    root = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    for path, ns in zip(paths, namespaces, strict=True):
        if ns:
            etree.SubElement(root, f"{{{XS}}}import", namespace=ns, schemaLocation=path.as_uri())
        else:
            etree.SubElement(root, f"{{{XS}}}include", schemaLocation=path.as_uri())
    return root


def _check_closure(entry: Path, descriptor: Path) -> str | None:
    """Parse the entry XSD and everything it imports; return the entry's target namespace."""
    seen: set[Path] = set()
    todo = [(entry, descriptor)]
    target: str | None = None
    while todo:
        path, referrer = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        root = _parse(path, referrer)
        if path == entry:
            target = root.get("targetNamespace")
        for ref in root.iter(*_REFS):
            location = ref.get("schemaLocation")
            if not location:
                continue  # an import by namespace only: libxml2 loads nothing for it
            scheme = urlsplit(location).scheme
            if scheme and scheme != "file" and len(scheme) > 1:  # len 1: a Windows drive letter
                raise ProfileError(f"{path} refers to {location}: profiles must not load schemas over the "
                                   "network; copy that file into the profile and point to it relatively")
            local = Path(urlsplit(location).path) if scheme == "file" else path.parent / location
            todo.append((local.resolve(), path))
    return target


def _parse(path: Path, referrer: Path) -> etree._Element:
    if not path.is_file():
        raise ProfileError(f"schema {path} (named in {referrer}) does not exist; "
                           "check the descriptor's `schema_root` and `schemas`, or the XSD's schemaLocation")
    try:
        tree = etree.parse(str(path), _PARSER)
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ProfileError(f"schema {path} (named in {referrer}) cannot be read: {exc}") from exc
    if tree.docinfo.internalDTD is not None:
        raise ProfileError(f"schema {path} has a DOCTYPE; profiles may not use DTDs or entities, remove it")
    return tree.getroot()
