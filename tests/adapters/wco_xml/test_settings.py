"""The wco-xml adapter refuses wrong settings at start-up, naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.wco_xml import WcoXmlAdapter, WcoXmlSettings
from gateway.sdk import ConfigError, parse_settings


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
        ({"url": "http://x", "max_items": 0}, "settings.max_items"),
        ({"url": "http://x", "max_items": "50"}, "settings.max_items"),
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


class TestSecretHeaders:
    """An API key comes from a file (a mounted Secret), never from the network file."""

    def test_value_is_read_from_the_file(self, tmp_path: Any) -> None:
        """A secret header's value is the file's content, without the final newline, beside the plain headers."""
        key = tmp_path / "nz-api-key"
        key.write_text("s3cr3t\n", encoding="utf-8")
        settings = parse(cls=WcoXmlSettings, member="NZ", settings={
            "url": "https://tsw.example", "headers": {"X-Client": "oco"}, "secret_headers": {"X-Api-Key": str(key)}})
        assert settings.all_headers() == {"X-Client": "oco", "X-Api-Key": "s3cr3t"}
        assert "s3cr3t" not in repr(settings)

    @pytest.mark.parametrize(("content", "problem"), [(None, "cannot read"), ("", "one line"), ("a\nb", "one line")])
    def test_unreadable_or_malformed_file_is_refused_without_its_content(
        self, tmp_path: Any, content: str | None, problem: str
    ) -> None:
        """A missing, empty or multi-line file stops the adapter at start-up, naming the setting, not the value."""
        key = tmp_path / "nz-api-key"
        if content is not None:
            key.write_text(content, encoding="utf-8")
        with pytest.raises(ConfigError, match="settings.secret_headers") as caught:
            WcoXmlAdapter("NZ", {"url": "https://tsw.example", "secret_headers": {"X-Api-Key": str(key)}})
        assert problem in str(caught.value)

    def test_header_in_both_places_is_refused(self, tmp_path: Any) -> None:
        """A header given both in headers and in secret_headers is refused, whatever its case."""
        key = tmp_path / "k"
        key.write_text("s3cr3t", encoding="utf-8")
        with pytest.raises(ConfigError, match="x-api-key is in both"):
            WcoXmlAdapter("NZ", {"url": "https://tsw.example", "headers": {"X-API-Key": "k"},
                                 "secret_headers": {"x-api-key": str(key)}})

    def test_reserved_header_is_refused(self, tmp_path: Any) -> None:
        """A secret header may not replace one the adapter sets per declaration."""
        key = tmp_path / "k"
        key.write_text("v", encoding="utf-8")
        with pytest.raises(ConfigError, match="settings.secret_headers"):
            WcoXmlAdapter("NZ", {"url": "https://tsw.example", "secret_headers": {"Idempotency-Key": str(key)}})
