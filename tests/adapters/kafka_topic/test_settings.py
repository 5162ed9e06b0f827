"""The kafka adapter refuses wrong settings at start-up, naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.kafka_topic import KafkaTopicAdapter, KafkaTopicSettings
from gateway.sdk import ConfigError, parse_settings


def parse(*, cls: Any, member: str, settings: Any) -> Any:
    """Check settings as the kafka adapter does at start-up."""
    return parse_settings(cls, settings, member=member, adapter="kafka")


class TestKafkaTopicSettings:
    def test_defaults_follow_the_member_code(self) -> None:
        """Topics default to member.<CODE>.declarations and member.<CODE>.answers; timeouts to 10 s."""
        settings = parse(cls=KafkaTopicSettings, member="WS", settings={"bootstrap_servers": "k1:9092"})
        assert settings == KafkaTopicSettings(bootstrap_servers="k1:9092", request_topic="member.WS.declarations",
                                              reply_topic="member.WS.answers", timeout=10.0, connect_timeout=10.0)

    def test_a_list_of_brokers_is_joined(self) -> None:
        """bootstrap_servers may be a list of host:port."""
        settings = parse(cls=KafkaTopicSettings, member="WS", settings={"bootstrap_servers": ["k1:9092", "k2:9092"]})
        assert settings.bootstrap_servers == "k1:9092,k2:9092"

    def test_construction_does_not_connect(self) -> None:
        """Creating the adapter checks settings only; nothing connects before the first delivery."""
        adapter = KafkaTopicAdapter("WS", {"bootstrap_servers": "nowhere.invalid:9092"})
        assert adapter.config.reply_topic == "member.WS.answers"

    @pytest.mark.parametrize(("settings", "key"), [
        ({}, "settings.bootstrap_servers"),
        ({"bootstrap_servers": "k1"}, "settings.bootstrap_servers"),
        ({"bootstrap_servers": "k1:9092, k2:9092"}, "settings.bootstrap_servers"),
        ({"bootstrap_servers": 9092}, "settings.bootstrap_servers"),
        ({"bootstrap_servers": "k:1", "request_topic": "bad topic"}, "settings.request_topic"),
        ({"bootstrap_servers": "k:1", "reply_topic": ""}, "settings.reply_topic"),
        ({"bootstrap_servers": "k:1", "max_items": 1000}, "settings.max_items"),
        ({"bootstrap_servers": "k:1", "request_topic": "t", "reply_topic": "t"}, "reply_topic"),
        ({"bootstrap_servers": "k:1", "timeout": -1}, "settings.timeout"),
        ({"bootstrap_servers": "k:1", "connect_timeout": "5"}, "settings.connect_timeout"),
        ({"bootstrap_servers": "k:1", "topic": "x"}, "topic"),
    ])
    def test_wrong_settings_name_the_key(self, settings: dict[str, Any], key: str) -> None:
        """A missing, malformed or unknown setting raises ConfigError naming the member and key."""
        with pytest.raises(ConfigError, match=key) as caught:
            KafkaTopicAdapter("WS", settings)
        assert "members.WS.adapter.settings" in str(caught.value)


class TestSecurity:
    def test_credentials_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """security.username with password_env: SASL/SCRAM options with the variable's value."""
        monkeypatch.setenv("FJ_KAFKA_PASSWORD", "from-the-environment")
        adapter = KafkaTopicAdapter("FJ", {"bootstrap_servers": "k:1", "security": {
            "username": "oco-fj", "password_env": "FJ_KAFKA_PASSWORD"}})
        assert adapter._security == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                                     "sasl_plain_username": "oco-fj", "sasl_plain_password": "from-the-environment"}

    def test_a_password_in_the_network_file_is_refused(self) -> None:
        """security.password is refused, with where the password goes instead."""
        with pytest.raises(ConfigError, match="settings.security.*password_env.*password_file"):
            KafkaTopicAdapter("FJ", {"bootstrap_servers": "k:1", "security": {"username": "u", "password": "x"}})

    def test_an_unset_password_variable_stops_start_up(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """password_env naming a variable that is not set is a configuration error at start-up."""
        monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
        with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
            KafkaTopicAdapter("FJ", {"bootstrap_servers": "k:1", "security": {
                "username": "u", "password_env": "NOT_SET_ANYWHERE"}})
