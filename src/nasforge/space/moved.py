"""Modules that moved when `nasforge.space` was split by family (one sub-package each).

A store or a model folder written before records a space loaded from a module spec by its
module path (``nasforge.space.nb201_net:NB201Network``, ``nasforge.space.mobilenet:
MobileNetSpace``): `nasforge.space.loading` reads such a spec through `current_module`, so
those artifacts still load. A spec written now names the new module.
"""

from __future__ import annotations

MOVED: dict[str, str] = {
    "nasforge.space.choice_supernet": "nasforge.space.choices.supernet",
    "nasforge.space.user_space": "nasforge.space.choices.user_space",
    "nasforge.space.nb201": "nasforge.space.nb201.space",
    "nasforge.space.nb201_net": "nasforge.space.nb201.net",
    "nasforge.space.path_encoding": "nasforge.space.nb201.path_encoding",
    "nasforge.space.darts": "nasforge.space.darts.space",
    "nasforge.space.darts_genotype": "nasforge.space.darts.genotype",
    "nasforge.space.darts_names": "nasforge.space.darts.names",
    "nasforge.space.darts_net": "nasforge.space.darts.net",
    "nasforge.space.darts_ops": "nasforge.space.darts.ops",
    "nasforge.space.mobilenet": "nasforge.space.mobilenet.space",
    "nasforge.space.mobilenet_net": "nasforge.space.mobilenet.net",
    "nasforge.space.mobilenet_scaling": "nasforge.space.mobilenet.scaling",
    "nasforge.space.textconv": "nasforge.space.text.textconv",
    "nasforge.space.textconv_net": "nasforge.space.text.textconv_net",
    "nasforge.space.transformer": "nasforge.space.text.transformer",
    "nasforge.space.transformer_net": "nasforge.space.text.transformer_net",
    "nasforge.space.ngrams": "nasforge.space.text.ngrams",
    "nasforge.space.ngrams_net": "nasforge.space.text.ngrams_net",
    "nasforge.space.text_inputs": "nasforge.space.text.inputs",
    "nasforge.space.conv1d": "nasforge.space.sequence.conv1d",
    "nasforge.space.conv1d_net": "nasforge.space.sequence.conv1d_net",
    "nasforge.space.table": "nasforge.space.table.space",
    "nasforge.space.table_data": "nasforge.space.table.data",
    "nasforge.space.mlp": "nasforge.space.table.mlp",
}
"""Old dotted module name -> the module that holds its classes now."""


def current_module(name: str) -> str:
    """The module `name` is now (itself unless it moved)."""
    return MOVED.get(name, name)
