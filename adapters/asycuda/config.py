"""The ASYCUDA adapter's settings (``members.<CODE>.adapter.settings``), checked once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from adapters.asycuda.layout import load_layout

__all__ = ["AsycudaSettings", "HotFolderSettings"]


class HotFolderSettings(BaseModel):
    """Where declarations are dropped for ASYCUDA's XML import and where its results appear."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inbox: Path = Field(description="the folder ASYCUDA's XML import reads from")
    outbox: Path = Field(description="the folder ASYCUDA's XML import writes results to")
    poll_interval: float = Field(0.2, gt=0, strict=True, description="seconds between looks at the outbox")
    keep_days: float = Field(7.0, gt=0, le=3650, strict=False,
                             description="days a registration read is kept in <outbox>/taken to answer redeliveries")

    @field_validator("inbox", "outbox", mode="before")
    @classmethod
    def _existing_folder(cls, folder: Any, info: ValidationInfo) -> Any:
        if not isinstance(folder, (str, Path)) or not str(folder):
            raise ValueError(f"expected the path of the folder ASYCUDA's XML import "
                             f"{'reads from' if info.field_name == 'inbox' else 'writes results to'}, not {folder!r}")
        if not Path(folder).is_dir():
            raise ValueError(f"{folder} is not a folder; create it or mount the share")
        return folder


class AsycudaSettings(BaseModel):
    """Checked settings of one member's ASYCUDA World connection.

    ``http`` mode posts to ``{url}/asycuda/declarations`` (``url`` required); ``hotfolder`` mode exchanges XML
    files in shared folders (``hotfolder`` required; ignored in ``http`` mode). Without ``currency`` the adapter
    takes the assessment's currency from the declaration's customs values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["http", "hotfolder"] = Field("http", description="http (the import service) or hotfolder")
    url: str | None = Field(None, validate_default=True, description="the ASYCUDA service's base URL (http mode)")
    timeout: float = Field(10.0, gt=0, strict=True, description="seconds to wait for the national answer")
    hotfolder: HotFolderSettings | None = Field(None, validate_default=True,
                                                description="the inbox and outbox folders (hotfolder mode)")
    currency: str | None = Field(None, description="ISO 4217 code of the currency ASYCUDA assesses in")
    layout: str | None = Field(None, description="the member's ASYCUDA installation layout: a shipped layout's "
                               "name (adapters/asycuda/layouts) or a layout file; none: the stylesheet's own")


    # Fields are validated in order: `mode` is in info.data when it is valid, for the rules that depend on it.
    @field_validator("url", mode="before")
    @classmethod
    def _url_in_http_mode(cls, url: Any, info: ValidationInfo) -> Any:
        if not url:
            if info.data.get("mode") == "http":
                raise ValueError("required in http mode: the ASYCUDA service's base URL, "
                                 "e.g. https://asycuda.customs.gov.fj")
            return None
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL, not {url!r}")
        return url.rstrip("/")

    @field_validator("hotfolder", mode="before")
    @classmethod
    def _folders_in_hotfolder_mode(cls, folders: Any, info: ValidationInfo) -> Any:
        if info.data.get("mode") == "http":
            return None  # not used in http mode
        if info.data.get("mode") == "hotfolder" and not isinstance(folders, (Mapping, HotFolderSettings)):
            raise ValueError("required in hotfolder mode: a mapping with inbox and outbox folders" if folders is None
                             else f"expected a mapping with inbox and outbox folders, not {folders!r}")
        return folders

    @field_validator("layout")
    @classmethod
    def _known_layout(cls, layout: str | None) -> str | None:
        if layout is not None:
            load_layout(layout)  # a missing or broken layout stops the process at start-up, named
        return layout

    @field_validator("currency", mode="before")
    @classmethod
    def _iso_currency(cls, currency: Any) -> Any:
        if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            raise ValueError(f"expected an ISO 4217 code such as FJD, not {currency!r}")
        return currency
