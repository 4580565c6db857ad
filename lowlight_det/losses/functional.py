"""The four zero-reference losses of Zero-DCE (Guo et al., CVPR 2020, sec. 3.3), as functions.

Each returns a scalar: the mean over the batch of the per-image loss. Half and bfloat16 inputs
are computed in float32 (also under autocast); float64 stays float64 (for gradcheck).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _upcast(t: Tensor) -> Tensor:
    return t if t.dtype == torch.float64 else t.float()


def spatial_consistency_loss(enhanced: Tensor, original: Tensor, *, region: int = 4) -> Tensor:
    """L_spa: keep the difference between each region and its 4 neighbours (eq. 5).

    Channel means are averaged over ``region`` x ``region`` regions; for each region the
    differences to its left/right/up/down neighbours (zero outside the image) must be the same
    before and after enhancement.

    Args:
        enhanced: enhanced RGB images (B, 3, H, W) in [0, 1].
        original: input RGB images (B, 3, H, W) in [0, 1].
        region: side of the averaging regions.

    Returns:
        Scalar: mean over regions and batch of the summed squared differences.

    Example:
        >>> img = torch.rand(2, 3, 8, 8)
        >>> spatial_consistency_loss(img, img).item()
        0.0
    """
    def neighbour_diffs(img: Tensor) -> Tensor:
        pooled = F.avg_pool2d(_upcast(img).mean(1, keepdim=True), region)
        padded = F.pad(pooled, (1, 1, 1, 1))
        centre = padded[..., 1:-1, 1:-1]
        return torch.stack([centre - padded[..., 1:-1, :-2], centre - padded[..., 1:-1, 2:],
                            centre - padded[..., :-2, 1:-1], centre - padded[..., 2:, 1:-1]])

    return (neighbour_diffs(original) - neighbour_diffs(enhanced)).pow(2).sum(0).mean()


def exposure_control_loss(img: Tensor, *, level: float = 0.6, patch: int = 16) -> Tensor:
    """L_exp: distance of the mean intensity of non-overlapping patches to a well-exposed level (eq. 6).

    Args:
        img: RGB images (B, 3, H, W) in [0, 1].
        level: target exposure E.
        patch: patch side.

    Returns:
        Scalar mean squared distance.

    Example:
        >>> round(exposure_control_loss(torch.full((1, 3, 32, 32), 0.6)).item(), 8)
        0.0
        >>> round(exposure_control_loss(torch.zeros(1, 3, 32, 32)).item(), 4)
        0.36
    """
    means = F.avg_pool2d(_upcast(img).mean(1, keepdim=True), patch)
    return (means - level).pow(2).mean()


def color_constancy_loss(img: Tensor) -> Tensor:
    """L_col: grey-world colour constancy, sqrt of the summed squared channel-mean differences (eq. 7).

    Args:
        img: RGB images (B, 3, H, W) in [0, 1].

    Returns:
        Scalar mean over the batch of sqrt((J_r-J_g)^4 + (J_r-J_b)^4 + (J_g-J_b)^4).

    Example:
        >>> color_constancy_loss(torch.full((1, 3, 4, 4), 0.3)).item()
        0.0
    """
    r, g, b = _upcast(img).mean((2, 3)).unbind(1)
    d = torch.stack([(r - g).pow(2), (r - b).pow(2), (g - b).pow(2)])
    return _sqrt0(d.pow(2).sum(0)).mean()


def _sqrt0(x: Tensor) -> Tensor:
    """sqrt with gradient 0 (not inf · 0 = NaN) at 0: a grey or black frame has zero colour loss and no gradient.

    Example:
        >>> x = torch.zeros(2, requires_grad=True)
        >>> _sqrt0(x).sum().backward()
        >>> x.grad.tolist()
        [0.0, 0.0]
    """
    positive = x > 0
    return torch.where(positive, x.where(positive, torch.ones_like(x)).sqrt(), torch.zeros_like(x))


def illumination_smoothness_loss(curves: Tensor) -> Tensor:
    """L_tvA: total variation of the curve maps (eq. 8), as in the authors' training code.

    ``2 · (Σ Δ_h² / count_h + Σ Δ_w² / count_w) / B``.

    Args:
        curves: α maps (B, C, H, W) in [-1, 1].

    Returns:
        Scalar (unweighted).

    Example:
        >>> illumination_smoothness_loss(torch.ones(2, 24, 5, 5)).item()
        0.0
    """
    curves = _upcast(curves)
    b, _, h, w = curves.shape
    dh = (curves[..., 1:, :] - curves[..., :-1, :]).pow(2).sum()
    dw = (curves[..., :, 1:] - curves[..., :, :-1]).pow(2).sum()
    count_h = max((h - 1) * w, 1)
    count_w = max(h * (w - 1), 1)
    return 2 * (dh / count_h + dw / count_w) / b
