"""ASYCUDA World connector: WCO DM declarations in, registrations and assessments back (HTTP or hot folder)."""

from adapters.asycuda.adapter import AsycudaAdapter

__all__ = ["AsycudaAdapter"]
