"""An albumentations ``ImageOnlyTransform`` (optional extra: ``pip install lowlight_det[albumentations]``)."""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np

from lowlight_det.enhancers.apply import enhance_array


class Enhance(A.ImageOnlyTransform):
    """Enhance HWC uint8 RGB images; boxes and masks pass through (use in ``A.Compose`` with ``bbox_params``).

    Serialisable with ``A.to_dict`` / ``A.from_dict`` (the enhancer is rebuilt from its name and weights).

    Args:
        enhancer: registry name, e.g. ``"zerodce"``.
        weights: weights id or path; ``"default"`` for the shipped weights.
        p: probability (1.0: always).
    """

    def __init__(self, enhancer: str = "zerodce", weights: str | None = "default", p: float = 1.0) -> None:
        super().__init__(p=p)
        self.enhancer = enhancer
        self.weights = weights
        from lowlight_det.transforms import get_enhancer

        self._module = get_enhancer(enhancer, weights)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return enhance_array(self._module, img)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("enhancer", "weights")
