"""A compiled document type of a schema profile: how a matching message is recognised, validated and read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from gateway.errors import Issue, Unidentified
from gateway.profiles._issues import DEFAULT_MAX_ERRORS, schema_issues
from gateway.profiles._model import ModelReader
from gateway.profiles._routing import RoutingReader
from gateway.profiles._xpath import boolean_xpath, string_xpath
from gateway.profiles.descriptor import DocumentSpec, ProfileDescriptor

if TYPE_CHECKING:
    from gateway.routing import RoutingFields

__all__ = ["Profile"]


class Profile:
    """One document type (declaration, cancellation, response...) of a loaded profile, compiled once.

    Built by :class:`~gateway.profiles.ProfileRegistry`; a stage gets one from ``registry.select()``.
    Not for use from several threads at once: lxml keeps the last validation's error log on the schema.

    Args:
        descriptor: the profile's descriptor.
        document: the document type, one of ``descriptor.documents``.
        schema: its compiled schema (shared by document types listing the same XSDs).
        source: the descriptor file, for error messages.

    Raises:
        ProfileError: an XPath of the descriptor is unusable.

    Attributes:
        name: the profile's name (``oco``, ``hmrc-dms``).
        document: the document type's name, or its kind when unnamed.
        kind: ``DEC``, ``RES`` or ``AEO``.
        root: Clark name of the root element.
        payload: Clark name of the payload element under the root, or None when the root is the payload.
        when: the XPath condition on the payload, or None.
        wco_versions: WCO Data Model versions accepted; empty accepts any.
        source: the descriptor file.
    """

    def __init__(self, descriptor: ProfileDescriptor, document: DocumentSpec, schema: etree.XMLSchema,
                 source: Path) -> None:
        ns: Mapping[str, str] = descriptor.namespaces
        self.name = descriptor.name
        self.document = document.label
        self.kind = document.kind
        self.root = document.root
        self.payload = document.payload
        self.when = document.when
        self.wco_versions = frozenset(descriptor.wco_versions)
        self.source = source
        self._schema = schema
        self._prefixes = {uri: prefix for prefix, uri in ns.items()}
        index = descriptor.documents.index(document)
        self._when = (boolean_xpath(document.when, ns, key=f"documents.{index}.when", descriptor=source)
                      if document.when else None)
        routing = descriptor.routing_for(document)
        # Envelope codes this version accepts, by name: wco_version (wco_versions at routing.wco_version),
        # then the descriptor's version_codes. They select among profiles before they reject a document.
        self._codes: list[tuple[str, str, Callable[[etree._Element], str], frozenset[str]]] = []
        if routing and routing.wco_version:  # compiled even when unused: a bad XPath stops the load
            read = string_xpath(routing.wco_version, ns, key="routing.wco_version", descriptor=source)
            if self.wco_versions:
                self._codes.append(("wco_version", routing.wco_version, read, self.wco_versions))
        for code, spec in descriptor.version_codes.items():
            self._codes.append((code, spec.path, string_xpath(
                spec.path, ns, key=f"version_codes.{code}.path", descriptor=source), frozenset(spec.values)))
        self._routing = RoutingReader(routing, ns, source) if routing and document.kind == "DEC" else None
        # Compiled here too so that a wrong `model:` path stops start-up; the delivery side builds its own.
        self.model_reader = (ModelReader(descriptor.model, ns, document.payload, source)
                             if document.kind == "DEC" else None)

    @property
    def label(self) -> str:
        """``profile/document``, as shown to operators (``hmrc-dms/cancellation``)."""
        return f"{self.name}/{self.document}"

    def matches(self, payload: etree._Element) -> bool:
        """Return whether the ``when`` condition holds (always, when there is none).

        Args:
            payload: the payload element (the root when the profile names no payload).
        """
        return self._when is None or bool(self._when(payload))

    @property
    def version_codes(self) -> dict[str, frozenset[str]]:
        """The envelope codes this version accepts, by name (``wco_version``, then the descriptor's)."""
        return {name: values for name, _, _, values in self._codes}

    def told_apart(self, other: Profile) -> bool:
        """Tell whether an envelope code both name always tells this document type from ``other``'s.

        Args:
            other: a document type of another profile reading the same root and payload.
        """
        theirs = other.version_codes
        return any(name in theirs and not values & theirs[name] for name, values in self.version_codes.items())

    def refusal(self, root: etree._Element) -> Issue | None:
        """Return why this version refuses the document's envelope codes, or None when it accepts them.

        A code the document does not carry is accepted.

        Args:
            root: the document's root element.
        """
        for name, path, read, values in self._codes:
            value = read(root).strip()
            if value and value not in values:
                if name == "wco_version":
                    return Issue(code="OCO-UNSUPPORTED-WCO-VERSION",
                                 message=f"WCO Data Model version {value[:64]!r} is not accepted by profile "
                                         f"{self.name!r} (accepted: {', '.join(sorted(values))})")
                return Issue(code="OCO-UNSUPPORTED-VERSION",
                             message=f"{path} {value[:64]!r} is not accepted by profile {self.name!r} "
                                     f"(its {name}: {', '.join(sorted(values))})")
        return None

    def check_version(self, root: etree._Element) -> None:
        """Refuse a document whose WCO Data Model version (or other version code) the profile does not accept.

        Args:
            root: the document's root element.

        Raises:
            Unidentified: a version code is present and not accepted (code OCO-UNSUPPORTED-WCO-VERSION, or
                OCO-UNSUPPORTED-VERSION for the descriptor's ``version_codes``).
        """
        issue = self.refusal(root)
        if issue is not None:
            raise Unidentified([issue], stage="identify")

    def validate(self, root: etree._Element, max_errors: int = DEFAULT_MAX_ERRORS) -> list[Issue]:
        """Validate against the profile's XSDs; return the errors (at most ``max_errors`` of them), or [].

        Args:
            root: the document's root element.
            max_errors: errors listed; when there are more, the list ends with an ``OCO-ERRORS-TRUNCATED``
                Issue saying how many were left out.
        """
        if self._schema.validate(root):
            return []
        return schema_issues(self._schema.error_log, root, self._prefixes, max_errors)

    def extract(self, root: etree._Element) -> RoutingFields:
        """Read the routing fields of a declaration.

        Args:
            root: the document's root element.

        Raises:
            Unidentified: not a declaration (OCO-NOT-A-DECLARATION), or a required field is missing
                (OCO-MISSING-ROUTING-FIELD).
        """
        if self._routing is None:
            raise Unidentified([Issue(
                code="OCO-NOT-A-DECLARATION",
                message=f"this is a {self.kind} document ({self.label}); only declarations can be submitted",
            )], stage="extract")
        return self._routing(root)

    def __repr__(self) -> str:
        return f"<Profile {self.label} {self.kind} {self.root} > {self.payload}>"
