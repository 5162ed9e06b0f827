"""Tests for gateway.config: loading, validation messages and environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

GOOD = """
participants:
  fj-post: {name: Post Fiji}
  nz-tradelink: {name: TradeLink}
members:
  FJ: {name: Fiji, submitters: [fj-post]}
  NZ: {name: New Zealand, submitters: [nz-tradelink, fj-post]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "network.yaml"
    path.write_text(text)
    return path


class TestLoadSettings:
    def test_shipped_network_file_is_valid(self) -> None:
        """The configuration the demo uses loads and names at least three members."""
        settings = load_settings(REPO / "config" / "network.yaml")
        assert len(settings.members) >= 3
        assert all(settings.members[m].submitters for m in settings.members)

    def test_may_submit_follows_members_submitters(self, tmp_path: Path) -> None:
        """A participant may submit only for the members that list it."""
        settings = load_settings(write(tmp_path, GOOD))
        assert settings.may_submit("fj-post", "NZ")
        assert not settings.may_submit("nz-tradelink", "FJ")
        assert not settings.may_submit("fj-post", "ZZ")

    def test_unknown_submitter_is_named(self, tmp_path: Path) -> None:
        """A member listing an undeclared participant fails with the member and the participant named."""
        with pytest.raises(ConfigError, match=r"members.FJ.submitters names ghost"):
            load_settings(write(tmp_path, GOOD.replace("[fj-post]", "[fj-post, ghost]", 1)))

    def test_bad_member_code_is_explained(self, tmp_path: Path) -> None:
        """A member code that is not ISO alpha-2 is refused with the key and the rule."""
        with pytest.raises(ConfigError, match=r"members.*'Fiji'.*ISO 3166-1 alpha-2"):
            load_settings(write(tmp_path, GOOD.replace("  FJ: {name: Fiji", "  Fiji: {name: Fiji")))

    def test_misspelt_key_is_refused(self, tmp_path: Path) -> None:
        """A misspelt key is reported as unknown instead of being ignored."""
        with pytest.raises(ConfigError, match=r"kafka.bootstrap_server: unknown key"):
            load_settings(write(tmp_path, GOOD + "kafka: {bootstrap_server: x:1}\n"))

    def test_bad_participant_id_is_refused(self, tmp_path: Path) -> None:
        """A participant id that cannot be part of a topic name is refused."""
        with pytest.raises(ConfigError, match=r"participant id 'Fiji Post'"):
            load_settings(write(tmp_path, GOOD.replace("  fj-post: {name: Post Fiji}", "  Fiji Post: {name: P}")))

    def test_missing_file_is_reported(self, tmp_path: Path) -> None:
        """A missing configuration file is reported with its path."""
        with pytest.raises(ConfigError, match=r"cannot read configuration file .*nope.yaml"):
            load_settings(tmp_path / "nope.yaml")

    def test_environment_overrides_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """OCO_KAFKA__BOOTSTRAP_SERVERS wins over the file's value, other keys stay."""
        monkeypatch.setenv("OCO_KAFKA__BOOTSTRAP_SERVERS", "kafka.example:9092")
        settings = load_settings(write(tmp_path, GOOD + "kafka: {bootstrap_servers: 'a:1', group_id: g}\n"))
        assert settings.kafka.bootstrap_servers == "kafka.example:9092"
        assert settings.kafka.group_id == "g"

    def test_bad_environment_value_is_explained(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A non-numeric port from the environment is refused naming the key."""
        monkeypatch.setenv("OCO_METRICS__PORT", "nine")
        with pytest.raises(ConfigError, match=r"metrics.port"):
            load_settings(write(tmp_path, GOOD))
