"""Enhancers as preprocessing steps: torchvision, albumentations (optional extra), numpy/OpenCV one-liner.

Every adapter calls :func:`lowlight_det.enhancers.apply.enhance_tensor`; none does maths of its own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from torch import nn

from lowlight_det.enhancers import create_enhancer
from lowlight_det.enhancers.apply import enhance_array, enhance_tensor
from lowlight_det.transforms.torchvision import EnhanceTransform

__all__ = ["EnhanceTransform", "enhance_array", "enhance_image", "enhance_tensor", "get_enhancer"]


@lru_cache(maxsize=8)
def get_enhancer(name: str = "zerodce", weights: str | None = "default") -> nn.Module:
    """A cached, eval-mode enhancer (so scripts do not reload weights per image)."""
    kwargs = {} if weights == "default" else {"weights": weights}
    return create_enhancer(name, **kwargs).eval()


def enhance_image(image: np.ndarray, enhancer: str | nn.Module = "zerodce", *, bgr: bool = False,
                  weights: str | Path | None = "default") -> np.ndarray:
    """Enhance one HWC image array (uint8/uint16/float, RGB or ``bgr=True`` for OpenCV) in one line.

    Example:
        >>> img = np.full((4, 4, 3), 64, np.uint8)
        >>> enhance_image(img, "gamma")[0, 0].tolist()
        [128, 128, 128]
    """
    module = enhancer if isinstance(enhancer, nn.Module) else get_enhancer(enhancer, None if weights is None
                                                                             else str(weights))
    return enhance_array(module, image, bgr=bgr)
