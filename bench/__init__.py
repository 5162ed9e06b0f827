"""``make bench``: end-to-end throughput and latency of the gateway through a real broker, beside two baselines."""

__all__ = ["BenchError"]


class BenchError(Exception):
    """The benchmark could not measure what it set out to: outputs missing, a rejection, a stalled phase."""
