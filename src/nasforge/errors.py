"""Errors that a user can fix. Each message is one line that names what is wrong."""

from __future__ import annotations


class NasforgeError(Exception):
    """Base class for every problem caused by input (a config, an arch, a file, a name)."""


class ArchError(NasforgeError, ValueError):
    """An architecture text, value or choice is malformed or not in the space."""


class SpaceError(NasforgeError, ValueError):
    """A search space is unknown or defined inconsistently."""


class StrategyError(NasforgeError, ValueError):
    """A strategy is unknown or configured with invalid parameters."""


class BenchmarkError(NasforgeError):
    """A benchmark table is missing, unreadable or lacks what a query needs."""


class StoreError(NasforgeError):
    """A store file is not a nasforge store, or an experiment in it is missing or conflicting."""


class ConfigError(NasforgeError, ValueError):
    """A budget, objective or other setting is invalid."""
