"""Speaker-changing augmentation of log-mel spectrograms ``(n, bands, frames)``.

A new voice differs from the training voices mostly in its vocal tract length, which scales
the formant frequencies, and in its speaking rate. Two random warps, one factor per example
drawn from the fit's generator, imitate both on the spectrograms the task precomputed once:

- `warp_bands`: vocal tract length perturbation (VTLP, Jaitly and Hinton 2013) on the mel
  axis: the band at position ``p`` takes what was at ``p / alpha`` (energy moves up by
  ``alpha`` > 1, down by ``alpha`` < 1), piecewise linearly so that the lowest and the
  highest band stay in place (the break at `VTLP_BOUNDARY` of the axis, as the paper's
  ``f_hi``). The warp is of the mel band index, not of Hz: on the mel scale a factor in Hz is
  about a factor at low frequencies and a shift at high ones, so this is VTLP's shape, not
  its exact frequency map.
- `stretch_frames`: speed perturbation of the time axis: frame ``t`` takes what was at
  ``t * rate`` (``rate`` > 1 is faster speech, shorter), cut to the frame count, or padded
  with the last frame (a fixed-length recording ends in silence).

Both resample with linear interpolation on the batch's own device; a factor of 1 leaves the
batch as it is (up to float rounding).
"""

from __future__ import annotations

import torch

WARP_RANGE = (0.9, 1.1)
"""VTLP's factor ``alpha`` ~ U(0.9, 1.1), as in Jaitly and Hinton 2013."""
STRETCH_RANGE = (0.9, 1.1)
"""The speed factor ~ U(0.9, 1.1), the range of Ko et al. 2015's speed perturbation."""
VTLP_BOUNDARY = 0.8
"""Where on the band axis (a fraction of it, for ``alpha`` <= 1) the warp turns to keep the
highest band in place."""


def speaker_perturbation(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    warp: tuple[float, float] = WARP_RANGE,
    stretch: tuple[float, float] = STRETCH_RANGE,
) -> torch.Tensor:
    """``(n, bands, frames)`` spectrograms, each band-warped by its own ``alpha`` ~
    U(``warp``) and time-stretched by its own rate ~ U(``stretch``), drawn from
    ``generator`` (on the CPU: the same draws on every device); a new tensor."""
    n = x.shape[0]
    alpha = _uniform(n, warp, generator).to(x.device)
    rate = _uniform(n, stretch, generator).to(x.device)
    return stretch_frames(warp_bands(x, alpha), rate)


def warp_bands(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """VTLP of ``(n, bands, frames)`` spectrograms by the factors ``alpha`` ``(n,)`` (see
    the module docstring): band ``p`` takes what was at ``p / alpha`` below the break, then
    a straight line to the top band."""
    bands = x.shape[1]
    top = float(bands - 1)
    if bands < 2:
        return x.clone()
    position = torch.arange(bands, device=x.device, dtype=torch.float32)[None, :]
    factor = alpha.to(device=x.device, dtype=torch.float32)[:, None]
    out_break = VTLP_BOUNDARY * top * torch.clamp(factor, max=1.0)  # where the line turns
    in_break = out_break / factor
    upper = in_break + (position - out_break) * (top - in_break) / (top - out_break)
    source = torch.where(position <= out_break, position / factor, upper)
    return _resample(x, source.clamp(0.0, top), dim=1)


def stretch_frames(x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """Speed perturbation of ``(n, bands, frames)`` spectrograms by ``rate`` ``(n,)``:
    frame ``t`` takes what was at ``t * rate``; past the last frame, the last frame."""
    frames = x.shape[2]
    position = torch.arange(frames, device=x.device, dtype=torch.float32)[None, :]
    factor = rate.to(device=x.device, dtype=torch.float32)[:, None]
    source = (position * factor).clamp(0.0, float(frames - 1))
    return _resample(x, source, dim=2)


def _uniform(n: int, bounds: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(n, generator=generator)


def _resample(x: torch.Tensor, source: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` read along ``dim`` (1 or 2) at the fractional positions ``source``
    ``(n, size)`` (within the axis), interpolating linearly between neighbours."""
    size = x.shape[dim]
    low = source.floor().long().clamp(0, size - 1)
    high = (low + 1).clamp(max=size - 1)
    frac = (source - low).to(x.dtype)
    if dim == 1:
        low, high, frac = low[:, :, None], high[:, :, None], frac[:, :, None]
    else:
        low, high, frac = low[:, None, :], high[:, None, :], frac[:, None, :]
    low, high = low.expand(x.shape), high.expand(x.shape)
    frac = frac.expand(x.shape)
    return torch.lerp(x.gather(dim, low), x.gather(dim, high), frac)
