"""The simulator kit: the shared controls and the control, registrations and health endpoints (in-process ASGI)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.sdk.simkit import MAX_DELAY, CallLog, Controls, control_routes

# Each a JSON body of POST /control, and the key its error must name.
BAD_VALUES = [
    ({"down": "yes"}, "down"), ({"down": 1}, "down"),
    ({"delay": -1}, "delay"), ({"delay": MAX_DELAY + 1}, "delay"), ({"delay": "1"}, "delay"),
    ({"delay": True}, "delay"),
    ({"failure_rate": 2}, "failure_rate"), ({"failure_rate": -0.1}, "failure_rate"),
    ({"reject_next": 1.5}, "reject_next"), ({"reject_next": -1}, "reject_next"),
    ({"reject_next": False}, "reject_next"),
    ({"slow": True}, "slow"),
]
NOT_FINITE = [({"delay": float("nan")}, "delay"), ({"failure_rate": float("inf")}, "failure_rate")]


class TestControls:
    def test_defaults_are_a_normal_system(self) -> None:
        """A new Controls is up, without delay, failures or pending rejections."""
        assert Controls().as_dict() == {"down": False, "delay": 0.0, "failure_rate": 0.0, "reject_next": 0}

    def test_update_changes_only_the_given_keys(self) -> None:
        """A partial update sets the keys given, as floats for delay and failure_rate, and keeps the others."""
        controls = Controls(down=True)
        controls.update({"delay": 2, "reject_next": 3})
        assert controls.as_dict() == {"down": True, "delay": 2.0, "failure_rate": 0.0, "reject_next": 3}
        assert isinstance(controls.delay, float)

    def test_limits_are_accepted(self) -> None:
        """The ends of each range are valid values."""
        controls = Controls()
        controls.update({"delay": MAX_DELAY, "failure_rate": 1, "reject_next": 0, "down": False})
        assert (controls.delay, controls.failure_rate) == (MAX_DELAY, 1.0)

    @pytest.mark.parametrize(("changes", "named"), [*BAD_VALUES, *NOT_FINITE])
    def test_bad_value_is_refused_naming_the_key(self, changes: dict[str, Any], named: str) -> None:
        """A value of the wrong type or out of range, or an unknown key, raises ValueError naming the key."""
        with pytest.raises(ValueError, match=named):
            Controls().update(changes)

    def test_update_is_all_or_nothing(self) -> None:
        """When one key of an update is bad, the valid keys before and after it are not applied either."""
        controls = Controls()
        with pytest.raises(ValueError, match="failure_rate"):
            controls.update({"down": True, "failure_rate": 5, "delay": 1})
        assert controls.as_dict() == Controls().as_dict()

    def test_unknown_keys_are_all_named_with_the_known_ones(self) -> None:
        """An update with unknown keys names every one of them and lists the known controls."""
        with pytest.raises(ValueError) as caught:
            Controls().update({"speed": 1, "down": True, "colour": "red"})
        assert str(caught.value) == ("unknown control(s) colour, speed; known: down, delay, failure_rate, "
                                     "reject_next")

    @pytest.mark.parametrize(("options", "named"), [({"delay": -1.0}, "delay"), ({"failure_rate": 1.5}, "failure_rate"),
                                                    ({"reject_next": -2}, "reject_next")])
    def test_constructor_validates_too(self, options: dict[str, Any], named: str) -> None:
        """Initial values (command-line options) are checked like an update."""
        with pytest.raises(ValueError, match=named):
            Controls(**options)

    def test_take_rejection_counts_down(self) -> None:
        """take_rejection is True reject_next times, then False, and never goes below 0."""
        controls = Controls(reject_next=2)
        assert [controls.take_rejection() for _ in range(4)] == [True, True, False, False]
        assert controls.reject_next == 0

    def test_trouble_is_down_first(self) -> None:
        """While down every request is in trouble "down", whatever the failure rate, and nothing is drawn."""
        rng = random.Random(1)
        state = rng.getstate()
        assert Controls(down=True, failure_rate=1).trouble(rng) == "down"
        assert rng.getstate() == state

    def test_trouble_draws_failures_at_the_rate(self) -> None:
        """Failures are drawn at failure_rate: always at 1, about half at 0.5, never (and no draw) at 0."""
        rng = random.Random(7)
        assert {Controls(failure_rate=1).trouble(rng) for _ in range(50)} == {"failure"}
        half = [Controls(failure_rate=0.5).trouble(rng) for _ in range(1000)]
        assert 400 < half.count("failure") < 600 and set(half) == {"failure", None}
        state = rng.getstate()
        assert Controls().trouble(rng) is None
        assert rng.getstate() == state

    async def test_pause_waits_the_delay(self) -> None:
        """pause() sleeps delay seconds, and returns at once without a delay."""
        started = time.monotonic()
        await Controls(delay=0.2).pause()
        assert time.monotonic() - started >= 0.2
        # Without a delay it returns at once: far within a bound that a loaded machine still meets.
        await asyncio.wait_for(Controls().pause(), 5)


def _app(controls: Controls, **options: Any) -> Starlette:
    """An app of the kit's routes only; the simulator registered key "known" once."""
    counts = {"known": 1}
    return Starlette(routes=control_routes(controls, registrations=lambda key: counts.get(key, 0), **options))


@pytest.fixture
def controls() -> Controls:
    """Fresh controls for one test."""
    return Controls()


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Make in-process HTTP clients of a kit app: ``client_for(controls, **control_routes options)``."""
    clients: list[httpx.AsyncClient] = []

    def make(controls: Controls, **options: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(controls, **options)),
                                   base_url="http://simulator.test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


class TestControlEndpoint:
    async def test_get_reports_the_controls(self, controls: Controls,
                                            client_for: Callable[..., httpx.AsyncClient]) -> None:
        """GET /control answers 200 with exactly the controls when the simulator reports nothing more."""
        response = await client_for(controls).get("/control")
        assert response.status_code == 200
        assert response.json() == {"down": False, "delay": 0.0, "failure_rate": 0.0, "reject_next": 0}

    async def test_post_changes_and_reports(self, controls: Controls,
                                            client_for: Callable[..., httpx.AsyncClient]) -> None:
        """POST /control applies the partial update to the shared controls and answers the new state."""
        response = await client_for(controls).post("/control", json={"delay": 0.5, "reject_next": 2})
        assert response.status_code == 200
        assert response.json() == {"down": False, "delay": 0.5, "failure_rate": 0.0, "reject_next": 2}
        assert (controls.delay, controls.reject_next) == (0.5, 2)

    async def test_report_adds_fields(self, controls: Controls,
                                      client_for: Callable[..., httpx.AsyncClient]) -> None:
        """The simulator's report is added after the controls in GET and POST answers, computed per request."""
        calls: list[int] = []

        def report() -> Mapping[str, Any]:
            calls.append(1)
            return {"member": "FJ", "registrations": len(calls)}

        client = client_for(controls, report=report)
        assert (await client.get("/control")).json() == {**controls.as_dict(), "member": "FJ", "registrations": 1}
        assert (await client.post("/control", json={"down": True})).json()["registrations"] == 2

    async def test_empty_body_changes_nothing(self, controls: Controls,
                                              client_for: Callable[..., httpx.AsyncClient]) -> None:
        """POST /control without a body is an empty update: 200 and the unchanged controls."""
        response = await client_for(controls).post("/control")
        assert response.status_code == 200 and response.json() == Controls().as_dict()

    @pytest.mark.parametrize(("changes", "named"), BAD_VALUES)
    async def test_bad_value_is_400_naming_it(self, controls: Controls, client_for: Callable[..., httpx.AsyncClient],
                                              changes: dict[str, Any], named: str) -> None:
        """A bad control answers 400 with an error naming the key, and changes nothing (down stays False)."""
        response = await client_for(controls).post("/control", json={"down": True, **changes})
        assert response.status_code == 400 and named in response.json()["error"]
        assert controls.down is False

    @pytest.mark.parametrize(("body", "message"), [(b"[1]", "the body must be a JSON object"),
                                                   (b"{not json", "Expecting property name"),
                                                   (b'{"delay": NaN}', "delay"), (b"\xff", "utf-8")])
    async def test_unreadable_body_is_400(self, controls: Controls, client_for: Callable[..., httpx.AsyncClient],
                                          body: bytes, message: str) -> None:
        """A body that is not a JSON object of valid controls answers 400 {"error": ...} saying why."""
        response = await client_for(controls).post("/control", content=body)
        assert response.status_code == 400 and message in response.json()["error"]
        assert controls.as_dict() == Controls().as_dict()


class TestRegistrationsEndpoint:
    async def test_key_is_counted(self, controls: Controls, client_for: Callable[..., httpx.AsyncClient]) -> None:
        """?key=K answers {"key": K, "count": n} from the simulator's lookup, 0 for an unknown key."""
        client = client_for(controls)
        assert (await client.get("/control/registrations", params={"key": "known"})).json() == {"key": "known",
                                                                                                "count": 1}
        assert (await client.get("/control/registrations", params={"key": "nope"})).json() == {"key": "nope",
                                                                                               "count": 0}

    @pytest.mark.parametrize("query", ["", "?key="])
    async def test_without_key_and_totals_is_400(self, controls: Controls,
                                                 client_for: Callable[..., httpx.AsyncClient], query: str) -> None:
        """Without a key (or an empty one) and no totals, the answer is 400 saying the key is required."""
        response = await client_for(controls).get(f"/control/registrations{query}")
        assert response.status_code == 400 and response.json() == {"error": "query parameter key is required"}

    async def test_without_key_answers_the_totals(self, controls: Controls,
                                                  client_for: Callable[..., httpx.AsyncClient]) -> None:
        """Without a key a simulator that has totals answers them."""
        client = client_for(controls, totals=lambda: {"keys": 1, "total": 3})
        response = await client.get("/control/registrations")
        assert response.status_code == 200 and response.json() == {"keys": 1, "total": 3}


class TestHealthEndpoint:
    async def test_liveness_stays_up_while_down(self, controls: Controls,
                                                client_for: Callable[..., httpx.AsyncClient]) -> None:
        """By default /health is the process's liveness: 200 "ok" with the details and the down flag."""
        client = client_for(controls, health={"member": "NZ"})
        assert (await client.get("/health")).json() == {"status": "ok", "member": "NZ", "down": False}
        controls.update({"down": True})
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "member": "NZ", "down": True}

    async def test_down_is_unhealthy_reports_the_outage(self, controls: Controls,
                                                        client_for: Callable[..., httpx.AsyncClient]) -> None:
        """With down_is_unhealthy, /health answers 200 "ok" when up and 503 "down" while down."""
        client = client_for(controls, health={"member": "FJ"}, down_is_unhealthy=True)
        up = await client.get("/health")
        assert up.status_code == 200 and up.json() == {"status": "ok", "member": "FJ"}
        controls.update({"down": True})
        down = await client.get("/health")
        assert down.status_code == 503 and down.json() == {"status": "down", "member": "FJ"}

    async def test_control_works_while_down(self, client_for: Callable[..., httpx.AsyncClient]) -> None:
        """While down, /control and /control/registrations keep answering, so the system can be brought back."""
        controls = Controls(down=True)
        client = client_for(controls, down_is_unhealthy=True)
        assert (await client.get("/control/registrations", params={"key": "known"})).json()["count"] == 1
        assert (await client.post("/control", json={"down": False})).json()["down"] is False
        assert (await client.get("/health")).status_code == 200


class TestCallLog:
    def test_overlapping_calls_are_numbered_in_one_sequence(self) -> None:
        """Arrivals and answers share one numbering, so which calls were in flight together is exact."""
        log = CallLog()
        with log.record("a"):
            with log.record("b"):
                assert (log.in_flight, log.peak) == (2, 2)
        with log.record("c"):
            pass
        assert [(c.key, c.started, c.ended) for c in log.after(0)] == [("a", 1, 4), ("b", 2, 3), ("c", 5, 6)]
        assert (log.in_flight, log.peak, log.last_event) == (0, 2, 6)
        assert [c.key for c in log.after(4)] == ["c"]

    def test_an_error_still_ends_the_call(self) -> None:
        """A call whose handler raises is noted as ended, not left in flight."""
        log = CallLog()
        with pytest.raises(RuntimeError), log.record("k"):
            raise RuntimeError("boom")
        assert log.in_flight == 0 and log.after(0)[0].ended == 2

    def test_limit_keeps_the_newest(self) -> None:
        """Past its limit the log forgets the oldest calls, not the counts."""
        log = CallLog(limit=2)
        for key in "abc":
            with log.record(key):
                pass
        assert [c.key for c in log.after(0)] == ["b", "c"] and log.last_event == 6

    async def test_calls_endpoint(self, controls: Controls, client_for: Callable[..., httpx.AsyncClient]) -> None:
        """GET /control/calls?after=N lists the calls that arrived after event N, with the in-flight counts."""
        log = CallLog()
        with log.record("a"):
            pass
        with log.record("b"):
            client = client_for(controls, calls=log)
            body = (await client.get("/control/calls", params={"after": 2})).json()
        assert body == {"calls": [{"key": "b", "started": 3, "ended": None}], "in_flight": 1, "peak": 1,
                        "last_event": 3}
        assert len((await client.get("/control/calls")).json()["calls"]) == 2
        bad = await client.get("/control/calls", params={"after": "-1"})
        assert bad.status_code == 400 and "after" in bad.json()["error"]

    async def test_no_log_no_route(self, controls: Controls, client_for: Callable[..., httpx.AsyncClient]) -> None:
        """A simulator that keeps no call log has no /control/calls."""
        assert (await client_for(controls).get("/control/calls")).status_code == 404
