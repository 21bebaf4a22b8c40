"""The MBConv chain space of MnasNet, ProxylessNAS and EfficientNet: `space`
(`MobileNetSpace`), `net` (the network, written with labelled choices) and `scaling`
(EfficientNet's compound scaling of a chain)."""

from __future__ import annotations

from nasforge.space.mobilenet.names import NAMED_OPTIONS
from nasforge.space.mobilenet.space import MobileNetSpace

__all__ = ["NAMED_OPTIONS", "MobileNetSpace"]
