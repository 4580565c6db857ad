"""One shared way to run an enhancer on tensors and arrays of any common layout and dtype.

Every adapter (CLI, transforms, scripts) goes through :func:`enhance_tensor`; none does maths of its own.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

_MAX = {torch.uint8: 255.0, torch.uint16: 65535.0}


def module_device(module: nn.Module) -> torch.device | None:
    """Device of the first parameter or buffer, None for a module without tensors."""
    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return None


class NonFiniteOutputError(ValueError):
    """An enhancer returned NaN or infinite values (broken weights): never written out or scored silently."""


def check_finite(enhancer: nn.Module, out: Tensor) -> Tensor:
    """``out`` unchanged if every value is finite; otherwise a :class:`NonFiniteOutputError` naming the weights.

    Example:
        >>> from lowlight_det.enhancers.baselines import IdentityEnhancer
        >>> check_finite(IdentityEnhancer(), torch.tensor([float("nan")]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lowlight_det.enhancers.apply.NonFiniteOutputError: enhancer IdentityEnhancer (no weights) returned NaN...
    """
    if not bool(torch.isfinite(out.sum())):  # one reduction, no mask: NaN and inf propagate through the sum
        source = getattr(enhancer, "weights_source", None) or "no weights"
        raise NonFiniteOutputError(f"enhancer {type(enhancer).__name__} ({source}) returned NaN or infinite values; its "
                                   "weights are broken (diverged training?) and nothing was written from them")
    return out


def enhance_tensor(enhancer: nn.Module, img: Tensor) -> Tensor:
    """Enhance RGB images given as (3, H, W) or (B, 3, H, W), uint8/uint16 or float in [0, 1].

    The enhancer runs on its own device; the result comes back with the input's shape, dtype and
    device, clamped to the valid range. The input is never modified.

    Example:
        >>> from lowlight_det.enhancers.baselines import GammaEnhancer
        >>> out = enhance_tensor(GammaEnhancer(gamma=0.5), torch.full((3, 2, 2), 64, dtype=torch.uint8))
        >>> out.dtype, out[0, 0, 0].item()
        (torch.uint8, 128)
    """
    if img.ndim not in (3, 4) or img.shape[-3] != 3:
        raise ValueError(f"expected RGB images (3, H, W) or (B, 3, H, W), got {tuple(img.shape)}")
    batch = img.unsqueeze(0) if img.ndim == 3 else img
    device = module_device(enhancer) or batch.device
    maxval = _MAX.get(img.dtype)
    if maxval is not None:
        x = batch.to(device).float() / maxval
    elif img.is_floating_point():
        x = batch.to(device)
    else:
        raise TypeError(f"unsupported image dtype {img.dtype}: use uint8, uint16 or float in [0, 1]")
    out = check_finite(enhancer, enhancer(x)).clamp(0, 1)
    if maxval is not None:
        out = (out * maxval).round().to(img.dtype)
    else:
        out = out.to(img.dtype)
    out = out.to(img.device)
    return out.squeeze(0) if img.ndim == 3 else out


def enhance_array(enhancer: nn.Module, arr: np.ndarray, *, bgr: bool = False) -> np.ndarray:
    """Enhance an HWC image array (uint8, uint16 or float in [0, 1]); grey (H, W) is accepted too.

    Args:
        enhancer: any registered enhancer.
        arr: (H, W, 3) RGB, or BGR with ``bgr=True`` (OpenCV order), or (H, W, 4) with alpha kept.
        bgr: channel order of ``arr``.

    Returns:
        Array of the same shape and dtype.
    """
    if arr.ndim == 2:
        rgb = np.repeat(arr[..., None], 3, axis=2)
        out = enhance_array(enhancer, rgb)
        return out.mean(axis=2).round().astype(arr.dtype) if arr.dtype.kind == "u" else out.mean(axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) or (H, W, 4) image array, got shape {arr.shape}")
    colour = arr[..., :3][..., ::-1] if bgr else arr[..., :3]
    tensor = torch.from_numpy(np.ascontiguousarray(colour)).permute(2, 0, 1)
    with torch.inference_mode():
        out = enhance_tensor(enhancer, tensor).permute(1, 2, 0).numpy()
    out = out[..., ::-1] if bgr else out
    if arr.shape[2] == 4:
        out = np.concatenate([out, arr[..., 3:]], axis=2)
    return np.ascontiguousarray(out)
