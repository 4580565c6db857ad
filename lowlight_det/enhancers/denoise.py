"""A light, learned denoising stage in front of the curves: blur where the image is noisy, nowhere else.

Curves cannot remove noise, and at the dark end noise is what brightening amplifies (the darkness sweep: with
a noisy sensor every brightening loses to ``none``). :class:`DenoiseStage` computes ``x − m · (x − blur(x))``:
``blur`` is a fixed 5x5 binomial filter (separable, noise standard deviation x0.27 on white noise) and ``m`` a
learned low-resolution map in (0, 1) from the noise statistics of cells of 40x40 pixels (how much fine detail
there is, and how much for the light there is) and of the whole image, upsampled bilinearly like the spatial
strength map. So it is a per-region mix of the image and its blur: the output stays within the input's range,
``m → 0`` is the identity, and the detector's loss decides where blurring pays. 649 parameters; on CPU it adds
about 4 ms per 640x640 image (2 threads), more than half of what the gated Zero-DCE++ costs itself.

With ``scales=2`` a second map ``w`` chooses, per region, how far towards a wider blur (the 5x5 blur applied twice:
a 9x9 binomial, noise standard deviation x0.20) the mixed-in detail reaches: ``x − m · ((1 − w) · d5 + w · d9)`` with
``dN = x − blurN(x)``, still a convex mix of the image and its two blurs (658 parameters). One blur is not enough for
a noisy, high-gain frame and too much for a quiet one; the map decides from the same noise statistics.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowlight_det.enhancers.functional import BAND_PIXELS, UpsampledRows
from lowlight_det.enhancers.gate import luminance, upsample_strength

_NOISE_EPS = 1e-3  # log-scaled noise levels: log(1e-3) = -6.9 maps to 0, a level of 1 to 1
N_NOISE_STATS = 3


def _binomial3(t: Tensor, dim: int) -> Tensor:
    """[1, 2, 1] along ``dim`` (unnormalised), two samples shorter: shifted slices, no convolution."""
    n = t.shape[dim]
    a, b, c = t.narrow(dim, 0, n - 2), t.narrow(dim, 1, n - 2), t.narrow(dim, 2, n - 2)
    return (a + c).add_(b, alpha=2)


def binomial_blur(img: Tensor) -> Tensor:
    """5x5 binomial blur ([1, 4, 6, 4, 1] / 16 along each axis) of (B, C, H, W), edges replicated.

    Computed as [1, 2, 1] twice along each axis with shifted slices: on CPU ten times faster than a depthwise
    5-tap convolution (640x640, 2 threads: 1.8 vs 22 ms), the same values to float rounding.

    Example:
        >>> x = torch.rand(1, 3, 7, 9)
        >>> binomial_blur(x).shape, bool(binomial_blur(torch.full((1, 3, 7, 9), 0.3)).sub(0.3).abs().max() < 1e-6)
        (torch.Size([1, 3, 7, 9]), True)
    """
    x = F.pad(img, (2, 2, 2, 2), mode="replicate")
    x = _binomial3(_binomial3(x, 3), 3)
    return _binomial3(_binomial3(x, 2), 2).mul_(1 / 256)


def _blurred_rows(img: Tensor, y0: int, y1: int, *, top: int = 0, height: int | None = None) -> Tensor:
    """Rows ``y0:y1`` of :func:`binomial_blur` of an image of ``height`` rows (default: ``img``'s), computed from
    those rows and a halo of two: the same values as blurring the whole image (the same additions in the same order).
    ``img`` may hold only rows ``top:`` of that image, as long as they cover the halo."""
    height = top + img.shape[2] if height is None else height
    a, b = max(0, y0 - 2), min(height, y1 + 2)
    x = F.pad(img[:, :, a - top:b - top], (2, 2, 2 - (y0 - a), 2 - (b - y1)), mode="replicate")
    x = _binomial3(_binomial3(x, 3), 3)
    return _binomial3(_binomial3(x, 2), 2).mul_(1 / 256)


def _log_level(v: Tensor) -> Tensor:
    return 1 + torch.log(v + _NOISE_EPS) / -math.log(_NOISE_EPS)


def noise_stats(img: Tensor, detail: Tensor, cell: int) -> Tensor:
    """Per cell of ``cell`` x ``cell`` pixels (B, 3, ⌈H/cell⌉, ⌈W/cell⌉) float32: mean luminance, the log-scaled
    mean absolute fine detail ``|x − blur(x)|`` (noise, and texture), and the same relative to the square root of
    the luminance (shot noise grows with it, so this separates a noisy dark region from a textured lit one)."""
    return _stats_of(*_pooled(img, detail, cell))


def _pooled(img: Tensor, detail: Tensor, cell: int) -> tuple[Tensor, Tensor]:
    """Mean luminance and mean absolute detail per cell (partial cells: the mean of their own pixels)."""
    pool = lambda t: F.avg_pool2d(t, cell, ceil_mode=True)  # noqa: E731
    return pool(luminance(img)), pool(detail.float().abs().mean(1, keepdim=True))


def _stats_of(mean: Tensor, level: Tensor) -> Tensor:
    return torch.cat([mean, _log_level(level), _log_level(level / (mean + _NOISE_EPS).sqrt()).clamp(max=2)], dim=1)


class DenoiseStage(nn.Module):
    """``x − m · (x − binomial_blur(x))`` with a learned denoising map ``m`` in (0, 1) (see the module docstring).

    The map comes from :func:`noise_stats` of each cell and of the whole image through a 1x1 → 3x3 → 1x1
    convolution stack (649 parameters); its last layer starts at zero weights, so every region starts at
    ``init_mix``. ``scales=2``: a second output channel, the share ``w`` of the wider blur (starts at ``init_mix``
    too; see the module docstring).

    Shape: input (B, 3, H, W) RGB in [0, 1], any float dtype; output the same shape and dtype, in the input's range.

    Example:
        >>> stage = DenoiseStage(init_mix=0.5)
        >>> x = torch.rand(1, 3, 50, 70)
        >>> torch.allclose(stage(x), x - 0.5 * (x - binomial_blur(x)), atol=1e-6)
        True
    """

    def __init__(self, *, hidden: int = 8, init_mix: float = 0.1, cell: int = 40, scales: int = 1) -> None:
        super().__init__()
        if not 0 < init_mix < 1:
            raise ValueError(f"init_mix must be in (0, 1), got {init_mix}")
        if scales not in (1, 2):
            raise ValueError(f"scales must be 1 (a 5x5 blur) or 2 (and a 9x9 one), got {scales!r}")
        self.cell = cell
        self.scales = scales
        self.fc1 = nn.Conv2d(2 * N_NOISE_STATS, hidden, 1)
        self.mix = nn.Conv2d(hidden, hidden, 3, padding=1, padding_mode="replicate")
        self.fc2 = nn.Conv2d(hidden, scales, 1)
        nn.init.zeros_(self.fc2.weight)
        nn.init.constant_(cast(Tensor, self.fc2.bias), math.log(init_mix / (1 - init_mix)))

    def mix_map(self, img: Tensor, detail: Tensor) -> Tensor:
        """The low-resolution denoising map (B, ``scales``, ⌈H/cell⌉, ⌈W/cell⌉) float32 in (0, 1): ``m`` (and ``w``)."""
        return self._map_of(noise_stats(img, detail, self.cell))

    def _map_of(self, local: Tensor) -> Tensor:
        glob = local.mean((2, 3), keepdim=True).expand_as(local)
        x = torch.cat([local, glob], dim=1).to(self.fc1.weight.dtype)
        return torch.sigmoid(self.fc2(torch.relu(self.mix(torch.relu(self.fc1(x))))).float())

    def forward(self, img: Tensor) -> Tensor:
        if (img.device.type == "cpu" and not torch.is_grad_enabled() and not torch.jit.is_tracing()
                and img.ndim == 4 and img.shape[2] > self.cell):
            return self._forward_banded(img)
        return self.with_map(img)[0]

    def with_map(self, img: Tensor) -> tuple[Tensor, Tensor]:
        """The denoised image and how much it was blurred, the low-resolution (B, 1, h, w) ``m`` (``scales=2``:
        ``m · (1 + w)``, the weight on blurred detail with the wider blur's counted twice) (differentiable; for
        training losses)."""
        blurred = binomial_blur(img)
        detail = img - blurred
        low = self.mix_map(img, detail)
        m = upsample_strength(low, img.shape[2], img.shape[3]).to(img.dtype)
        if self.scales == 1:
            return torch.addcmul(img, m, detail, value=-1), low
        wide = blurred - binomial_blur(blurred)  # d9 - d5
        detail = torch.addcmul(detail, m[:, 1:], wide)  # (1 - w) d5 + w d9
        return torch.addcmul(img, m[:, :1], detail, value=-1), low[:, :1] * (1 + low[:, 1:])

    def _forward_banded(self, img: Tensor) -> Tensor:
        """CPU inference in bands of whole cells: the detail and the cells' statistics of each band while it is in
        cache (one pass), then the mix (a second pass), instead of ten full-size temporaries. The same blur and
        statistics as :meth:`forward`; the map is upsampled band by band (within 2e-7). With it and the one-lerp
        map upsampling, ``zerodce++-det`` at 640x640 on 2 threads took 11.5-12.1 instead of 13.2-13.6 ms per image
        at batch 8 and 10.9-11.0 instead of 11.4-12.2 at batch 1 (benchmarks/results/ab_session7/)."""
        height = img.shape[2]
        rows = self.cell * max(1, 2 * BAND_PIXELS // (self.cell * img.shape[0] * img.shape[3]))  # whole cells, ~2x a curve band
        out = torch.empty_like(img, memory_format=torch.contiguous_format)  # the detail, then the result
        wide = torch.empty_like(out) if self.scales == 2 else None  # d9 - d5
        means, levels = [], []
        for y0 in range(0, height, rows):
            y1 = min(y0 + rows, height)
            band, detail = img[:, :, y0:y1], out[:, :, y0:y1]
            if wide is None:
                torch.sub(band, _blurred_rows(img, y0, y1), out=detail)
            else:  # the 5x5 blur of the band and its halo, then its own blur: the 9x9 one
                a, b = max(0, y0 - 2), min(height, y1 + 2)
                blurred = _blurred_rows(img, a, b)
                torch.sub(band, blurred[:, :, y0 - a:y1 - a], out=detail)
                torch.sub(blurred[:, :, y0 - a:y1 - a], _blurred_rows(blurred, y0, y1, top=a, height=height),
                          out=wide[:, :, y0:y1])
            mean, level = _pooled(band, detail, self.cell)
            means.append(mean)
            levels.append(level)
        low = self._map_of(_stats_of(torch.cat(means, 2), torch.cat(levels, 2)))
        m = UpsampledRows(low[:, :1].contiguous(), height, img.shape[3])
        w = None if wide is None else UpsampledRows(low[:, 1:].contiguous(), height, img.shape[3])
        for y0 in range(0, height, rows):
            y1 = min(y0 + rows, height)
            detail = out[:, :, y0:y1]
            if w is not None and wide is not None:
                detail.addcmul_(w.rows(y0, y1).to(img.dtype), wide[:, :, y0:y1])
            torch.addcmul(img[:, :, y0:y1], m.rows(y0, y1).to(img.dtype), detail, value=-1, out=detail)
        return out


def make_denoiser(denoise: bool | int) -> DenoiseStage | None:
    """The stage a ``denoise`` setting asks for: False none, True one blur (5x5), 2 two blurs (5x5 and 9x9)."""
    if not denoise:
        return None
    if denoise in (1, 2):  # True == 1
        return DenoiseStage(scales=int(denoise))
    raise ValueError(f"denoise must be false, true or 2 (two blur scales), got {denoise!r}")
