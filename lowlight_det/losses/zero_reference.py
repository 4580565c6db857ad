"""Weighted sum of the four zero-reference losses."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from lowlight_det.losses.functional import (
    color_constancy_loss,
    exposure_control_loss,
    illumination_smoothness_loss,
    spatial_consistency_loss,
)


class ZeroReferenceTerms(NamedTuple):
    """Total loss and the weighted terms (each a scalar tensor, for logging)."""

    total: Tensor
    spatial: Tensor
    exposure: Tensor
    color: Tensor
    smoothness: Tensor


class ZeroReferenceLoss(nn.Module):
    """``w_spa·L_spa + w_exp·L_exp + w_col·L_col + w_tv·L_tvA`` (paper weights 1, 10, 5, 200).

    Zero-DCE++ uses ``smoothness=1600``.

    Example:
        >>> import torch
        >>> loss = ZeroReferenceLoss()
        >>> img = torch.full((1, 3, 16, 16), 0.6)
        >>> round(loss(img, img, torch.zeros(1, 24, 16, 16)).total.item(), 8)
        0.0
    """

    def __init__(self, *, spatial: float = 1.0, exposure: float = 10.0, color: float = 5.0,
                 smoothness: float = 200.0, exposure_level: float = 0.6, exposure_patch: int = 16,
                 spatial_region: int = 4) -> None:
        super().__init__()
        self.weights = {"spatial": spatial, "exposure": exposure, "color": color, "smoothness": smoothness}
        self.exposure_level = exposure_level
        self.exposure_patch = exposure_patch
        self.spatial_region = spatial_region

    def forward(self, enhanced: Tensor, original: Tensor, curves: Tensor) -> ZeroReferenceTerms:
        """Loss of ``enhanced`` (B,3,H,W) given ``original`` (B,3,H,W) and the α maps ``curves``."""
        w = self.weights
        spatial = w["spatial"] * spatial_consistency_loss(enhanced, original, region=self.spatial_region)
        exposure = w["exposure"] * exposure_control_loss(enhanced, level=self.exposure_level,
                                                         patch=self.exposure_patch)
        color = w["color"] * color_constancy_loss(enhanced)
        smoothness = w["smoothness"] * illumination_smoothness_loss(curves)
        return ZeroReferenceTerms(spatial + exposure + color + smoothness, spatial, exposure, color, smoothness)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.weights.items())
