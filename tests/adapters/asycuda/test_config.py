"""Tests for adapters.asycuda.config: settings are checked at start-up and errors name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.asycuda import AsycudaAdapter
from adapters.asycuda.config import AsycudaSettings
from gateway.sdk import ConfigError, parse_settings


def parse(*, cls: Any, member: str, settings: Any) -> Any:
    """Check settings as the asycuda adapter does at start-up."""
    return parse_settings(cls, settings, member=member, adapter="asycuda")

PREFIX = "members.FJ.adapter.settings"


class TestAsycudaSettings:
    def test_defaults(self) -> None:
        """Only the URL is needed: HTTP mode, a 10 s timeout, the currency from the declarations."""
        settings = parse(cls=AsycudaSettings, member="FJ", settings={"url": "http://asycuda.example:8080/"})
        assert (settings.mode, settings.url, settings.timeout, settings.currency) == (
            "http", "http://asycuda.example:8080", 10.0, None)

    def test_hot_folder(self, tmp_path: Path) -> None:
        """Hot-folder mode needs existing inbox and outbox folders, and no URL."""
        (tmp_path / "in").mkdir()
        (tmp_path / "out").mkdir()
        settings = parse(cls=AsycudaSettings, member="FJ", settings={"mode": "hotfolder", "hotfolder": {
            "inbox": str(tmp_path / "in"), "outbox": str(tmp_path / "out"), "poll_interval": 0.5}})
        assert settings.hotfolder is not None and settings.hotfolder.poll_interval == 0.5
        assert settings.url is None

    @pytest.mark.parametrize(("settings", "key"), [
        ({}, "url"),
        ({"url": "ftp://x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://x", "timeout": 0}, "timeout"),
        ({"url": "http://x", "timeout": "10"}, "timeout"),
        ({"url": "http://x", "mode": "soap"}, "mode"),
        ({"url": "http://x", "timout": 3}, "timout"),
        ({"url": "http://x", "currency": "fjd"}, "currency"),
        ({"mode": "hotfolder"}, "hotfolder"),
        ({"mode": "hotfolder", "hotfolder": {"inbox": "/nonexistent/in", "outbox": "/tmp"}}, "hotfolder.inbox"),
        ({"mode": "hotfolder", "hotfolder": {"inbox": "/tmp"}}, "hotfolder.outbox"),
        ({"mode": "hotfolder", "hotfolder": {"inbox": "/tmp", "outbox": "/tmp", "poll": 1}}, "hotfolder.poll"),
    ])
    def test_wrong_settings_name_the_key(self, settings: dict[str, Any], key: str) -> None:
        """A missing, unknown or wrong setting raises ConfigError naming members.<CODE>.adapter.settings.<key>."""
        with pytest.raises(ConfigError, match=rf"{PREFIX}\.{key}\b"):
            parse(cls=AsycudaSettings, member="FJ", settings=settings)

    def test_adapter_checks_its_settings(self) -> None:
        """The adapter refuses wrong settings when it is created, not at the first delivery."""
        with pytest.raises(ConfigError, match=rf"{PREFIX}\.url"):
            AsycudaAdapter("FJ", {"timeout": 5})
