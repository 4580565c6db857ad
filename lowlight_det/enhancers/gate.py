"""Illumination-adaptive strength: a learned, per-image scale on a curve enhancer's α maps.

Enhancement that helps a detector on a very dark frame hurts it on a frame with strong lights or
enough light already. A tiny MLP looks at global exposure statistics of the input and returns a
strength ``s`` in (0, 1) per image; the curve maps become ``s · α``, so ``s → 0`` is the identity and
``s → 1`` the full curves, and the result stays a monotonic curve of the input at every pixel.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

N_STATS = 5
_LOG_EPS = 0.01  # log-mean luminance floor: log(0.01) = -4.6


def illumination_stats(img: Tensor) -> Tensor:
    """Global exposure statistics of each image, every one scaled to roughly [0, 1].

    Args:
        img: RGB images in [0, 1], shape (B, 3, H, W), any float dtype.

    Returns:
        (B, 5) float32: mean luminance (Rec. 601), 2 × its standard deviation, normalised log-mean
        luminance ``1 + mean(log(Y + 0.01)) / 4.6``, the fraction of dark pixels (Y < 0.1) and of
        bright pixels (Y > 0.75).

    Example:
        >>> [round(v, 4) + 0.0 for v in illumination_stats(torch.zeros(1, 3, 4, 4))[0].tolist()]
        [0.0, 0.0, 0.0, 1.0, 0.0]
    """
    weights = img.new_tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
    lum = (img.float() * weights).sum(1).flatten(1)  # (B, H·W)
    mean = lum.mean(1)
    std = (lum - mean[:, None]).square().mean(1).sqrt()
    log_mean = 1 + torch.log(lum + _LOG_EPS).mean(1) / -math.log(_LOG_EPS)
    dark = (lum < 0.1).float().mean(1)
    bright = (lum > 0.75).float().mean(1)
    return torch.stack([mean, 2 * std, log_mean, dark, bright], dim=1)


class StrengthGate(nn.Module):
    """Per-image strength ``s = sigmoid(MLP(illumination_stats(img)))`` in (0, 1); 57 parameters.

    The last layer starts at zero weights, so every image starts at ``init_strength``.

    Shape: input (B, 3, H, W) RGB in [0, 1]; output (B, 1, 1, 1) float32, to scale α maps.

    Example:
        >>> gate = StrengthGate(init_strength=0.9)
        >>> round(gate(torch.rand(2, 3, 8, 8)).flatten()[0].item(), 4)
        0.9
    """

    def __init__(self, *, hidden: int = 8, init_strength: float = 0.9) -> None:
        super().__init__()
        if not 0 < init_strength < 1:
            raise ValueError(f"init_strength must be in (0, 1), got {init_strength}")
        self.fc1 = nn.Linear(N_STATS, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        nn.init.zeros_(self.fc2.weight)
        nn.init.constant_(self.fc2.bias, math.log(init_strength / (1 - init_strength)))

    def forward(self, img: Tensor) -> Tensor:
        stats = illumination_stats(img).to(self.fc1.weight.dtype)
        logit = self.fc2(torch.relu(self.fc1(stats)))
        return torch.sigmoid(logit.float()).view(-1, 1, 1, 1)
