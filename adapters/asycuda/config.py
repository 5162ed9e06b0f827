"""The ASYCUDA adapter's settings (``members.<CODE>.adapter.settings``), checked once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.adapter_api import ConfigError

__all__ = ["AsycudaSettings", "HotFolderSettings"]

_KEYS = ("currency", "hotfolder", "mode", "timeout", "url")
_FOLDER_KEYS = ("inbox", "outbox", "poll_interval")


@dataclass(frozen=True, slots=True)
class HotFolderSettings:
    """Where declarations are dropped for ASYCUDA's XML import and where its results appear."""

    inbox: Path
    outbox: Path
    poll_interval: float = 0.2


@dataclass(frozen=True, slots=True)
class AsycudaSettings:
    """Checked settings of one member's ASYCUDA World connection.

    Attributes:
        mode: ``http`` (POST to the ASYCUDA import service) or ``hotfolder`` (XML files in shared folders).
        url: base URL of the service (``http`` mode); declarations go to ``{url}/asycuda/declarations``.
        timeout: seconds to wait for the national answer, connection included.
        hotfolder: the folders (``hotfolder`` mode).
        currency: ISO 4217 code of the national currency the assessment is in; when None the adapter
            takes it from the declaration's customs values.
    """

    mode: str
    url: str | None
    timeout: float
    hotfolder: HotFolderSettings | None
    currency: str | None

    @classmethod
    def parse(cls, member: str, settings: Mapping[str, Any]) -> AsycudaSettings:
        """Check ``settings`` and return them typed.

        Args:
            member: the member code, to name keys as operators write them.
            settings: the raw mapping from the network configuration.

        Raises:
            ConfigError: a key is unknown, missing or has a wrong value; the message names the key.
        """
        prefix = f"members.{member}.adapter.settings"
        _no_unknown(settings, _KEYS, prefix)
        mode = settings.get("mode", "http")
        if mode not in ("http", "hotfolder"):
            raise ConfigError(f"{prefix}.mode must be 'http' or 'hotfolder', not {mode!r}")
        timeout = _positive(settings.get("timeout", 10), f"{prefix}.timeout")
        url = _url(settings.get("url"), f"{prefix}.url") if mode == "http" or "url" in settings else None
        folder = _folders(settings.get("hotfolder"), f"{prefix}.hotfolder") if mode == "hotfolder" else None
        currency = settings.get("currency")
        if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            raise ConfigError(f"{prefix}.currency must be an ISO 4217 code such as FJD, not {currency!r}")
        return cls(mode=mode, url=url, timeout=timeout, hotfolder=folder, currency=currency)


def _no_unknown(settings: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
    # A misspelt key ("timout") silently ignored would leave the default in force: refuse it.
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]} is not an ASYCUDA adapter setting; "
                          f"known settings: {', '.join(known)}")


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key} must be a number of seconds greater than 0, not {value!r}")
    return float(value)


def _url(value: Any, key: str) -> str:
    if not value:
        raise ConfigError(f"{key} is required in http mode: the ASYCUDA service's base URL, "
                          "e.g. https://asycuda.customs.gov.fj")
    parts = urlsplit(str(value)) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key} must be an http:// or https:// URL, not {value!r}")
    return str(value).rstrip("/")


def _folders(value: Any, key: str) -> HotFolderSettings:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} is required in hotfolder mode: a mapping with inbox and outbox folders")
    _no_unknown(value, _FOLDER_KEYS, key)
    dirs = {}
    for name in ("inbox", "outbox"):
        if not value.get(name):
            raise ConfigError(f"{key}.{name} is required: the folder ASYCUDA's XML import "
                              f"{'reads from' if name == 'inbox' else 'writes results to'}")
        path = Path(value[name])
        if not path.is_dir():
            raise ConfigError(f"{key}.{name}: {path} is not a folder; create it or mount the share")
        dirs[name] = path
    poll = _positive(value.get("poll_interval", 0.2), f"{key}.poll_interval")
    return HotFolderSettings(inbox=dirs["inbox"], outbox=dirs["outbox"], poll_interval=poll)
