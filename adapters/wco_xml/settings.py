"""The ``wco-xml`` adapter's settings, checked once at start-up with messages that name the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.adapter_api import ConfigError

__all__ = ["RESERVED_HEADERS", "WcoXmlSettings"]

RESERVED_HEADERS = frozenset({"content-type", "idempotency-key", "x-oco-tracking-id"})
"""Headers the adapter sets per declaration; a ``headers`` setting may not override them."""

_KEYS = ("url", "timeout", "headers")


@dataclass(frozen=True, slots=True)
class WcoXmlSettings:
    """Where and how to post declarations.

    Attributes:
        url: base URL of the national system; declarations go to ``<url>/declarations``.
        timeout: seconds one delivery may take in all (connect, send, answer).
        headers: extra HTTP headers sent with every request (an API key, for instance).
    """

    url: str
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, member: str, settings: Mapping[str, Any]) -> WcoXmlSettings:
        """Check a member's ``adapter.settings`` and return them typed.

        Args:
            member: the member code, for messages.
            settings: the mapping from the network configuration.

        Raises:
            ConfigError: a key is unknown, missing or has a wrong value; the message names it.
        """
        where = f"members.{member}.adapter.settings"
        unknown = sorted(set(settings) - set(_KEYS))
        if unknown:  # a typo must not silently fall back to a default
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for adapter wco-xml; "
                              f"known keys: {', '.join(_KEYS)}")
        url = settings.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{where}.url: expected the national system's base URL, such as "
                              f"https://tsw.example.govt.nz/api, not {url!r}")
        timeout = settings.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise ConfigError(f"{where}.timeout: expected seconds between 0 and 600, not {timeout!r}")
        headers = settings.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ConfigError(f"{where}.headers: expected a mapping of header names to string values")
        clash = sorted(k for k in headers if k.lower() in RESERVED_HEADERS)
        if clash:
            raise ConfigError(f"{where}.headers: {', '.join(clash)} is set by the adapter per declaration; "
                              "remove it from the settings")
        return cls(url=url.rstrip("/"), timeout=float(timeout), headers=dict(headers))
