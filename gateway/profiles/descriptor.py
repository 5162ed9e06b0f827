"""The profile descriptor (``profile.yaml``): what a profile folder declares, read and checked."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import ProfileError

__all__ = ["AeoHolderPaths", "DocumentSpec", "ProfileDescriptor", "RoutingPaths", "VersionCode", "load_descriptor"]

DESCRIPTOR_NAME = "profile.yaml"

# A Clark name: ``{namespace}local`` or a bare ``local`` for elements in no namespace.
_CLARK = r"^(\{[^{}\s]+\})?[A-Za-z_][A-Za-z0-9_.\-]*$"


class _Strict(BaseModel):
    # Unknown keys are typos in an operator's file: refuse them rather than ignore them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class AeoHolderPaths(_Strict):
    """Where the AEO authorisation holders are: a node set, and the id and category inside each node."""

    path: str = Field(min_length=1, description="node set, relative to the root")
    id: str = Field(min_length=1, description="relative to each node")
    category: str = Field(min_length=1, description="relative to each node")


class RoutingPaths(_Strict):
    """XPath 1.0 expressions, relative to the root element, for the fields the gateway routes by."""

    member: str = Field(min_length=1)
    lrn: str = Field(min_length=1)
    function_code: str = Field(min_length=1)
    type_code: str | None = None
    declarant: str | None = None
    representative: str | None = None
    declaration_id: str | None = None
    wco_version: str | None = None
    aeo_holders: AeoHolderPaths | None = None


class VersionCode(_Strict):
    """An envelope code that tells this version of a profile from another one reading the same documents."""

    path: str = Field(min_length=1, description="XPath 1.0, relative to the root element")
    values: list[str] = Field(min_length=1, description="the values this version accepts")


class DocumentSpec(_Strict):
    """One document type of a profile: how to recognise it and which XSDs validate it."""

    kind: Literal["DEC", "RES", "AEO"]
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    root: str = Field(pattern=_CLARK)
    payload: str | None = Field(default=None, pattern=_CLARK)
    when: str | None = Field(default=None, min_length=1)
    schemas: list[str] = Field(min_length=1)
    routing: RoutingPaths | None = None

    @property
    def label(self) -> str:
        """The document's name, or its kind when unnamed."""
        return self.name or self.kind


class ProfileDescriptor(_Strict):
    """The whole ``profile.yaml``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""
    wco_versions: list[str] = Field(default_factory=list)
    version_codes: dict[str, VersionCode] = Field(default_factory=dict)
    namespaces: dict[str, str] = Field(default_factory=dict)
    schema_root: str = "."
    routing: RoutingPaths | None = None
    model: dict[str, str] = Field(default_factory=dict, description=(
        "paths of the adapters' declaration model, relative to the payload, overriding the WCO DM defaults "
        "key by key (see gateway/profiles/_model_paths.py)"))
    documents: list[DocumentSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ProfileDescriptor:
        for prefix in self.namespaces:
            if not prefix.isidentifier():
                raise ValueError(f"namespaces: prefix {prefix!r} is not a valid XML prefix")
        for code in self.version_codes:
            if not code.isidentifier() or code == "wco_version":
                raise ValueError(f"version_codes: {code!r} must be a name of letters, digits and _ "
                                 "(wco_version is given by wco_versions and routing.wco_version)")
        for i, doc in enumerate(self.documents):
            if doc.kind == "DEC" and doc.routing is None and self.routing is None:
                raise ValueError(f"documents.{i} ({doc.label}) is a DEC but no routing paths are given: "
                                 "add `routing:` to the profile or to the document")
        return self

    def routing_for(self, doc: DocumentSpec) -> RoutingPaths | None:
        """Return the routing paths that apply to one document: its own, else the profile's.

        Args:
            doc: one of :attr:`documents`.
        """
        return doc.routing or self.routing


def load_descriptor(path: Path) -> ProfileDescriptor:
    """Read and check one ``profile.yaml``.

    Args:
        path: the descriptor file.

    Raises:
        ProfileError: the file cannot be read, is not YAML, or does not describe a profile.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile descriptor {path}: {exc.strerror or exc}; "
                           "check the profiles folder setting (OCO_PROFILES_DIR)") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ProfileError(f"{path}: not valid YAML{at} ({getattr(exc, 'problem', None) or exc}); "
                           "fix the file and restart") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping with name, namespaces and documents; "
                           "see schemas/README.md")
    try:
        return ProfileDescriptor.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise ProfileError(f"{path}: {problems}; fix the descriptor (see schemas/README.md) and restart") from exc
