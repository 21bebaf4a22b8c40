"""Spaces over sequences of numbers (audio, mnist1d): `conv1d` (`Conv1DSpace`) and its
network `conv1d_net`."""

from __future__ import annotations

from nasforge.space.sequence.conv1d import Conv1DSpace

__all__ = ["Conv1DSpace"]
