"""Enhancers and their registry. Importing this module fills the registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import nn

from lowlight_det.enhancers.baselines import ClaheEnhancer, GammaEnhancer, IdentityEnhancer
from lowlight_det.enhancers.functional import apply_curves, clahe, gamma_correct
from lowlight_det.enhancers.gate import spatial_state_from_global
from lowlight_det.enhancers.registry import (
    EnhancerInfo,
    create_enhancer,
    enhancer_info,
    is_learned,
    list_enhancers,
    register_alias,
    register_enhancer,
)
from lowlight_det.enhancers.weights import (
    WeightsSpec,
    get_weights,
    list_weights,
    load_into,
    load_weights,
    merge_arch_kwargs,
    register_weights,
)
from lowlight_det.enhancers.zerodce import CurveOutput, ZeroDCE, ZeroDCEPP

__all__ = [
    "ClaheEnhancer", "CurveOutput", "EnhancerInfo", "GammaEnhancer", "IdentityEnhancer", "WeightsSpec", "ZeroDCE",
    "ZeroDCEPP", "apply_curves", "clahe", "create_enhancer", "enhancer_info", "gamma_correct", "get_weights",
    "is_learned", "list_enhancers", "list_weights", "register_alias", "register_enhancer", "register_weights",
]

_OFFICIAL_LICENSE = "authors' terms: non-commercial research use only; never shipped with lowlight_det"
register_weights(WeightsSpec(
    name="zerodce.official", arch="zerodce", filename="zerodce_official_Epoch99.pth",
    sha256="a4395acb874f320375d9704997cef874eaaaaa26a1777ceb29a92b70f74c3612",
    meta={"num_params": 79416, "source": "Li-Chongyi/Zero-DCE, snapshots/Epoch99.pth",
          "license": _OFFICIAL_LICENSE,
          "download": "Get Epoch99.pth from the authors' Zero-DCE repository and save it under that name."}))
register_weights(WeightsSpec(
    name="zerodce++.official", arch="zerodce++", filename="zerodcepp_official_Epoch99.pth",
    sha256="ca8855b90df9a80fa4195a831f33d3476b1964f787eb70602797c773067f3b84",
    meta={"num_params": 10561, "source": "Li-Chongyi/Zero-DCE_extension, Zero-DCE++/snapshots_Zero_DCE++/Epoch99.pth",
          "license": _OFFICIAL_LICENSE, "trained_scale_factor": 1,
          "download": "Get Epoch99.pth from the authors' Zero-DCE_extension repository and save it under that name."}))

from lowlight_det.enhancers import shipped as _shipped  # noqa: E402,F401  (registers our own weights)


def _build(model_cls: type[nn.Module], arch: str, weights: str | Path | None, kwargs: dict[str, Any]) -> nn.Module:
    kwargs = {k: v for k, v in kwargs.items() if v is not None}  # None: as the weights say
    if weights is None:
        return model_cls(**kwargs)
    loaded = load_weights(arch, weights)
    if kwargs.get("adaptive") == "spatial" and loaded.arch_kwargs.get("adaptive") in (True, "global"):
        # a per-image gate becomes the strength map that computes the same (for tuning a spatial strength from it)
        loaded = dataclasses.replace(loaded, state_dict=spatial_state_from_global(loaded.state_dict),
                                     arch_kwargs={**loaded.arch_kwargs, "adaptive": "spatial"})
    arch_kwargs = merge_arch_kwargs(loaded.arch_kwargs, kwargs, f"weights {loaded.source}")
    # a strength gate or denoising stage added to weights that have none starts at its init (for fine-tuning)
    added = ("gate.",) * bool(arch_kwargs.get("adaptive")) + ("denoiser.",) * bool(arch_kwargs.get("denoise"))
    model = load_into(model_cls(**arch_kwargs), loaded, may_lack=added)
    model.weights_source = loaded.source  # type: ignore[assignment]
    model.weights_sha256 = loaded.sha256  # type: ignore[assignment]
    model.data_terms = loaded.meta.get("data_terms")  # type: ignore[assignment]  # e.g. ExDark's, when tuned on it
    return model


@register_enhancer("zerodce", learned=True, trainable=True)
def zerodce(*, weights: str | Path | None = "default", width: int = 32, n_iter: int = 8,
            adaptive: bool | str | None = None, denoise: bool | int | None = None) -> ZeroDCE:
    """Zero-DCE; ``weights``: ``"default"`` (our SICE-trained weights), a weights id, a path, or None.

    ``adaptive``: with a learned strength gate, per image (True) or a low-resolution map (``"spatial"``); None:
    as the weights say; a gate asked for on weights without one is added at its init, and ``"spatial"`` on
    weights with a per-image gate starts as the map that computes the same strength (for fine-tuning).
    ``denoise``: with a learned denoising stage before the curves (enhancers/denoise.py), 2 for its two-scale form;
    None: as the weights say.
    """
    return _build(ZeroDCE, "zerodce", weights,  # type: ignore[return-value]
                  {"width": width, "n_iter": n_iter, "adaptive": adaptive, "denoise": denoise})


@register_enhancer("zerodce++", learned=True, trainable=True)
def zerodce_pp(*, weights: str | Path | None = "default", width: int = 32, n_iter: int = 8,
               scale_factor: float = 12, adaptive: bool | str | None = None, denoise: bool | int | None = None) -> ZeroDCEPP:
    """Zero-DCE++ with curves estimated at 1/``scale_factor`` resolution; ``weights``, ``adaptive`` and ``denoise``
    as for zerodce."""
    model = _build(ZeroDCEPP, "zerodce++", weights,
                   {"width": width, "n_iter": n_iter, "adaptive": adaptive, "denoise": denoise})
    assert isinstance(model, ZeroDCEPP)
    model.scale_factor = scale_factor  # an inference-time choice, not part of the weights
    return model


def _no_weights(name: str, weights: str | Path | None) -> None:
    if weights not in (None, "default"):
        raise ValueError(f"enhancer {name!r} has no weights, got weights={weights!r}")


@register_enhancer("gamma")
def gamma(*, weights: str | Path | None = None, gamma: float = 0.5) -> GammaEnhancer:
    """Global gamma curve (``gamma < 1`` brightens)."""
    _no_weights("gamma", weights)
    return GammaEnhancer(gamma=gamma)


@register_enhancer("clahe")
def clahe_enhancer(*, weights: str | Path | None = None, clip_limit: float = 2.0, tile_grid: int = 8) -> ClaheEnhancer:
    """OpenCV CLAHE on lightness."""
    _no_weights("clahe", weights)
    return ClaheEnhancer(clip_limit=clip_limit, tile_grid=tile_grid)


@register_enhancer("none")
def identity(*, weights: str | Path | None = None) -> IdentityEnhancer:
    """No enhancement."""
    _no_weights("none", weights)
    return IdentityEnhancer()


# the detection-tuned weights under the names users and scripts know: each is an architecture plus a weights id
register_alias("zerodce-det", arch="zerodce", weights="zerodce.det-yolo11n")
register_alias("zerodce++-det", arch="zerodce++", weights="zerodce++.det-yolo11n-dnbt")  # session 15: -dnb + teacher
register_alias("zerodce++-det-dark", arch="zerodce++", weights="zerodce++.det-yolo11n-dark")
register_alias("zerodce++-det-free", arch="zerodce++", weights="zerodce++.det-yolo11n-free")  # no label, SICE's terms
