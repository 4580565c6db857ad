"""Zero-reference losses (functions and the weighted module)."""

from __future__ import annotations

from lowlight_det.losses.functional import (
    color_constancy_loss,
    exposure_control_loss,
    illumination_smoothness_loss,
    spatial_consistency_loss,
)
from lowlight_det.losses.zero_reference import ZeroReferenceLoss, ZeroReferenceTerms

__all__ = [
    "ZeroReferenceLoss", "ZeroReferenceTerms", "color_constancy_loss", "exposure_control_loss",
    "illumination_smoothness_loss", "spatial_consistency_loss",
]
