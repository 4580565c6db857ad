"""Zero-DCE and Zero-DCE++ curve estimators (Guo et al., CVPR 2020; Li et al., TPAMI 2021)."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowlight_det.enhancers.denoise import DenoiseStage, make_denoiser
from lowlight_det.enhancers.functional import (
    UpsampledRows,
    apply_curves,
    apply_curves_inplace,
    downsample_bilinear,
    image_by_image,
    map_rows,
)
from lowlight_det.enhancers.gate import make_gate, upsample_strength


class CurveOutput(NamedTuple):
    """What the losses need from a curve enhancer.

    Attributes:
        image: final enhanced image (B, 3, H, W), what ``forward`` returns (strength gate applied).
        curves: α maps before the gate, (B, 3·n_iter, H, W) for Zero-DCE, (B, 3, H, W) for Zero-DCE++,
            in [-1, 1].
        halfway: the image after half of the iterations (4 of 8) of the ungated curves, (B, 3, H, W).
        ungated: the final image of the ungated curves (the zero-reference losses judge this one);
            ``image`` itself when the enhancer has no gate.
        strength: the per-image strength (B, 1, 1, 1) in (0, 1), or None without a gate.
        blur: the denoising stage's low-resolution map (B, 1, ⌈H/40⌉, ⌈W/40⌉) in (0, 1), or None without one.
    """

    image: Tensor
    curves: Tensor
    halfway: Tensor
    ungated: Tensor
    strength: Tensor | None = None
    blur: Tensor | None = None


HALO = 7
"""Rows (and columns) of context one output pixel of DCE-Net depends on: seven 3x3 convolutions."""


class _CurveEnhancer(nn.Module):
    """Shared forward logic: estimate curves, then apply them in the input's dtype."""

    differentiable = True
    n_iter: int
    width: int
    shared_curve: bool
    band_rows: int | None = None  # CPU inference in row bands of this height (see _forward_banded); None: see band_pixels
    band_pixels: int | None = None  # else bands of about this many pixels once an image has more; None: one pass
    # CPU inference of a batch image by image (measured, 2 cores, 8 x 480x640: Zero-DCE 58.9 vs 64.4 ms per image
    # as one batch); Zero-DCE++ applies its curves faster on the whole batch in thin bands (5.0 vs 5.8 ms)
    per_image_inference: bool = True
    gate: nn.Module | None  # strength gate (``adaptive``, enhancers/gate.py); None: full curves (no class default:
    # nn.Module keeps submodules in _modules, which a class attribute would shadow)
    denoiser: DenoiseStage | None  # learned denoising stage before the curves (``denoise``, enhancers/denoise.py)
    conv1: nn.Module
    conv2: nn.Module
    conv3: nn.Module
    conv4: nn.Module
    conv5: nn.Module
    conv6: nn.Module
    conv7: nn.Module

    def estimate_curves(self, img: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dce_net(self, x: Tensor) -> Tensor:
        """DCE-Net: 7 convolutions with symmetric skip concatenations conv5(f3,f4), conv6(f2,f5),
        conv7(f1,f6), ReLU inside and tanh on the α maps."""
        f1 = F.relu(self.conv1(x))
        f2 = F.relu(self.conv2(f1))
        f3 = F.relu(self.conv3(f2))
        f4 = F.relu(self.conv4(f3))
        f5 = F.relu(self.conv5(torch.cat([f3, f4], 1)))
        f6 = F.relu(self.conv6(torch.cat([f2, f5], 1)))
        return torch.tanh(self.conv7(torch.cat([f1, f6], 1)))

    def _param_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _curves_for(self, img: Tensor) -> Tensor:
        _check_image(img)
        return self.estimate_curves(img.to(self._param_dtype())).to(img.dtype).contiguous()

    @staticmethod
    def _conv_layout(x: Tensor) -> Tensor:
        """DCE-Net's input layout: channels-last on CPU, where oneDNN convolutions run ~1.3-2x faster on it
        (same maths; parity-tested); as is elsewhere."""
        return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x

    @property
    def adaptive(self) -> bool | str:
        """False without a gate; True for a learned per-image strength, ``"spatial"`` for a strength map (see
        :mod:`lowlight_det.enhancers.gate`): the value ``adaptive=`` takes to rebuild the same model."""
        if self.gate is None:
            return False
        return "spatial" if getattr(self.gate, "spatial", False) else True

    @property
    def denoise(self) -> bool | int:
        """False without a denoising stage before the curves, True with one, 2 with a two-scale one (see
        :mod:`lowlight_det.enhancers.denoise`): the value ``denoise=`` takes to rebuild the same model."""
        if self.denoiser is None:
            return False
        return True if self.denoiser.scales == 1 else self.denoiser.scales

    def _denoised(self, img: Tensor) -> Tensor:
        _check_image(img)
        return img if self.denoiser is None else self.denoiser(img)

    def _gated(self, img: Tensor, curves: Tensor, strength: Tensor | None = None) -> Tensor:
        if self.gate is None:
            return curves
        if strength is None:
            strength = self.gate(img)
        return curves * upsample_strength(strength, curves.shape[2], curves.shape[3]).to(curves.dtype)

    def _inference_strength(self, img: Tensor) -> Tensor | UpsampledRows | None:
        """The gate's strength for inference: per image, or a low-resolution map upsampled band by band."""
        if self.gate is None:
            return None
        strength = self.gate(img)
        if strength.shape[-2:] == (1, 1) or strength.shape[-2:] == img.shape[-2:]:
            return strength
        return UpsampledRows(strength, img.shape[2], img.shape[3])

    def forward(self, img: Tensor) -> Tensor:
        """Enhance ``img`` (B, 3, H, W) RGB in [0, 1]; returns the same shape, dtype and device."""
        img = self._denoised(img)
        if (torch.is_grad_enabled() and (img.requires_grad or any(p.requires_grad for p in self.parameters()))) \
                or torch.jit.is_tracing():
            return apply_curves(img, self._gated(img, self._curves_for(img)), self.n_iter if self.shared_curve else None)
        _check_image(img)
        if self.per_image_inference:  # on CPU one image at a time: no batch-sized full-resolution activations
            return image_by_image(self._infer_into, img)
        # the denoised image is our own copy: the curves go into it (their maps and strength are computed first)
        out = img if self.denoiser is not None and not self._banded(img) and img.is_contiguous() \
            else torch.empty_like(img, memory_format=torch.contiguous_format)
        self._infer_into(img, out)
        return out

    def _infer_into(self, img: Tensor, out: Tensor) -> None:
        """Inference: the same numbers, the gate's strength applied band by band, one pass over memory."""
        if self._banded(img):
            self._forward_banded(img, out)
            return
        apply_curves_inplace(img, self._inference_curves(img), self.n_iter if self.shared_curve else None,
                             scale=self._inference_strength(img), out=out)

    def _inference_curves(self, img: Tensor) -> Tensor | UpsampledRows:
        return self._curves_for(img)

    def _banded(self, img: Tensor) -> bool:
        return self._band_height(img) is not None

    def _band_height(self, img: Tensor) -> int | None:
        """The rows per band for CPU inference of ``img``, or None for one pass: ``band_rows`` when set (for images
        taller than two bands), else, for images of more than ``band_pixels`` pixels, the fewest bands of equal
        height that each hold at most that many."""
        if (img.device.type != "cpu" or torch.is_grad_enabled() or torch.jit.is_tracing() or img.ndim != 4):
            return None
        height = img.shape[2]
        if self.band_rows is not None:
            return self.band_rows if height > 2 * self.band_rows else None
        if self.band_pixels is None or height * img.shape[3] <= self.band_pixels:
            return None
        bands = -(-height // max(1, self.band_pixels // img.shape[3]))  # fewest bands of at most band_pixels
        rows = -(-height // bands)  # equal heights: never taller than the limit
        return rows if rows > 2 * HALO else None

    def _forward_banded(self, img: Tensor, out: Tensor) -> Tensor:
        """Exact full-resolution inference in row bands (CPU): each band is computed with a halo of
        ``HALO`` rows, the reach of DCE-Net's seven 3x3 convolutions, so every kept row sees the same
        neighbourhood as in one pass (the same output to float rounding), while only a band's 32-channel
        activations are held: the memory of a large image's pass is bounded by the band's size. Thin bands are
        not faster (benchmarks/zerodce_layouts.py: bands of 64 rows cost 1.2-1.3x one pass at 640x640 and 1280x720
        on an AVX-512 EPYC, 1.0x on the Intel CPU of session 5), so the default bands are large."""
        _check_image(img)
        rows = self._band_height(img)
        assert rows is not None
        x = img.to(self._param_dtype())
        strength = self._inference_strength(img)  # from the whole image (a map: its rows follow the bands)
        height = img.shape[2]
        for y0 in range(0, height, rows):
            y1 = min(y0 + rows, height)
            a, b = max(0, y0 - HALO), min(height, y1 + HALO)
            curves = self.estimate_curves(x[:, :, a:b])[:, :, y0 - a:y1 - a].to(img.dtype)
            out[:, :, y0:y1] = apply_curves_inplace(img[:, :, y0:y1], curves, self.n_iter if self.shared_curve else None,
                                                    scale=None if strength is None else map_rows(strength, y0, y1))
        return out

    def forward_curves(self, img: Tensor) -> CurveOutput:
        """Enhance and also return the curve maps, the half-way image and the strength (for the losses); with a
        denoising stage, all of them are of the denoised image."""
        _check_image(img)
        img, blur = self.denoiser.with_map(img) if self.denoiser is not None else (img, None)
        curves = self._curves_for(img)
        maps = curves.split(3, dim=1) if not self.shared_curve else (curves,) * self.n_iter
        half = self.n_iter // 2
        halfway = apply_curves(img, torch.cat(maps[:half], dim=1))
        ungated = apply_curves(halfway, torch.cat(maps[half:], dim=1))
        if self.gate is None:
            return CurveOutput(ungated, curves, halfway, ungated, blur=blur)
        strength = self.gate(img)
        image = apply_curves(img, self._gated(img, curves, strength), self.n_iter if self.shared_curve else None)
        return CurveOutput(image, curves, halfway, ungated, strength, blur)


def _check_image(img: Tensor) -> None:
    if img.ndim != 4 or img.shape[1] != 3:
        raise ValueError(f"expected RGB images of shape (B, 3, H, W), got {tuple(img.shape)}")
    if not img.is_floating_point():
        raise TypeError(f"expected a float tensor in [0, 1], got {img.dtype}")


class ZeroDCE(_CurveEnhancer):
    """Zero-DCE curve estimator (DCE-Net, Guo et al., CVPR 2020); 79,416 parameters at width 32.

    Seven 3x3 convolutions with symmetric skip concatenations; the last one outputs ``3·n_iter``
    α maps through tanh, applied as ``n_iter`` iterations of LE(x) = x + α·(x² − x). With
    ``adaptive=True`` a learned per-image strength in (0, 1) scales the α maps
    (:class:`~lowlight_det.enhancers.gate.StrengthGate`, 57 more parameters); ``adaptive="spatial"`` a learned
    low-resolution strength map (:class:`~lowlight_det.enhancers.gate.SpatialStrengthGate`, 681).

    Shape: input (B, 3, H, W) float RGB in [0, 1]; output the same shape, dtype and device.

    Example:
        >>> model = ZeroDCE()
        >>> sum(p.numel() for p in model.parameters())
        79416
        >>> model(torch.rand(2, 3, 17, 23)).shape
        torch.Size([2, 3, 17, 23])
    """

    shared_curve = False
    # CPU inference in one pass up to 2^20 pixels (1280x720 is 0.92 MP), in exact row bands above that (see
    # _forward_banded): the bands bound the memory of the 32-channel activations, and one pass was the faster on
    # every CPU measured (benchmarks/zerodce_layouts.py: bands of 64 rows cost 1.2-1.3x on an AVX-512 EPYC)
    band_pixels: int | None = 1 << 20

    def __init__(self, *, width: int = 32, n_iter: int = 8, adaptive: bool | str = False, denoise: bool | int = False) -> None:
        super().__init__()
        self.n_iter = n_iter
        self.width = width
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, width, 3, padding=1)
        self.conv4 = nn.Conv2d(width, width, 3, padding=1)
        self.conv5 = nn.Conv2d(2 * width, width, 3, padding=1)
        self.conv6 = nn.Conv2d(2 * width, width, 3, padding=1)
        self.conv7 = nn.Conv2d(2 * width, 3 * n_iter, 3, padding=1)
        _init_weights(self)
        self.gate = make_gate(adaptive)
        self.denoiser = make_denoiser(denoise)

    def estimate_curves(self, img: Tensor) -> Tensor:
        """α maps (B, 3·n_iter, H, W) in [-1, 1] for RGB ``img`` (B, 3, H, W)."""
        return self._dce_net(self._conv_layout(img))


class SeparableConv(nn.Module):
    """Depthwise 3x3 convolution followed by a pointwise 1x1 convolution."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class ZeroDCEPP(_CurveEnhancer):
    """Zero-DCE++ (Li, Guo & Loy, TPAMI 2021); 10,561 parameters at width 32.

    Depthwise-separable convolutions estimate one 3-channel α map on the input downscaled by
    ``scale_factor`` (bilinear); the map is upsampled back to the exact input size
    (bilinear, ``align_corners=True``) and reused for ``n_iter`` iterations at full resolution.
    ``adaptive`` adds a strength gate (per image, or ``"spatial"``), as for :class:`ZeroDCE`.
    Any H x W works; the output has exactly the input size.

    Shape: input (B, 3, H, W) float RGB in [0, 1]; output the same shape, dtype and device.

    Example:
        >>> model = ZeroDCEPP(scale_factor=12)
        >>> sum(p.numel() for p in model.parameters())
        10561
        >>> model(torch.rand(1, 3, 17, 23)).shape
        torch.Size([1, 3, 17, 23])
    """

    shared_curve = True
    per_image_inference = False

    def __init__(self, *, width: int = 32, n_iter: int = 8, scale_factor: float = 12,
                 adaptive: bool | str = False, denoise: bool | int = False) -> None:
        super().__init__()
        if scale_factor < 1:
            raise ValueError(f"scale_factor must be >= 1, got {scale_factor}")
        self.n_iter = n_iter
        self.width = width
        self.scale_factor = scale_factor
        self.conv1 = SeparableConv(3, width)
        self.conv2 = SeparableConv(width, width)
        self.conv3 = SeparableConv(width, width)
        self.conv4 = SeparableConv(width, width)
        self.conv5 = SeparableConv(2 * width, width)
        self.conv6 = SeparableConv(2 * width, width)
        self.conv7 = SeparableConv(2 * width, 3)
        _init_weights(self)
        self.gate = make_gate(adaptive)
        self.denoiser = make_denoiser(denoise)

    def estimate_curves(self, img: Tensor) -> Tensor:
        """One α map (B, 3, H, W) in [-1, 1], estimated at 1/``scale_factor`` resolution."""
        size = img.shape[-2:]
        curves = self.low_res_curves(img)
        if curves.shape[-2:] != size:
            curves = F.interpolate(curves, size=size, mode="bilinear", align_corners=True)
        return curves

    def low_res_curves(self, img: Tensor) -> Tensor:
        """The α map at 1/``scale_factor`` resolution, before it is upsampled (B, 3, h, w), NCHW."""
        size = img.shape[-2:]
        low = img
        if self.scale_factor != 1:
            low_size = (low_res_size(size[0], self.scale_factor), low_res_size(size[1], self.scale_factor))
            if _inference_on_cpu(img):  # the same values without F.interpolate's copy of the whole image
                low = downsample_bilinear(img, *cast(tuple[int, int], low_size))
            else:
                low = F.interpolate(img, size=cast(Any, low_size), mode="bilinear", align_corners=False)  # traced
        return self._dce_net(self._conv_layout(low)).contiguous()

    def _inference_curves(self, img: Tensor) -> Tensor | UpsampledRows:
        """Inference: the low-resolution map, upsampled band by band while the curves are applied (no full-size
        copy; within 2e-7 of upsampling it whole)."""
        _check_image(img)
        low = self.low_res_curves(img.to(self._param_dtype())).to(img.dtype)
        if low.shape[-2:] == img.shape[-2:]:
            return low
        return UpsampledRows(low, img.shape[2], img.shape[3])


def _inference_on_cpu(img: Tensor) -> bool:
    return (img.device.type == "cpu" and not torch.jit.is_tracing()
            and not (torch.is_grad_enabled() and img.requires_grad))


def low_res_size(n: int | Tensor, scale: float) -> int | Tensor:
    """``n / scale`` rounded half up, at least 1; also works on traced sizes (ONNX export with dynamic axes)."""
    q = (n * 2 + scale) // (2 * scale)
    if isinstance(q, Tensor):
        return q.to(torch.int64).clamp(min=1)
    return max(1, int(q))


def _init_weights(model: nn.Module) -> None:
    """N(0, 0.02) conv weights, as in the paper's training; biases keep PyTorch's default
    U(±1/sqrt(fan_in)) init, which keeps the deep depthwise layers of Zero-DCE++ from starting dead."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
