"""The old home of `Objective` and `Constraint`, now `nasforge.objective`."""

# re-exported for nasforge.cli until the thin-CLI merge
from nasforge.objective import Constraint, Direction, Objective

__all__ = ["Constraint", "Direction", "Objective"]
