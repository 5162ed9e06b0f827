"""A WCO DM single-window simulator (real HTTP), for the demo, the contract tests and adapter developers.

``oco-gateway simulate wco --member NZ --port 8471``; see :mod:`adapters.wco_xml.simulator.app` for the API.
"""

from __future__ import annotations

from adapters.wco_xml.simulator.cli import wco

__all__ = ["wco"]
