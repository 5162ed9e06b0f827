"""Tests for gateway.sdk.parse_settings: adapter settings checked by a pydantic model, told to operators."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

import gateway.sdk
from gateway.sdk import ConfigError, parse_settings

PREFIX = "members.FJ.adapter.settings"


class _Folder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="the folder to watch")
    poll: float = Field(0.5, gt=0, strict=True)


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the system's base URL, such as https://customs.example")
    timeout: float = Field(10.0, gt=0, le=600, strict=True)
    topic: str = Field("", validate_default=True)
    headers: dict[str, str] = Field(default_factory=dict)
    folder: _Folder | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, not {url!r}")
        return url

    @field_validator("topic", mode="before")
    @classmethod
    def _member_topic(cls, topic: Any, info: ValidationInfo) -> Any:
        return topic or f"member.{info.context['member']}.{info.context['adapter']}"


def _refusal(settings: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(_Settings, settings, member="FJ", adapter="example")
    return str(caught.value)


class TestParseSettings:
    def test_valid_settings_return_the_model_with_defaults(self) -> None:
        """Valid settings come back as the model, defaults filled in and values typed."""
        settings = parse_settings(_Settings, {"url": "https://c.example", "timeout": 5}, member="FJ", adapter="x")
        assert settings == _Settings(url="https://c.example", timeout=5.0, topic="member.FJ.x")
        assert isinstance(settings.timeout, float)

    def test_any_mapping_is_accepted_and_left_unchanged(self) -> None:
        """A read-only mapping is accepted, and defaults are not written back into it."""
        raw = MappingProxyType({"url": "https://c.example"})
        parse_settings(_Settings, raw, member="FJ", adapter="x")
        assert dict(raw) == {"url": "https://c.example"}

    def test_validators_get_the_member_and_adapter_as_context(self) -> None:
        """Validators read the member code and adapter name from info.context, for member-dependent defaults."""
        settings = parse_settings(_Settings, {"url": "http://c"}, member="WS", adapter="kafka")
        assert settings.topic == "member.WS.kafka"

    def test_one_line_per_problem_each_naming_the_full_key(self) -> None:
        """Every problem is reported at once, one line each, starting with members.<CODE>.adapter.settings.<key>."""
        lines = _refusal({"url": "ftp://c", "timeout": 0, "headers": {"X-Key": 1}}).splitlines()
        assert [line.split(": ", 1)[0] for line in lines] == [
            f"{PREFIX}.url", f"{PREFIX}.timeout", f"{PREFIX}.headers.X-Key"]

    def test_unknown_key_is_named_with_the_known_ones(self) -> None:
        """An unknown key is refused, naming the adapter and listing the keys the adapter knows."""
        assert _refusal({"url": "http://c", "tiemout": 3}) == (
            f"{PREFIX}.tiemout: unknown setting for adapter example; "
            "known settings: url, timeout, topic, headers, folder")

    def test_unknown_nested_key_lists_the_nested_keys(self) -> None:
        """An unknown key inside a nested model lists that model's keys, not the top-level ones."""
        message = _refusal({"url": "http://c", "folder": {"path": "/x", "pol": 1}})
        assert message == f"{PREFIX}.folder.pol: unknown setting for adapter example; known settings: path, poll"

    def test_missing_key_says_what_is_expected(self) -> None:
        """A missing required key is named with its field description, so the operator knows what to write."""
        assert _refusal({}) == (f"{PREFIX}.url: required, but not set "
                                "(the system's base URL, such as https://customs.example)")
        assert _refusal({"url": "http://c", "folder": {}}) == (
            f"{PREFIX}.folder.path: required, but not set (the folder to watch)")

    def test_validator_message_is_shown_as_written(self) -> None:
        """A ValueError raised by a validator reaches the operator in its own words, without pydantic's prefix."""
        assert _refusal({"url": "ftp://c"}) == f"{PREFIX}.url: expected an http(s) URL, not 'ftp://c'"

    @pytest.mark.parametrize(("settings", "line"), [
        ({"url": "http://c", "timeout": "10"}, f"{PREFIX}.timeout: input should be a valid number, not '10'"),
        ({"url": "http://c", "timeout": True}, f"{PREFIX}.timeout: input should be a valid number, not True"),
        ({"url": "http://c", "timeout": 601}, f"{PREFIX}.timeout: input should be less than or equal to 600, not 601"),
        ({"url": 42}, f"{PREFIX}.url: input should be a valid string, not 42"),
    ])
    def test_type_and_range_problems_quote_the_value(self, settings: dict[str, Any], line: str) -> None:
        """A wrong type or out-of-range value is explained and quoted (strict fields refuse "10" and true)."""
        assert _refusal(settings) == line

    def test_mappings_and_lists_are_named_not_printed(self) -> None:
        """A wrong mapping or list is named by its type, never printed: it may hold an API key."""
        assert _refusal({"url": "http://c", "folder": ["secret-key"]}) == (
            f"{PREFIX}.folder: input should be a valid dictionary or instance of _Folder, not a list")
        assert "secret" not in _refusal({"url": "http://c", "headers": ["secret-key"]})

    def test_long_values_are_shortened(self) -> None:
        """A long quoted value is cut so that one problem stays one readable line."""
        line = _refusal({"url": "http://c", "timeout": "9" * 500})
        assert "9" * 50 in line and "9" * 100 not in line and "..." in line

    def test_config_error_keeps_the_validation_error_as_cause(self) -> None:
        """The ConfigError is a ValueError chained from pydantic's ValidationError, for debugging."""
        with pytest.raises(ConfigError) as caught:
            parse_settings(_Settings, {}, member="FJ", adapter="x")
        assert isinstance(caught.value, ValueError) and isinstance(caught.value.__cause__, ValidationError)

    def test_model_that_allows_unknown_keys_is_a_bug(self) -> None:
        """A model without extra="forbid" raises TypeError: a misspelt key would silently keep the default."""

        class Lax(BaseModel):
            timeout: float = 10.0

        with pytest.raises(TypeError, match='extra="forbid"'):
            parse_settings(Lax, {"timout": 1}, member="FJ", adapter="x")

    def test_exported_from_the_adapter_api(self) -> None:
        """parse_settings is part of the adapter API, listed in its __all__."""
        assert "parse_settings" in gateway.sdk.__all__
