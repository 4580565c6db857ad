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


def get_enhancer(name: str = "zerodce", weights: str | Path | None = "default") -> nn.Module:
    """A fresh enhancer ready for inference: eval mode, no gradients (``create_enhancer`` returns a trainable
    module in train mode, like torchvision and timm). Run it under ``torch.inference_mode()``.

    Example:
        >>> model = get_enhancer("zerodce++")
        >>> model.training, any(p.requires_grad for p in model.parameters())
        (False, False)
    """
    kwargs = {} if weights == "default" else {"weights": weights}
    return create_enhancer(name, **kwargs).eval().requires_grad_(False)


@lru_cache(maxsize=8)
def _shared_inference_enhancer(name: str, weights: str | None) -> nn.Module:
    # private to enhance_image: never handed out, so nobody can move or train the cached module
    return get_enhancer(name, weights)


def enhance_image(image: np.ndarray, enhancer: str | nn.Module = "zerodce", *, bgr: bool = False,
                  weights: str | Path | None = "default") -> np.ndarray:
    """Enhance one HWC image array (uint8/uint16/float, RGB or ``bgr=True`` for OpenCV) in one line.

    A named enhancer is loaded once per process (weights are not reloaded per image).

    Example:
        >>> img = np.full((4, 4, 3), 64, np.uint8)
        >>> enhance_image(img, "gamma")[0, 0].tolist()
        [128, 128, 128]
    """
    module = enhancer if isinstance(enhancer, nn.Module) else _shared_inference_enhancer(
        enhancer, None if weights is None else str(weights))
    return enhance_array(module, image, bgr=bgr)
