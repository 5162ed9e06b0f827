"""Tests for adapters.asycuda.transport and .hotfolder: answers and failures of both ways into ASYCUDA."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from adapters.asycuda.config import HotFolderSettings
from adapters.asycuda.hotfolder import HotFolderTransport, file_name
from adapters.asycuda.transport import HttpTransport, Reply
from gateway.ops.broker import free_ports
from gateway.sdk import AdapterProtocolError, AdapterUnavailable, idempotency_key


def http(handler: httpx.MockTransport | None = None, timeout: float = 1.0) -> HttpTransport:
    """An HttpTransport on a mock server (or a closed port when no handler is given)."""
    url = "http://asycuda.test" if handler else f"http://127.0.0.1:{free_ports(1)[0]}"
    return HttpTransport(url, timeout=timeout, member="FJ", transport=handler)


def answering(status: int, body: bytes = b"<ASYCUDA/>", headers: dict[str, str] | None = None,
              seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """A mock server answering every request the same way (and recording them)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=body, headers=headers)

    return httpx.MockTransport(handle)


class TestHttpTransport:
    async def test_posts_with_idempotency_key_and_tracking_id(self) -> None:
        """The document is POSTed to {url}/asycuda/declarations with Idempotency-Key and X-OCO-Tracking-Id."""
        seen: list[httpx.Request] = []
        reply = await http(answering(200, seen=seen)).send(b"<ASYCUDA/>", key="p:L1:9:abc", tracking_id="t-1")
        assert reply == Reply(b"<ASYCUDA/>")
        (request,) = seen
        assert (request.method, str(request.url)) == ("POST", "http://asycuda.test/asycuda/declarations")
        assert request.headers["Idempotency-Key"] == "p:L1:9:abc" and request.headers["X-OCO-Tracking-Id"] == "t-1"
        assert request.content == b"<ASYCUDA/>"

    @pytest.mark.parametrize(("status", "headers", "expected"), [
        (200, {"Idempotent-Replayed": "true"}, Reply(b"x", replayed=True)),
        (422, {}, Reply(b"x", rejected=True)),
    ])
    async def test_answers(self, status: int, headers: dict[str, str], expected: Reply) -> None:
        """200 is a result (replayed when ASYCUDA says so), 422 a rejection."""
        assert await http(answering(status, b"x", headers)).send(b"d", key="k", tracking_id="t") == expected

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
    async def test_try_later_statuses_are_unavailable(self, status: int) -> None:
        """5xx, 429 and 408 raise AdapterUnavailable carrying the member and adapter."""
        with pytest.raises(AdapterUnavailable) as caught:
            await http(answering(status)).send(b"d", key="k", tracking_id="t")
        assert (caught.value.member, caught.value.adapter) == ("FJ", "asycuda")

    @pytest.mark.parametrize("status", [400, 401, 404, 409])
    async def test_other_statuses_are_protocol_errors(self, status: int) -> None:
        """An unexpected status (a wrong URL, say) raises AdapterProtocolError: retrying will not help."""
        with pytest.raises(AdapterProtocolError, match=r"members\.FJ\.adapter\.settings\.url"):
            await http(answering(status)).send(b"d", key="k", tracking_id="t")

    async def test_connection_refused_is_unavailable(self) -> None:
        """Nothing listening raises AdapterUnavailable, not an httpx error."""
        with pytest.raises(AdapterUnavailable, match="cannot be reached"):
            await http().send(b"d", key="k", tracking_id="t")

    async def test_slow_server_is_unavailable_in_bounded_time(self) -> None:
        """A server slower than the timeout raises AdapterUnavailable after about the timeout."""

        async def slow(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(5)
            return httpx.Response(200)

        started = time.monotonic()
        with pytest.raises(AdapterUnavailable, match="did not answer within 0.3 s"):
            await http(httpx.MockTransport(slow), timeout=0.3).send(b"d", key="k", tracking_id="t")
        assert time.monotonic() - started < 1.0

    async def test_dropped_connection_is_unavailable(self) -> None:
        """A connection dropped mid-answer raises AdapterUnavailable."""

        def drop(request: httpx.Request) -> httpx.Response:
            raise httpx.RemoteProtocolError("peer closed connection", request=request)

        with pytest.raises(AdapterUnavailable):
            await http(httpx.MockTransport(drop)).send(b"d", key="k", tracking_id="t")


@pytest.fixture
def folders(tmp_path: Path) -> HotFolderSettings:
    """An empty inbox and outbox."""
    (tmp_path / "inbox").mkdir()
    (tmp_path / "outbox").mkdir()
    return HotFolderSettings(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", poll_interval=0.02)


class TestHotFolderTransport:
    def test_file_names_are_safe_and_distinct(self) -> None:
        """Keys become file names of safe characters, distinct even when the readable parts collide."""
        names = {file_name("p:L/1:9:abc"), file_name("p:L:1:9:abc"), file_name("p:L 1:9:abc")}
        assert len(names) == 3
        assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                   for name in names)

    def test_a_long_key_keeps_its_function_code_in_the_file_name(self) -> None:
        """A participant and LRN of 70 characters still name the file with the function code and version, which
        is how ASYCUDA (its simulator) tells the amendment of a registered declaration from a second original."""
        from adapters.asycuda.simulator.service import function_code_of  # noqa: PLC0415

        lrn = "LRN-" + "x" * 66
        for code in ("9", "13"):
            key = idempotency_key("a-participant-with-a-long-name", lrn, code, b"<doc/>")
            name = file_name(key)
            assert len(name) <= 80 + 13 and function_code_of(name) == code
        assert file_name("p:" + lrn + ":9:aa") != file_name("p:" + lrn + "y:9:aa")

    @pytest.mark.parametrize(("suffix", "rejected"), [(".xml", False), (".err.xml", True)])
    async def test_result_or_error_file_is_the_reply(self, folders: HotFolderSettings, suffix: str,
                                                     rejected: bool) -> None:
        """The declaration is dropped in the inbox; <name>.xml or <name>.err.xml in the outbox is the reply,
        and leaves the outbox once read (a registration is kept in outbox/taken)."""
        transport = HotFolderTransport(folders, timeout=2, member="FJ")
        name = file_name("k1")

        async def asycuda() -> None:
            inbox = folders.inbox / f"{name}.xml"
            while not inbox.exists():
                await asyncio.sleep(0.01)
            assert inbox.read_bytes() == b"<ASYCUDA/>"
            inbox.unlink()
            (folders.outbox / f"{name}{suffix}").write_bytes(b"answer")

        reply, _ = await asyncio.gather(transport.send(b"<ASYCUDA/>", key="k1", tracking_id="t"), asycuda())
        assert reply == Reply(b"answer", rejected=rejected)
        assert list(folders.outbox.glob("*.xml")) == []
        assert (folders.outbox / "taken" / f"{name}.xml").exists() is not rejected

    async def test_redelivery_of_an_answered_declaration_is_a_replay(self, folders: HotFolderSettings) -> None:
        """Once a registration was read, the same key is answered from it, flagged replayed, without a new file
        in the inbox; a rejection is not kept (a corrected declaration has another key anyway)."""
        name = file_name("k4")
        (folders.outbox / f"{name}.xml").write_bytes(b"registered")
        transport = HotFolderTransport(folders, timeout=0.2, member="FJ")
        assert await transport.send(b"<ASYCUDA/>", key="k4", tracking_id="t") == Reply(b"registered")
        assert await transport.send(b"<ASYCUDA/>", key="k4", tracking_id="t") == Reply(b"registered", replayed=True)
        assert list(folders.inbox.iterdir()) == []

    async def test_kept_registrations_are_pruned_after_keep_days(self, folders: HotFolderSettings) -> None:
        """Kept registrations older than keep_days are removed (at most hourly), so the folder stays bounded;
        a recent one still answers its redelivery."""
        clock = [1_000_000.0]
        taken = folders.outbox / "taken"
        taken.mkdir()
        old, recent = taken / f"{file_name('old')}.xml", taken / f"{file_name('recent')}.xml"
        for path, age_days in ((old, 8), (recent, 1)):
            path.write_bytes(b"registered")
            os.utime(path, (clock[0] - age_days * 86400,) * 2)
        transport = HotFolderTransport(folders.model_copy(update={"keep_days": 7}), timeout=0.2, member="FJ",
                                       clock=lambda: clock[0])
        assert await transport.send(b"<ASYCUDA/>", key="recent", tracking_id="t") == Reply(b"registered", replayed=True)
        assert not old.exists() and recent.exists()
        old.write_bytes(b"registered")  # another old one: not looked for again within the hour
        os.utime(old, (clock[0] - 30 * 86400,) * 2)
        clock[0] += 60
        await transport.send(b"<ASYCUDA/>", key="recent", tracking_id="t")
        assert old.exists()
        clock[0] += 3600
        await transport.send(b"<ASYCUDA/>", key="recent", tracking_id="t")
        assert not old.exists() and recent.exists()

    async def test_timeout_withdraws_the_file(self, folders: HotFolderSettings) -> None:
        """No result within the timeout raises AdapterUnavailable and takes the unread file back."""
        transport = HotFolderTransport(folders, timeout=0.2, member="FJ")
        with pytest.raises(AdapterUnavailable, match="withdrawn") as caught:
            await transport.send(b"<ASYCUDA/>", key="k2", tracking_id="t")
        assert caught.value.member == "FJ"
        assert list(folders.inbox.iterdir()) == []

    async def test_late_result_answers_the_redelivery(self, folders: HotFolderSettings) -> None:
        """A result written after a timeout answers the next delivery of the same key, without resubmitting."""
        (folders.outbox / f"{file_name('k3')}.xml").write_bytes(b"late")
        transport = HotFolderTransport(folders, timeout=0.2, member="FJ")
        assert await transport.send(b"<ASYCUDA/>", key="k3", tracking_id="t") == Reply(b"late")
        assert list(folders.inbox.iterdir()) == []

    async def test_missing_folder_is_unavailable(self, folders: HotFolderSettings) -> None:
        """An inbox that disappeared (an unmounted share) raises AdapterUnavailable, not OSError."""
        folders.inbox.rmdir()
        with pytest.raises(AdapterUnavailable, match="cannot be used"):
            await HotFolderTransport(folders, timeout=0.2, member="FJ").send(b"d", key="k4", tracking_id="t")
