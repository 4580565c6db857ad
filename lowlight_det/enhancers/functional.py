"""Pure functions behind the enhancers: curve application, gamma, CLAHE."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def apply_curves(img: Tensor, curves: Tensor, n_iter: int | None = None) -> Tensor:
    """Apply the light-enhancement curve LE(x) = x + α·(x² − x) iteratively (Zero-DCE, eq. 2-4).

    Args:
        img: RGB images in [0, 1], shape (B, 3, H, W), any float dtype.
        curves: α maps in [-1, 1], shape (B, 3·n, H, W). With 3 channels and ``n_iter`` set,
            the one map is reused ``n_iter`` times (Zero-DCE++).
        n_iter: number of iterations when ``curves`` holds a single 3-channel map.

    Returns:
        Enhanced images, same shape, dtype and device as ``img``; ``img`` is not modified.

    Example:
        >>> img = torch.full((1, 3, 2, 2), 0.5)
        >>> apply_curves(img, torch.zeros(1, 24, 2, 2)).equal(img)
        True
        >>> apply_curves(img, -torch.ones(1, 3, 2, 2), n_iter=1)[0, 0, 0, 0].item()
        0.75
    """
    if curves.shape[1] % 3:
        raise ValueError(f"curves must have 3·n channels, got shape {tuple(curves.shape)}")
    maps = (curves,) * n_iter if n_iter else curves.split(3, dim=1)
    for alpha in maps:
        img = img + alpha * (img * img - img)
    return img


class UpsampledRows:
    """A low-resolution map upsampled to (H, W) bilinearly (``align_corners=True``), a band of rows at a time.

    Computes what ``F.interpolate(low, size=(H, W), mode="bilinear", align_corners=True)`` gives (width first,
    then height, as PyTorch's kernel; within 2e-7), without holding the full-size map.

    Example:
        >>> import torch.nn.functional as F
        >>> low = torch.rand(1, 3, 5, 4)
        >>> full = F.interpolate(low, size=(37, 29), mode="bilinear", align_corners=True)
        >>> bool((UpsampledRows(low, 37, 29).rows(10, 20) - full[:, :, 10:20]).abs().max() < 1e-6)
        True
    """

    def __init__(self, low: Tensor, height: int, width: int) -> None:
        self.shape = (*low.shape[:2], height, width)
        r0, r1, self._rl1 = _bilinear_taps(low.shape[2], height, low)
        # (B, C, h, W): every low-res row at full width, PyTorch's own width pass (a gather along the last dimension
        # and a lerp took 4x longer: 0.27 vs 0.07 ms for 53 -> 640 on 2 threads)
        self._wide = F.interpolate(low, size=(low.shape[2], width), mode="bilinear", align_corners=True)
        self._r0, self._r1 = r0, r1

    def rows(self, y0: int, y1: int) -> Tensor:
        """Rows ``y0:y1`` of the full-size map, (B, C, y1 - y0, W)."""
        # one lerp instead of two products and a sum: three ops per band, not five (on CPU the per-op overhead
        # of these small band-sized ops is much of their cost)
        return torch.lerp(self._wide.index_select(2, self._r0[y0:y1]), self._wide.index_select(2, self._r1[y0:y1]),
                          self._rl1[y0:y1, None])


def _bilinear_taps(n_in: int, n_out: int, like: Tensor, *, align_corners: bool = True
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Source indices ``i0``, ``i1`` and the weight of ``i1`` of bilinear resampling from ``n_in`` to ``n_out``
    samples, by PyTorch's rules: ``src = i · (n_in − 1) / (n_out − 1)`` with ``align_corners``, else
    ``src = (i + 0.5) · n_in / n_out − 0.5`` clamped at 0. Cached per sizes, dtype and device (a dozen small ops
    that cost as much as the resampling they serve; the tensors are only read)."""
    return _cached_taps(n_in, n_out, align_corners, like.dtype, like.device)


@functools.lru_cache(maxsize=64)
def _cached_taps(n_in: int, n_out: int, align_corners: bool, dtype: torch.dtype, device: torch.device
                 ) -> tuple[Tensor, Tensor, Tensor]:
    with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable inside and outside inference mode
        idx = torch.arange(n_out, dtype=dtype, device=device)
        if align_corners:
            src = idx * ((n_in - 1) / (n_out - 1)) if n_out > 1 else torch.zeros_like(idx)
        else:
            src = ((idx + 0.5) * (n_in / n_out) - 0.5).clamp_min(0)
        i0 = src.to(torch.int64).clamp(max=n_in - 1)
        i1 = torch.where(i0 < n_in - 1, i0 + 1, i0)
        return i0, i1, (src - i0.to(dtype)).clamp(0, 1)


def downsample_bilinear(img: Tensor, height: int, width: int) -> Tensor:
    """What ``F.interpolate(img, size=(height, width), mode="bilinear", align_corners=False)`` gives (no
    antialiasing; within 2e-7), reading only the rows and columns it samples.

    Downscaling a 640x640 image 12x reads 2 of every 12 rows: on CPU, ``F.interpolate`` first copies the whole
    input (a full pass over a 4.9 MB image); this gathers the 2·height x 2·width pixels it samples and mixes them
    with three lerps (0.11 vs 0.29 ms at 640x640 -> 53x53 on 2 threads). Zero-DCE++ uses it on CPU
    unless it is traced (ONNX export) or the input needs gradients.

    Example:
        >>> import torch.nn.functional as F
        >>> x = torch.rand(2, 3, 100, 75)
        >>> ref = F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=False)
        >>> bool((downsample_bilinear(x, 9, 7) - ref).abs().max() < 1e-6)
        True
    """
    r0, r1, rl1 = _bilinear_taps(img.shape[2], height, img, align_corners=False)
    c0, c1, cl1 = _bilinear_taps(img.shape[3], width, img, align_corners=False)
    q = img[:, :, torch.cat([r0, r1])[:, None], torch.cat([c0, c1])]  # (B, C, 2·height, 2·width), one gather
    top = torch.lerp(q[:, :, :height, :width], q[:, :, :height, width:], cl1)
    bottom = torch.lerp(q[:, :, height:, :width], q[:, :, height:, width:], cl1)
    return torch.lerp(top, bottom, rl1[:, None])


BAND_PIXELS = 40960  # pixels (all images of the batch) per band of apply_curves_inplace


def apply_curves_inplace(img: Tensor, curves: Tensor | UpsampledRows, n_iter: int | None = None, *,
                         band_rows: int | None = None, scale: Tensor | UpsampledRows | None = None,
                         out: Tensor | None = None
                         ) -> Tensor:
    """:func:`apply_curves` for inference, in place on row bands of one copy of ``img``, so every iteration of a band
    runs while it is in cache and no temporary image is allocated per iteration. Each iteration is computed as
    ``x · (1 − α + α·x)`` (the same curve, factored: two passes over the band instead of four): float32 rounding
    differs from :func:`apply_curves` by up to 6e-7 on the shipped enhancers' outputs, 3e-6 for random maps.
    No autograd (use :func:`apply_curves` to train).

    Args:
        img: RGB images in [0, 1], shape (B, 3, H, W), any float dtype; not modified.
        curves: α maps (B, 3·n, H, W) or (B, 3, H, W) with ``n_iter``, as for :func:`apply_curves`; or a
            low-resolution map to upsample band by band (:class:`UpsampledRows`, with ``n_iter``).
        n_iter: iterations of a single shared map.
        band_rows: rows processed together (default: about 40,960 pixels of the batch per band, so a band stays in
            cache: 64 rows of one 640-wide image, 8 rows of a batch of 8; measured best at 640 and 1280 wide, batch
            1, 4 and 8, 2 threads: 3.2 vs 3.8 ms per 640x640 image with the earlier 32 rows, 2.6 vs 3.0 ms per
            480x640 image in batches of 8 with the earlier 4).
        scale: strength multiplying the α maps (a strength gate), applied band by band: the same result as
            passing ``curves * scale``, without a full-size copy. Per image (B, 1, 1, 1), or per pixel: a
            full-size (B, 1, H, W) map or a low-resolution one to upsample (:class:`UpsampledRows`).
        out: write the result here (contiguous, ``img``'s shape) instead of a new tensor.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> img, curves = torch.rand(1, 3, 70, 9, generator=g), torch.rand(1, 24, 70, 9, generator=g) * 2 - 1
        >>> bool((apply_curves_inplace(img, curves) - apply_curves(img, curves)).abs().max() < 1e-5)
        True
    """
    if curves.shape[1] % 3:
        raise ValueError(f"curves must have 3·n channels, got shape {tuple(curves.shape)}")
    if out is not None and (out.shape != img.shape or not out.is_contiguous()):
        raise ValueError(f"out must be a contiguous tensor of the input's shape {tuple(img.shape)}")
    if isinstance(curves, UpsampledRows) and not n_iter:
        raise ValueError("an upsampled low-resolution map is one shared map: pass n_iter")
    maps: Any = (curves,) * n_iter if n_iter else cast(Tensor, curves).split(3, dim=1)
    band_rows = band_rows or max(2, BAND_PIXELS // (img.shape[0] * img.shape[3]))
    with torch.no_grad():
        out = img.clone(memory_format=torch.contiguous_format) if out is None else out.copy_(img)
        tmp = torch.empty_like(out[:, :, :band_rows])
        for y0 in range(0, out.shape[2], band_rows):
            y1 = min(y0 + band_rows, out.shape[2])
            x, t = out[:, :, y0:y1], tmp[:, :, : y1 - y0]
            band = [map_rows(alpha, y0, y1) for alpha in maps[:1 if n_iter else None]]
            if scale is not None:  # the gated maps of this band, as ``curves * scale`` would give them
                s = map_rows(scale, y0, y1).to(img.dtype)
                band = [alpha * s for alpha in band]
            betas = [1 - alpha for alpha in band]  # x + α·(x² − x) = x · (β + α·x), β = 1 − α
            for alpha, beta in zip(band * (n_iter or 1), betas * (n_iter or 1), strict=True):
                torch.addcmul(beta, alpha, x, out=t)
                x.mul_(t)
    return out


def map_rows(m: Tensor | UpsampledRows, y0: int, y1: int) -> Tensor:
    """Rows ``y0:y1`` of a full-size map, of an upsampled low-resolution one, or all of a (B, C, 1, 1) one.

    Example:
        >>> map_rows(torch.arange(6.0).view(1, 1, 3, 2), 1, 2).tolist()
        [[[[2.0, 3.0]]]]
    """
    if isinstance(m, UpsampledRows):
        return m.rows(y0, y1)
    return m if m.shape[2] == 1 else m[:, :, y0:y1]


def gamma_correct(img: Tensor, gamma: float) -> Tensor:
    """Gamma curve ``img ** gamma`` (``gamma < 1`` brightens).

    Args:
        img: RGB images in [0, 1], shape (B, 3, H, W), float.
        gamma: exponent, > 0.

    Returns:
        Same shape, dtype and device as ``img``.

    Example:
        >>> gamma_correct(torch.tensor([0.25]), 0.5).item()
        0.5
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if not _needs_graph(img):  # the same values, written once into one output (see image_by_image)
        def gamma_into(x: Tensor, out: Tensor) -> None:
            torch.clamp_min(x, 1e-8, out=out).pow_(gamma).masked_fill_(x <= 0, 0)

        return image_by_image(gamma_into, img)
    # clamp away from 0: d/dx x**g is infinite at 0 for g < 1
    return img.clamp_min(1e-8).pow(gamma).where(img > 0, torch.zeros_like(img))


def _needs_graph(img: Tensor) -> bool:
    return (torch.is_grad_enabled() and img.requires_grad) or torch.jit.is_tracing()


def image_by_image(fn: Callable[[Tensor, Tensor], Any], img: Tensor) -> Tensor:
    """Inference on a batch (B, C, H, W) written into one new tensor: ``fn(x, out)`` fills ``out`` from ``x``;
    on CPU one image at a time, elsewhere the whole batch at once.

    On CPU every temporary then has the size of one image: tensors past the allocator's reuse threshold (tens of
    MB: a batch of 8 at 640x640 is 39 MB) are mapped fresh by the OS on each call and their page faults cost more
    than the arithmetic, which made batch 8 several times slower per image than batch 1.

    Example:
        >>> img = torch.rand(3, 3, 4, 5)
        >>> image_by_image(lambda x, out: torch.mul(x, 2, out=out), img).equal(img * 2)
        True
    """
    out = torch.empty_like(img, memory_format=torch.contiguous_format)
    if img.device.type != "cpu" or img.shape[0] <= 1:
        fn(img, out)
        return out
    for i in range(img.shape[0]):
        fn(img[i:i + 1], out[i:i + 1])
    return out


def clahe(img: Tensor, *, clip_limit: float = 2.0, tile_grid: int = 8) -> Tensor:
    """Contrast-limited adaptive histogram equalisation of the lightness (OpenCV, LAB L channel).

    Not differentiable; converts to uint8 at its own edges.

    Args:
        img: RGB images in [0, 1], shape (B, 3, H, W), float.
        clip_limit: OpenCV CLAHE clip limit.
        tile_grid: tiles per side.

    Returns:
        Same shape, dtype and device as ``img``.

    Example:
        >>> clahe(torch.full((1, 3, 8, 8), 0.5)).shape
        torch.Size([1, 3, 8, 8])
    """
    op = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid, tile_grid))

    def clahe_into(x: Tensor, out: Tensor) -> None:
        arr = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        res = np.empty_like(arr)
        for i, rgb in enumerate(arr):
            lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
            lab[..., 0] = op.apply(np.ascontiguousarray(lab[..., 0]))
            res[i] = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        torch.div(torch.from_numpy(res).to(x.device).permute(0, 3, 1, 2), 255, out=out)

    return image_by_image(clahe_into, img.detach())
