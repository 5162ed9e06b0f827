"""Hot-folder transport: ASYCUDA World's XML import reads declaration files and writes result files.

A declaration goes to ``<inbox>/<name>.xml`` (written under a temporary name, then renamed, so ASYCUDA
never reads half a file); the answer is ``<outbox>/<name>.xml`` (the assessed declaration) or
``<outbox>/<name>.err.xml`` (the errors). ``<name>`` derives from the idempotency key, so a redelivery
finds the answer to an earlier attempt that timed out instead of submitting again.

A registration read is kept as ``<outbox>/taken/<name>.xml``: a file carries no "replayed" header, so that is how
a redelivery of a declaration already answered (after a crash, a lost commit) is recognised: it is answered from
the kept registration, flagged as a replay (``NationalAnswer.duplicate``), and nothing is submitted again.
Kept files older than ``keep_days`` (7) are removed, at most once an hour: redeliveries come within the
retry schedule (minutes), so the folder stays the size of a week's traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable

from adapters.asycuda.config import HotFolderSettings
from adapters.asycuda.transport import ADAPTER, Reply
from gateway.sdk import AdapterUnavailable

__all__ = ["HotFolderTransport", "file_name"]

_PRUNE_EVERY = 3600.0  # seconds between two prunings of <outbox>/taken


def file_name(key: str) -> str:
    """Return a file name stem for an idempotency key, safe on any file system and unique per key.

    At most 80 readable characters: a longer key keeps its start (participant, LRN) and its end (function code
    and version, which tell an amendment from an original) and loses the middle; the digest keeps it unique.

    Args:
        key: the idempotency key (it contains ``:`` and the trader's LRN, which may hold anything).
    """
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key)
    if len(readable) > 80:
        readable = f"{readable[:57]}-{readable[-22:]}"
    return f"{readable.strip('._')}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class HotFolderTransport:
    """Exchange files with ASYCUDA World through two shared folders.

    Args:
        folders: the inbox, outbox and poll interval.
        timeout: seconds to wait for a result file.
        member: the member served, for error context.
    """

    def __init__(self, folders: HotFolderSettings, *, timeout: float, member: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.folders = folders
        self.timeout = timeout
        self.member = member
        self._clock = clock
        self._pruned = 0.0  # when <outbox>/taken was last pruned (clock seconds)

    async def send(self, document: bytes, *, key: str, tracking_id: str) -> Reply:
        """Drop ``document`` in the inbox and wait for its result file.

        Args:
            document: the ASYCUDA World declaration XML.
            key: the idempotency key; names the files.
            tracking_id: unused: a file has no headers (the key is in the name).

        Raises:
            AdapterUnavailable: a folder cannot be written or read, or no result came within the timeout
                (the file is withdrawn from the inbox if ASYCUDA has not taken it yet).
        """
        name = file_name(key)
        deadline = time.monotonic() + self.timeout
        try:
            self._prune()
            kept = self._taken(name)
            if kept is not None:  # answered before: a redelivery
                return Reply(kept, replayed=True)
            reply = self._take_result(name)  # the answer to an earlier attempt that timed out
            if reply is not None:
                return reply
            self._drop(name, document)
            while time.monotonic() < deadline:
                await asyncio.sleep(min(self.folders.poll_interval, max(deadline - time.monotonic(), 0)))
                reply = self._take_result(name)
                if reply is not None:
                    return reply
        except OSError as exc:
            raise AdapterUnavailable(f"hot folder of ASYCUDA World of {self.member} cannot be used: {exc}; the "
                                     "delivery will be retried", member=self.member, adapter=ADAPTER) from exc
        withdrawn = self._withdraw(name)
        raise AdapterUnavailable(
            f"ASYCUDA World of {self.member} wrote no result for {name}.xml in {self.folders.outbox} within "
            f"{self.timeout:g} s ({'withdrawn from the inbox: not picked up' if withdrawn else 'picked up'}); "
            "the delivery will be retried", member=self.member, adapter=ADAPTER)

    async def aclose(self) -> None:
        """Nothing to release: files are closed after each use."""

    def _drop(self, name: str, document: bytes) -> None:
        temporary = self.folders.inbox / f".{name}.{os.getpid()}.tmp"
        temporary.write_bytes(document)
        os.replace(temporary, self.folders.inbox / f"{name}.xml")  # atomic: ASYCUDA sees all or nothing

    def _take_result(self, name: str) -> Reply | None:
        for suffix, rejected in ((".xml", False), (".err.xml", True)):
            path = self.folders.outbox / f"{name}{suffix}"
            try:
                body = path.read_bytes()
            except FileNotFoundError:
                continue
            if rejected:
                path.unlink(missing_ok=True)
            else:
                taken = self.folders.outbox / "taken"
                taken.mkdir(exist_ok=True)
                os.replace(path, taken / path.name)
            return Reply(body, rejected=rejected)
        return None

    def _prune(self) -> None:
        now = self._clock()
        if now - self._pruned < _PRUNE_EVERY:
            return
        self._pruned = now
        horizon = now - self.folders.keep_days * 86400
        for kept in (self.folders.outbox / "taken").glob("*.xml"):
            with contextlib.suppress(FileNotFoundError):  # another replica pruned it first
                if kept.stat().st_mtime < horizon:
                    kept.unlink()

    def _taken(self, name: str) -> bytes | None:
        try:
            return (self.folders.outbox / "taken" / f"{name}.xml").read_bytes()
        except FileNotFoundError:
            return None

    def _withdraw(self, name: str) -> bool:
        try:
            (self.folders.inbox / f"{name}.xml").unlink()
        except FileNotFoundError:
            return False
        except OSError:
            return False  # cannot tell; the next attempt finds the result or submits again under the same key
        return True
