"""Importing this module registers every built-in proxy in `PROXIES`."""

from nasforge.proxies import (  # noqa: F401 - imported for registration
    fisher,
    grad_norm,
    grasp,
    jacov,
    nwot,
    size,
    snip,
    synflow,
    zen,
)
