"""What a network costs: parameters, multiply-accumulates and measured CPU latency.

This package sits below `nasforge.evaluate` and `nasforge.proxies`: everything that counts a
network's cost calls it, and it imports nothing else of nasforge.
"""

from nasforge.measure.flops import count_flops
from nasforge.measure.latency import measure_latency_ms
from nasforge.measure.parameters import count_parameters

__all__ = ["count_flops", "count_parameters", "measure_latency_ms"]
