"""The ``wco-xml`` adapter's settings, checked once at start-up with messages that name the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.adapter_api import parse_settings

__all__ = ["RESERVED_HEADERS", "WcoXmlSettings"]

RESERVED_HEADERS = frozenset({"content-type", "idempotency-key", "x-oco-tracking-id"})
"""Headers the adapter sets per declaration; a ``headers`` setting may not override them."""


class WcoXmlSettings(BaseModel):
    """Where and how to post declarations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the national system's base URL, such as https://tsw.example.govt.nz/api; "
                                 "declarations go to <url>/declarations")
    timeout: float = Field(10.0, gt=0, le=600, strict=True,
                           description="seconds one delivery may take in all (connect, send, answer)")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="extra HTTP headers sent with every request (an API key...)")


    @field_validator("url")
    @classmethod
    def _base_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected the national system's base URL, such as https://tsw.example.govt.nz/api, "
                             f"not {url!r}")
        return url.rstrip("/")

    @field_validator("headers", mode="before")
    @classmethod
    def _none_is_no_headers(cls, headers: Any) -> Any:
        return {} if headers is None else headers  # `headers:` left empty in the YAML file

    @field_validator("headers")
    @classmethod
    def _not_reserved(cls, headers: dict[str, str]) -> dict[str, str]:
        clash = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
        if clash:
            raise ValueError(f"{', '.join(clash)} is set by the adapter per declaration; remove it from the settings")
        return headers
