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


class Darken(A.ImageOnlyTransform):
    """Physically based low-light synthesis (see ``lowlight_det.data.synthesis``) on HWC uint8 RGB images.

    Each call draws its parameters from the transform's own random generator, so ``A.Compose(..., seed=N)``
    makes a pipeline reproducible.

    Args:
        darkness, gamma, shot_noise: (min, max) sampling ranges (defaults: ``DarkenRanges``).
        p: probability.
    """

    def __init__(self, darkness: tuple[float, float] = (0.01, 0.4), gamma: tuple[float, float] = (2.0, 3.5),
                 shot_noise: tuple[float, float] = (1e-4, 0.012), p: float = 1.0) -> None:
        super().__init__(p=p)
        self.darkness = (float(darkness[0]), float(darkness[1]))
        self.gamma = (float(gamma[0]), float(gamma[1]))
        self.shot_noise = (float(shot_noise[0]), float(shot_noise[1]))

    def get_params(self) -> dict[str, Any]:
        return {"seed": int(self.random_generator.integers(0, 2**31 - 1))}

    def apply(self, img: np.ndarray, seed: int = 0, **params: Any) -> np.ndarray:
        from lowlight_det.data.synthesis import DarkenRanges, darken_array

        ranges = DarkenRanges(darkness=self.darkness, gamma=self.gamma, shot_noise=self.shot_noise)
        return darken_array(img, seed=seed, ranges=ranges)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("darkness", "gamma", "shot_noise")
