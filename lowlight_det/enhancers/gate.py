"""Illumination-adaptive strength: a learned scale on a curve enhancer's α maps, per image or per region.

Enhancement that helps a detector on a very dark frame hurts it on a frame with strong lights or
enough light already. :class:`StrengthGate`: a tiny MLP looks at global exposure statistics of the input and
returns a strength ``s`` in (0, 1) per image. :class:`SpatialStrengthGate`: the same statistics measured on
cells of 40x40 pixels (and the global ones) give a low-resolution strength map, upsampled smoothly, so dark
regions can be lifted while light sources and lit regions stay as they are. The curve maps become ``s · α``,
so ``s → 0`` is the identity and ``s → 1`` the full curves, and the result stays a monotonic curve of the input
at every pixel.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

N_STATS = 5
_LOG_EPS = 0.01  # log-mean luminance floor: log(0.01) = -4.6


def luminance(img: Tensor) -> Tensor:
    """Rec. 601 luminance (B, 1, H, W) float32 of RGB images (B, 3, H, W) in [0, 1]."""
    r, g, b = img.float().split(1, dim=1)  # three passes over one plane, not a 3-plane product and a sum
    return torch.add(r * 0.299, g, alpha=0.587).add_(b, alpha=0.114)


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
    lum = luminance(img).flatten(1)  # (B, H·W)
    n = lum.shape[1]
    mean = lum.mean(1)  # few passes over the image, this runs on every frame (torch.var_mean: 13x slower on CPU)
    var = torch.linalg.vector_norm(lum - mean[:, None], dim=1).square() / n  # two passes, not three
    log_mean = 1 + torch.log(lum + _LOG_EPS).mean(1) / -math.log(_LOG_EPS)
    dark = (lum < 0.1).sum(1, dtype=torch.float32) / n
    bright = (lum > 0.75).sum(1, dtype=torch.float32) / n
    return torch.stack([mean, 2 * var.sqrt(), log_mean, dark, bright], dim=1)


class StrengthGate(nn.Module):
    """Per-image strength ``s = sigmoid(MLP(illumination_stats(img)))`` in (0, 1); 57 parameters.

    The last layer starts at zero weights, so every image starts at ``init_strength``.

    Shape: input (B, 3, H, W) RGB in [0, 1]; output (B, 1, 1, 1) float32, to scale α maps.

    Example:
        >>> gate = StrengthGate(init_strength=0.9)
        >>> round(gate(torch.rand(2, 3, 8, 8)).flatten()[0].item(), 4)
        0.9
    """

    spatial = False

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


def _logit(p: float) -> float:
    if not 0 < p < 1:
        raise ValueError(f"init_strength must be in (0, 1), got {p}")
    return math.log(p / (1 - p))


class SpatialStrengthGate(nn.Module):
    """A strength map ``s(x, y)`` in (0, 1): per cell of ``cell`` x ``cell`` pixels (40: 16 cells across a 640
    detector input), the five exposure statistics of the cell and of the whole image go through a
    1x1 → 3x3 → 1x1 convolution stack; 681 parameters. The map is low resolution (B, 1, ⌈H/cell⌉, ⌈W/cell⌉);
    :func:`upsample_strength` brings it to the image size (bilinear, ``align_corners=True``: smooth, no blocks).
    The last layer starts at zero weights, so every region starts at ``init_strength``. Exports to ONNX with
    dynamic sizes (fixed pooling windows).

    Example:
        >>> gate = SpatialStrengthGate(init_strength=0.9)
        >>> s = gate(torch.rand(2, 3, 60, 90))
        >>> tuple(s.shape), round(s[0, 0, 1, 2].item(), 4)
        ((2, 1, 2, 3), 0.9)
    """

    spatial = True

    def __init__(self, *, hidden: int = 8, init_strength: float = 0.9, cell: int = 40) -> None:
        super().__init__()
        self.cell = cell
        self.fc1 = nn.Conv2d(2 * N_STATS, hidden, 1)
        self.mix = nn.Conv2d(hidden, hidden, 3, padding=1, padding_mode="replicate")
        self.fc2 = nn.Conv2d(hidden, 1, 1)
        nn.init.zeros_(self.fc2.weight)
        nn.init.constant_(cast(Tensor, self.fc2.bias), _logit(init_strength))

    def forward(self, img: Tensor) -> Tensor:
        lum = luminance(img)
        pool = lambda t: F.avg_pool2d(t, self.cell, ceil_mode=True)  # noqa: E731  # partial cells: their own pixels
        mean = pool(lum)
        local = torch.cat([mean, 2 * (pool(lum.square()) - mean.square()).clamp_min(0).sqrt(),
                           1 + pool(torch.log(lum + _LOG_EPS)) / -math.log(_LOG_EPS),
                           pool((lum < 0.1).float()), pool((lum > 0.75).float())], dim=1)
        glob = illumination_stats(img)[:, :, None, None].expand_as(local)
        x = torch.cat([local, glob], dim=1).to(self.fc1.weight.dtype)
        x = torch.relu(self.mix(torch.relu(self.fc1(x))))
        return torch.sigmoid(self.fc2(x).float())


def spatial_state_from_global(state: dict[str, Tensor], prefix: str = "gate.") -> dict[str, Tensor]:
    """The state of a :class:`SpatialStrengthGate` that computes exactly what the per-image gate in ``state`` does.

    The spatial gate sees the global statistics too (its input channels 5-9), so the per-image MLP fits in it:
    ``fc1`` reads only the global channels, ``mix`` is the identity (its centre tap), ``fc2`` is the MLP's last
    layer. Every cell then gets the image's strength, and tuning starts from the per-image gate's behaviour
    (the local weights start at zero but get gradients). Keys outside ``prefix`` pass through unchanged.

    Example:
        >>> glob, spatial = StrengthGate(), SpatialStrengthGate()
        >>> _ = torch.nn.init.normal_(glob.fc2.weight)
        >>> state = spatial_state_from_global({"gate." + k: v for k, v in glob.state_dict().items()})
        >>> _ = spatial.load_state_dict({k[5:]: v for k, v in state.items()})
        >>> x = torch.rand(2, 3, 80, 120)
        >>> bool((spatial(x) - glob(x)).abs().max() < 1e-6)
        True
    """
    w1, b1 = state[prefix + "fc1.weight"], state[prefix + "fc1.bias"]
    w2, b2 = state[prefix + "fc2.weight"], state[prefix + "fc2.bias"]
    if w1.dim() != 2 or w1.shape[1] != N_STATS:
        raise ValueError(f"not a per-image strength gate: {prefix}fc1.weight has shape {tuple(w1.shape)}")
    hidden = w1.shape[0]
    fc1 = torch.cat([torch.zeros_like(w1), w1], dim=1)[:, :, None, None]
    mix = torch.zeros(hidden, hidden, 3, 3, dtype=w1.dtype)
    mix[:, :, 1, 1] = torch.eye(hidden, dtype=w1.dtype)
    out = {k: v for k, v in state.items() if not k.startswith(prefix)}
    out.update({prefix + "fc1.weight": fc1, prefix + "fc1.bias": b1.clone(),
                prefix + "mix.weight": mix, prefix + "mix.bias": torch.zeros(hidden, dtype=w1.dtype),
                prefix + "fc2.weight": w2[:, :, None, None].clone(), prefix + "fc2.bias": b2.clone()})
    return out


def upsample_strength(strength: Tensor, height: int, width: int) -> Tensor:
    """A strength map at the image size (per-image strengths (B, 1, 1, 1) are returned as they are)."""
    if strength.shape[-2:] == (1, 1) or strength.shape[-2:] == (height, width):
        return strength
    return F.interpolate(strength, size=(height, width), mode="bilinear", align_corners=True)


def make_gate(adaptive: bool | str) -> nn.Module | None:
    """The gate an ``adaptive`` setting asks for: ``True`` / ``"global"`` per image, ``"spatial"`` a map."""
    if adaptive in (False, None, "", "none"):
        return None
    if adaptive in (True, "global"):
        return StrengthGate()
    if adaptive == "spatial":
        return SpatialStrengthGate()
    raise ValueError(f"adaptive must be true, 'global' or 'spatial', got {adaptive!r}")
