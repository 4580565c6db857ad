"""Physically based low-light synthesis ("unprocess, darken, add sensor noise, reprocess").

After Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019), with the
low-light ranges used by MAET (Cui et al., ICCV 2021): sRGB is mapped back to linear camera space
(inverse tone curve, inverse gamma, inverse white balance), the exposure is scaled down, shot
(signal-dependent) and read (Gaussian) noise are added, the signal is quantised like an ADC, and the
image is processed back to sRGB. Every image gets its own parameters from a seeded generator, so a
(seed, image index) pair always gives the same dark image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class DarkenRanges:
    """Sampling ranges (published defaults). Darkness and shot noise are drawn on a log scale (so very
    dark exposures are as common as mild ones), read noise is tied to shot noise."""

    darkness: tuple[float, float] = (0.01, 0.4)
    gamma: tuple[float, float] = (2.0, 3.5)
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    shot_noise: tuple[float, float] = (1e-4, 0.012)
    read_noise_slope: float = 2.18      # log(read) = slope·log(shot) + intercept + N(0, std)
    read_noise_intercept: float = 1.20
    read_noise_std: float = 0.26
    bits: int = 12                      # ADC quantisation of the linear signal


class DarkenParams(NamedTuple):
    """Per-image parameters, each a (B,) float tensor."""

    darkness: Tensor
    gamma: Tensor
    red_gain: Tensor
    blue_gain: Tensor
    shot_noise: Tensor
    read_noise: Tensor


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)


def sample_params(n: int, ranges: DarkenRanges, generator: torch.Generator) -> DarkenParams:
    """Draw ``n`` parameter sets (float64, CPU) from ``ranges``."""
    log_shot = _uniform(n, math.log(ranges.shot_noise[0]), math.log(ranges.shot_noise[1]), generator)
    log_read = (ranges.read_noise_slope * log_shot + ranges.read_noise_intercept
                + ranges.read_noise_std * torch.randn(n, generator=generator, dtype=torch.float64))
    log_dark = _uniform(n, math.log(ranges.darkness[0]), math.log(ranges.darkness[1]), generator)
    return DarkenParams(log_dark.exp(), _uniform(n, *ranges.gamma, generator),
                        _uniform(n, *ranges.red_gain, generator), _uniform(n, *ranges.blue_gain, generator),
                        log_shot.exp(), log_read.exp())


def darken(img: Tensor, params: DarkenParams, *, bits: int = 12, generator: torch.Generator | None = None,
           noise: Tensor | None = None) -> Tensor:
    """Darken sRGB images with given parameters.

    Args:
        img: RGB images (B, 3, H, W) in [0, 1], float.
        params: per-image parameters (tensors of shape (B,)).
        bits: ADC bit depth for the linear signal.
        generator: CPU generator for the noise (ignored when ``noise`` is given).
        noise: standard normal noise of ``img``'s shape (for reproducibility across devices).

    Returns:
        Dark sRGB images, same shape, dtype and device, in [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> img = torch.full((1, 3, 8, 8), 0.5)
        >>> out = darken(img, sample_params(1, DarkenRanges(), g), generator=g)
        >>> bool(out.mean() < img.mean())
        True
    """
    b = img.shape[0]
    dtype = img.dtype
    x = img.float().clamp(0, 1)
    view = lambda t: t.to(x.device, torch.float32).view(b, 1, 1, 1)  # noqa: E731
    gains = torch.stack([params.red_gain, torch.ones_like(params.red_gain), params.blue_gain], 1)
    gains = gains.to(x.device, torch.float32).view(b, 3, 1, 1)
    gamma = view(params.gamma)
    # sRGB -> linear camera space
    x = 0.5 - torch.sin(torch.asin((1.0 - 2.0 * x).clamp(-1, 1)) / 3.0)   # inverse smoothstep tone curve
    x = x.clamp_min(1e-8) ** gamma                                          # inverse gamma
    x = x / gains                                                           # inverse white balance
    x = x * view(params.darkness)                                           # lower the exposure
    if noise is None:
        noise = torch.randn(x.shape, generator=generator).to(x.device)
    variance = x * view(params.shot_noise) + view(params.read_noise)
    x = x + variance.sqrt() * noise
    levels = 2**bits - 1
    x = torch.round(x.clamp(0, 1) * levels) / levels                       # ADC quantisation
    # linear -> sRGB
    x = (x * gains).clamp(0, 1) ** (1.0 / gamma)
    x = 3 * x**2 - 2 * x**3
    return x.clamp(0, 1).to(dtype)


def image_generator(seed: int, index: int) -> torch.Generator:
    """The generator that makes image ``index`` of a run seeded with ``seed`` reproducible."""
    return torch.Generator().manual_seed((seed * 1_000_003 + index) % 2**63)


def darken_array(rgb: np.ndarray, *, seed: int = 0, index: int = 0, ranges: DarkenRanges | None = None) -> np.ndarray:
    """Darken one HWC uint8 RGB (or BGR, the maths is per channel symmetric except white balance) image.

    Args:
        rgb: (H, W, 3) uint8 RGB.
        seed, index: reproducibility key.
        ranges: sampling ranges (defaults: :class:`DarkenRanges`).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    ranges = ranges or DarkenRanges()
    g = image_generator(seed, index)
    params = sample_params(1, ranges, g)
    img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255
    out = darken(img, params, bits=ranges.bits, generator=g)
    return (out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


class LowLightSynthesis(nn.Module):
    """Torch transform: darken (B, 3, H, W) or (3, H, W) float RGB in [0, 1]; photometric only.

    Each call draws fresh parameters from its own generator (seeded once at construction). Inside a
    DataLoader worker the generator is re-seeded from ``(seed, the worker's seed)``, so workers draw
    different streams (the worker seed is derived from the DataLoader's generator: seed that for
    reproducible epochs).

    Example:
        >>> t = LowLightSynthesis(seed=0)
        >>> t(torch.rand(3, 16, 16)).shape
        torch.Size([3, 16, 16])
    """

    def __init__(self, ranges: DarkenRanges | None = None, *, seed: int = 0) -> None:
        super().__init__()
        self.ranges = ranges or DarkenRanges()
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._worker_seed: int | None = None

    def _stream(self) -> torch.Generator:
        info = torch.utils.data.get_worker_info()
        if info is not None and info.seed != self._worker_seed:  # a (new) worker: its own stream
            self._worker_seed = info.seed
            self.generator = torch.Generator().manual_seed((self.seed * 1_000_003 + info.seed) % 2**63)
        return self.generator

    def forward(self, img: Tensor) -> Tensor:
        batch = img.unsqueeze(0) if img.ndim == 3 else img
        generator = self._stream()
        params = sample_params(batch.shape[0], self.ranges, generator)
        out = darken(batch, params, bits=self.ranges.bits, generator=generator)
        return out.squeeze(0) if img.ndim == 3 else out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.ranges).items())


@dataclass(frozen=True)
class SensorModel:
    """The fixed camera of the darkness sweep: one documented sensor, so only the exposure changes.

    Unprocessing uses fixed values inside :class:`DarkenRanges` (inverse gamma 2.2, red gain 2.15, blue gain
    1.7); the noise is about the median of its shot-noise range (log scale), with read noise from Brooks et
    al.'s log-linear relation and no random residual: ``variance = shot · x + read`` on the linear signal
    ``x`` in [0, 1] after the exposure is lowered, so relative noise grows as the image gets darker, as on a
    real sensor at a fixed ISO.
    """

    gamma: float = 2.2
    red_gain: float = 2.15
    blue_gain: float = 1.7
    shot_noise: float = 1e-3
    read_noise: float = math.exp(2.18 * math.log(1e-3) + 1.20)  # 9.6e-7, from the shot noise (Brooks et al.)
    bits: int = 12

    @classmethod
    def with_noise(cls, shot_noise: float) -> SensorModel:
        """The same sensor at another gain (ISO): ``shot_noise`` and the read noise that goes with it.

        Example:
            >>> round(SensorModel.with_noise(1e-2).read_noise, 7)
            0.0001449
        """
        if not 0 < shot_noise < 1:
            raise ValueError(f"shot noise must be in (0, 1), got {shot_noise}")
        return cls(shot_noise=shot_noise, read_noise=math.exp(2.18 * math.log(shot_noise) + 1.20))


def darken_stops(rgb: np.ndarray, stops: float, *, seed: int = 0, index: int = 0,
                 sensor: SensorModel | None = None) -> np.ndarray:
    """The same scene captured ``stops`` EV darker by a fixed sensor (:class:`SensorModel`): the linear
    exposure is divided by ``2 ** stops``, then shot and read noise are added and the signal is quantised.

    Deterministic per (seed, index, stops); geometry and size unchanged, so boxes stay valid.

    Args:
        rgb: (H, W, 3) uint8 RGB.
        stops: exposure reduction in EV (> 0; 1 stop halves the light).
        seed, index: reproducibility key (e.g. the evaluation seed and the image id).
        sensor: the camera (default :class:`SensorModel`).

    Returns:
        (H, W, 3) uint8 RGB.

    Example:
        >>> img = np.full((8, 8, 3), 128, np.uint8)
        >>> a, b = darken_stops(img, 3, index=1), darken_stops(img, 3, index=1)
        >>> bool((a == b).all() and a.mean() < darken_stops(img, 1, index=1).mean() < 128)
        True
    """
    if stops <= 0:
        raise ValueError(f"stops must be > 0, got {stops}")
    sensor = sensor or SensorModel()
    g = image_generator(seed * 1009 + round(stops * 1000), index)
    one = lambda v: torch.tensor([float(v)], dtype=torch.float64)  # noqa: E731
    params = DarkenParams(one(2.0 ** -stops), one(sensor.gamma), one(sensor.red_gain), one(sensor.blue_gain),
                          one(sensor.shot_noise), one(sensor.read_noise))
    img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255
    out = darken(img, params, bits=sensor.bits, generator=g)
    return (out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def darken_batch(img: Tensor, stops: Tensor, *, generator: torch.Generator, sensor: SensorModel | None = None) -> Tensor:
    """Torch version of :func:`darken_stops` for a batch: image ``i`` is ``stops[i]`` EV darker on the fixed
    sensor (0 leaves it untouched). Differentiable inputs are not needed: this makes training data.

    Args:
        img: (B, 3, H, W) RGB in [0, 1], any device.
        stops: (B,) EV per image (>= 0).
        generator: CPU generator for the noise (seed it per step for exact resumes).
        sensor: the camera (default :class:`SensorModel`).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> out = darken_batch(torch.full((2, 3, 4, 4), 0.5), torch.tensor([0.0, 3.0]), generator=g)
        >>> bool(out[0].eq(0.5).all()), bool(out[1].mean() < 0.25)
        (True, True)
    """
    sensor = sensor or SensorModel()
    n = img.shape[0]
    fixed = lambda v: torch.full((n,), float(v), dtype=torch.float64)  # noqa: E731
    params = DarkenParams(torch.pow(2.0, -stops.double().cpu()), fixed(sensor.gamma), fixed(sensor.red_gain),
                          fixed(sensor.blue_gain), fixed(sensor.shot_noise), fixed(sensor.read_noise))
    dark = darken(img, params, bits=sensor.bits, generator=generator)
    keep = (stops <= 0).to(img.device).view(n, 1, 1, 1)
    return torch.where(keep, img, dark)


def training_cameras(sensor: str) -> DarkenRanges | None:
    """The ``ranges`` of :func:`random_darkening` for a ``darken_sensor`` setting: None for ``"fixed"`` (the darkness
    sweep's :class:`SensorModel`), the published :class:`DarkenRanges` for ``"random"``."""
    if sensor not in ("fixed", "random"):
        raise ValueError(f"darken_sensor must be 'fixed' or 'random', got {sensor!r}")
    return DarkenRanges() if sensor == "random" else None


def random_darkening(img: Tensor, *, share: float, stops: tuple[float, float], generator: torch.Generator,
                     sensor: SensorModel | None = None, ranges: DarkenRanges | None = None) -> tuple[Tensor, Tensor]:
    """Darken a random ``share`` of the batch by a random number of stops, uniform in ``stops``: training data
    that reaches from the images as they are to very dark frames. Returns (images, stops per image; 0 = as is).

    The camera is ``sensor`` (default: the darkness sweep's fixed :class:`SensorModel`) or, with ``ranges``, a
    random one per image: tone curve, white balance, shot and read noise drawn from ``ranges``
    (:func:`sample_params`, e.g. :class:`DarkenRanges`' published ranges), so that what is learned does not
    depend on one sensor's noise; the exposure is still lowered by exactly the drawn stops.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> out, ev = random_darkening(torch.full((8, 3, 4, 4), 0.5), share=0.5, stops=(1, 6), generator=g)
        >>> bool(((ev == 0) | ((ev >= 1) & (ev <= 6))).all()), out.shape
        (True, torch.Size([8, 3, 4, 4]))
    """
    n = img.shape[0]
    chosen = torch.rand(n, generator=generator) < share
    ev = stops[0] + (stops[1] - stops[0]) * torch.rand(n, generator=generator)
    ev = torch.where(chosen, ev, torch.zeros_like(ev))
    if not bool(chosen.any()):
        return img, ev
    if ranges is None:
        return darken_batch(img, ev, generator=generator, sensor=sensor), ev
    params = sample_params(n, ranges, generator)._replace(darkness=torch.pow(2.0, -ev.double()))
    dark = darken(img, params, bits=ranges.bits, generator=generator)
    return torch.where(chosen.to(img.device).view(n, 1, 1, 1), dark, img), ev
