"""The wco-xml adapter refuses wrong settings at start-up, naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.wco_xml import WcoXmlAdapter, WcoXmlSettings
from gateway.adapter_api import ConfigError, parse_settings


def parse(*, cls: Any, member: str, settings: Any) -> Any:
    """Check settings as the wco-xml adapter does at start-up."""
    return parse_settings(cls, settings, member=member, adapter="wco-xml")


class TestWcoXmlSettings:
    def test_defaults(self) -> None:
        """Only url is required; timeout defaults to 10 s, headers to none, and a trailing slash is dropped."""
        settings = parse(cls=WcoXmlSettings, member="NZ", settings={"url": "https://tsw.example/api/"})
        assert settings == WcoXmlSettings(url="https://tsw.example/api", timeout=10.0, headers={})

    @pytest.mark.parametrize(("settings", "key"), [
        ({}, "settings.url"),
        ({"url": "tsw.example"}, "settings.url"),
        ({"url": "ftp://tsw.example"}, "settings.url"),
        ({"url": 42}, "settings.url"),
        ({"url": "http://x", "timeout": 0}, "settings.timeout"),
        ({"url": "http://x", "timeout": "10"}, "settings.timeout"),
        ({"url": "http://x", "timeout": True}, "settings.timeout"),
        ({"url": "http://x", "headers": ["a"]}, "settings.headers"),
        ({"url": "http://x", "headers": {"X-Key": 1}}, "settings.headers"),
        ({"url": "http://x", "headers": {"idempotency-key": "k"}}, "settings.headers"),
        ({"url": "http://x", "tiemout": 3}, "tiemout"),
    ])
    def test_wrong_settings_name_the_key(self, settings: dict[str, Any], key: str) -> None:
        """A missing, malformed, reserved or unknown setting raises ConfigError naming the member and key."""
        with pytest.raises(ConfigError, match=key) as caught:
            WcoXmlAdapter("NZ", settings)
        assert "members.NZ.adapter.settings" in str(caught.value)
        assert isinstance(caught.value, ValueError)
