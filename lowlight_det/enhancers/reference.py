"""Straightforward forward passes of the curve enhancers: the yardstick for the optimised paths.

Contiguous NCHW float32 tensors through the model's own DCE-Net layers (whose maths the parity tests
check against the authors' code) and its strength gate if it has one, every iteration of the curve a
separate step; no memory-format change, no row bands, no fusion. Benchmarks time the optimised forward against these and
tests check that every optimised path matches them (``benchmarks/bench_enhancers.py``,
``tests/enhancers/test_fast_paths.py``).
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from lowlight_det.enhancers.zerodce import ZeroDCE, ZeroDCEPP, low_res_size


@torch.no_grad()
def reference_forward(model: ZeroDCE | ZeroDCEPP, img: Tensor) -> Tensor:
    """Enhance ``img`` (B, 3, H, W) with ``model``'s weights, the plain way (see the module docstring).

    Example:
        >>> m = ZeroDCE().eval()
        >>> x = torch.rand(1, 3, 20, 24)
        >>> bool((reference_forward(m, x) - m(x)).abs().max() < 1e-5)
        True
    """
    x = img.contiguous()
    if model.denoiser is not None:  # a denoising stage runs first (enhancers/denoise.py)
        x = model.denoiser(x)
    if isinstance(model, ZeroDCEPP):
        low = x
        if model.scale_factor != 1:
            size = (low_res_size(x.shape[2], model.scale_factor), low_res_size(x.shape[3], model.scale_factor))
            low = F.interpolate(x, size=cast(Any, size), mode="bilinear", align_corners=False)
        r = model._dce_net(low)
        if r.shape[-2:] != x.shape[-2:]:
            r = F.interpolate(r, size=x.shape[-2:], mode="bilinear", align_corners=True)
        maps = [r] * model.n_iter
    else:
        maps = list(model._dce_net(x).split(3, 1))
    if model.gate is not None:  # strength on the α maps (per image, or a map upsampled bilinearly)
        strength = model.gate(x)
        if strength.shape[-2:] != (1, 1):
            strength = F.interpolate(strength, size=x.shape[-2:], mode="bilinear", align_corners=True)
        maps = [a * strength for a in maps]
    for a in maps:
        x = x + a * (x.pow(2) - x)
    return x
