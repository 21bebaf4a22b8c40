"""In-place distillation (BigNAS, Yu et al. 2020): within one sandwich step, the largest
sub-network's predictions teach the smaller ones.

The largest path trains on the true labels; every other path of the step trains on the
largest path's probabilities for the same batch, detached (no gradient reaches the teacher
through the targets), by the cross-entropy against those soft labels. The small
sub-networks then learn what the largest one, which trains fastest, already predicts, and
the shared weights are pulled towards one function instead of towards each path's own fit
of the labels: BigNAS found this necessary for the small children of a big supernet to
rank and perform like their stand-alone counterparts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def teacher_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """The soft labels the largest path's ``logits`` give: softmax over classes, detached,
    in float32."""
    return F.softmax(logits.detach().float(), dim=1)


def distillation_loss(logits: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy of ``logits`` against the probabilities ``teacher`` (one row
    per example, from `teacher_probabilities`); it differs from the KL divergence only by
    the teacher's entropy, a constant of the student."""
    return F.cross_entropy(logits, teacher.detach())
