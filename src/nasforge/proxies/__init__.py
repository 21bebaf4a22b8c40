"""Zero-cost proxies: score untrained networks from one mini-batch (or none).

Each proxy is one small function registered by name in `PROXIES` (see `builtin`); use
`score_network` for one network, `score_archs` for many architectures of a space.
"""

from nasforge.proxies.base import (
    PROXIES,
    Proxy,
    ProxyBatch,
    ProxyError,
    get_proxy,
    proxy_names,
    score_network,
)

__all__ = [
    "PROXIES",
    "Proxy",
    "ProxyBatch",
    "ProxyError",
    "get_proxy",
    "proxy_names",
    "score_network",
]
