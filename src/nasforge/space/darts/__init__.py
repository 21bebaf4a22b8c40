"""The DARTS/NASNet cell space: `space` (`DartsSpace`), `genotype` (DARTS genotypes and the
published ones), `names` (op and decision names), `ops` (the candidate ops) and `net` (the
network, written once with labelled choices for children and supernets)."""

from __future__ import annotations

from nasforge.space.darts.space import NAMED_OPTIONS, DartsSpace

__all__ = ["NAMED_OPTIONS", "DartsSpace"]
