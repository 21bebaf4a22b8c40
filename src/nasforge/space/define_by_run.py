"""``from nasforge.space.define_by_run import ChoiceSpace``, the import the docs show users:
`ChoiceSpace` lives in `nasforge.space.choices.space` (re-exported here and by
`nasforge.space.choices`)."""

from __future__ import annotations

from nasforge.space.choices.space import ChoiceSpace

__all__ = ["ChoiceSpace"]
