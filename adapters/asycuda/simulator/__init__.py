"""A faithful stand-in for a member's ASYCUDA World: checks, registers, assesses, fails on demand.

Run it with ``oco-gateway simulate asycuda --member FJ --port 8181``; see :mod:`.app` for its HTTP API
and :mod:`.watcher` for its hot folder.
"""

from adapters.asycuda.simulator.app import create_app
from adapters.asycuda.simulator.rates import Tariff, load_tariff
from adapters.asycuda.simulator.service import AsycudaSimulator, Outcome

__all__ = ["AsycudaSimulator", "Outcome", "Tariff", "create_app", "load_tariff"]
