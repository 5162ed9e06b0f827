"""Drive a running WCO simulator over its control API; the contract kit's ``national`` handle."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["SimulatorControl"]


class SimulatorControl:
    """Control handle of a simulator process (satisfies ``gateway.sdk.contract.NationalSystem``).

    Args:
        base_url: the simulator's address, ``http://127.0.0.1:8471``.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._client = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def update(self, **changes: Any) -> dict[str, Any]:
        """Change some knobs; return them all.

        Args:
            changes: ``down``, ``delay``, ``failure_rate``, ``reject_next``.

        Raises:
            httpx.HTTPStatusError: the simulator refused a value.
        """
        response = await self._client.post("/control", json=changes)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def reset(self) -> None:
        """Bring the simulator back to normal: up, no delay, no failures, no pending rejections."""
        await self.update(down=False, delay=0, failure_rate=0, reject_next=0)

    async def reject_next(self) -> None:
        """Refuse the next declaration (code TSW-REJECTED)."""
        await self.update(reject_next=1)

    async def set_delay(self, seconds: float) -> None:
        """Answer declarations after ``seconds``.

        Args:
            seconds: the delay; 0 for none.
        """
        await self.update(delay=seconds)

    async def set_down(self, down: bool) -> None:
        """Answer HTTP 503 to every declaration (True) or work normally (False).

        Args:
            down: the outage switch.
        """
        await self.update(down=down)

    async def registrations(self, key: str) -> int:
        """Return how many times the simulator registered ``key``.

        Args:
            key: an idempotency key.
        """
        response = await self._client.get("/control/registrations", params={"key": key})
        response.raise_for_status()
        return int(response.json()["count"])

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
