"""Classic baselines with the enhancer contract: gamma, CLAHE and identity (``none``)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lowlight_det.enhancers.functional import clahe, gamma_correct, image_by_image


def _check(img: Tensor) -> None:
    if img.ndim != 4 or img.shape[1] != 3 or not img.is_floating_point():
        raise ValueError(f"expected float RGB images (B, 3, H, W) in [0, 1], got {tuple(img.shape)} {img.dtype}")


class IdentityEnhancer(nn.Module):
    """No enhancement (the ``none`` baseline); returns a new tensor equal to the input.

    Example:
        >>> img = torch.rand(1, 3, 4, 4)
        >>> IdentityEnhancer()(img).equal(img)
        True
    """

    differentiable = True

    def forward(self, img: Tensor) -> Tensor:
        _check(img)
        if img.requires_grad and torch.is_grad_enabled():
            return img.clone()
        return image_by_image(lambda x, out: out.copy_(x), img)


class GammaEnhancer(nn.Module):
    """Global gamma curve ``img ** gamma``; ``gamma < 1`` brightens.

    Example:
        >>> GammaEnhancer(gamma=0.5)(torch.full((1, 3, 2, 2), 0.25))[0, 0, 0, 0].item()
        0.5
    """

    differentiable = True

    def __init__(self, *, gamma: float = 0.5) -> None:
        super().__init__()
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        self.gamma = gamma

    def forward(self, img: Tensor) -> Tensor:
        _check(img)
        return gamma_correct(img, self.gamma)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"


class ClaheEnhancer(nn.Module):
    """OpenCV CLAHE on the LAB lightness channel (not differentiable).

    Example:
        >>> ClaheEnhancer()(torch.rand(2, 3, 17, 23)).shape
        torch.Size([2, 3, 17, 23])
    """

    differentiable = False

    def __init__(self, *, clip_limit: float = 2.0, tile_grid: int = 8) -> None:
        super().__init__()
        self.clip_limit = clip_limit
        self.tile_grid = tile_grid

    def forward(self, img: Tensor) -> Tensor:
        _check(img)
        return clahe(img, clip_limit=self.clip_limit, tile_grid=self.tile_grid)

    def extra_repr(self) -> str:
        return f"clip_limit={self.clip_limit}, tile_grid={self.tile_grid}"
