"""Tables: `space` (`TableSpace`: a table's rows as a space, evaluated by lookup), `data`
(reading a table of architectures and metrics) and `mlp` (`MLPSpace`: networks for tabular
features)."""

from __future__ import annotations

from nasforge.space.table.mlp import MLPSpace
from nasforge.space.table.space import TableSpace

__all__ = ["MLPSpace", "TableSpace"]
