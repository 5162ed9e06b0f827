"""The ``wco-xml`` adapter's settings, checked once at start-up with messages that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
    max_items: int | None = Field(None, ge=1, le=999, strict=True,
                                  description="the most goods items the single window takes in one declaration "
                                              "(None: no limit of its own); more is rejected before posting")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="extra HTTP headers sent with every request (not secrets: the "
                                                "network file is a ConfigMap)")
    secret_headers: dict[str, Path] = Field(default_factory=dict,
                                            description="headers whose value is read from a file at start-up, "
                                                        "such as an API key from a mounted Secret: name -> file")


    @field_validator("url")
    @classmethod
    def _base_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected the national system's base URL, such as https://tsw.example.govt.nz/api, "
                             f"not {url!r}")
        return url.rstrip("/")

    @field_validator("headers", "secret_headers", mode="before")
    @classmethod
    def _none_is_no_headers(cls, headers: Any) -> Any:
        return {} if headers is None else headers  # `headers:` left empty in the YAML file

    @field_validator("headers", "secret_headers")
    @classmethod
    def _not_reserved(cls, headers: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
        if clash:
            raise ValueError(f"{', '.join(clash)} is set by the adapter per declaration; remove it from the settings")
        return headers

    @field_validator("secret_headers")
    @classmethod
    def _files_readable(cls, headers: dict[str, Path]) -> dict[str, Path]:
        for name, path in headers.items():
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:  # the message names the file, never what is in it
                raise ValueError(f"{name}: cannot read {path} ({exc.strerror or exc}); mount the Secret "
                                 f"holding it there") from exc
            if not value or "\n" in value:
                raise ValueError(f"{name}: {path} must hold the header's value on one line")
        return headers

    @model_validator(mode="after")
    def _each_header_once(self) -> WcoXmlSettings:
        twice = sorted({n.lower() for n in self.headers} & {n.lower() for n in self.secret_headers})
        if twice:
            raise ValueError(f"{', '.join(twice)} is in both headers and secret_headers; keep it in secret_headers")
        return self

    def all_headers(self) -> dict[str, str]:
        """Return the extra headers to send, the secret ones read from their files now.

        Raises:
            OSError: a secret header's file went away since the settings were checked.
        """
        secret = {name: path.read_text(encoding="utf-8").strip() for name, path in self.secret_headers.items()}
        return {**self.headers, **secret}
