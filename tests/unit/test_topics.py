"""Tests for gateway.topics: one topic per participant and per member."""

from __future__ import annotations

import pytest

from gateway.topics import deliver_topic, participant_of, reply_topic, submit_topic


class TestTopics:
    def test_submit_topic_round_trips_to_participant(self) -> None:
        """The participant is recovered from its own submit topic."""
        assert participant_of(submit_topic("fj-post")) == "fj-post"

    def test_names_follow_the_documented_scheme(self) -> None:
        """Submit, reply and deliver topics carry the participant or member in their name."""
        assert (submit_topic("a1"), reply_topic("a1"), deliver_topic("FJ")) == (
            "oco.submit.a1", "oco.reply.a1", "oco.deliver.FJ")

    @pytest.mark.parametrize("topic", ["oco.reply.fj-post", "oco.submit.", "submit.fj-post"])
    def test_other_topics_have_no_participant(self, topic: str) -> None:
        """Only submit topics name a submitter."""
        with pytest.raises(ValueError):
            participant_of(topic)
