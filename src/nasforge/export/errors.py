"""The error of the export package: a model folder, its inputs or its export went wrong."""

from __future__ import annotations

from nasforge.errors import NasforgeError


class ExportError(NasforgeError):
    """A saved-model folder is missing, malformed, or does not match its network or inputs."""
