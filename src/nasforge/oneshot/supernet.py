"""What a one-shot method needs from the supernet of a space: `ChoiceSuperNet`, the one
supernet of every space (`nasforge.space.choices.supernet`).

A supernet holds every candidate of every decision of a space. The methods treat it through
one interface, whatever the space:

- architecture weights are one vector per decision, ``{label: vector}`` (`Alpha`): decisions
  have different numbers of choices (``num_choices``). Gradient methods (DARTS, GDAS,
  beta-DARTS) weight the decisions in ``mixed_labels`` (module and input choices, which a
  forward pass can mix); value choices (widths, kernels, depths) share their weights by
  slicing and keep their largest value there. The path methods (ENAS, SPOS) sample every
  decision, value choices included;
- ``use_weights({label: w})`` (mixed mode, DARTS): every module choice sums its candidates
  weighted by ``w`` (a `Zero` candidate such as NB201's ``none`` is skipped);
- ``use_path(arch or {label: index})`` (single path, SPOS/ENAS/evaluation): only the chosen
  candidate of each decision runs, so a sampled child costs what the child costs;
- ``use_path(path, weights={label: w})`` (GDAS): as a single path, with the chosen
  candidate's output scaled by its weight (hard Gumbel weights carry the straight-through
  gradient to alpha);
- ``child(arch)``: the plain network of ``arch`` with the chosen candidates' weights copied in.
"""

from __future__ import annotations

import torch

from nasforge.space.choices.supernet import ChoiceSuperNet

NONE_OP = "none"
SKIP_OP = "skip_connect"

SuperNet = ChoiceSuperNet
"""The supernet the methods train (every space's supernet is a `ChoiceSuperNet`)."""

Alpha = dict[str, torch.Tensor]
"""Architecture weights (or logits): one vector per decision, by label."""
