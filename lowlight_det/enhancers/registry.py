"""Enhancer registry: architectures (builders with what they can do) and aliases that name shipped weights.

``register_enhancer`` / ``create_enhancer`` / ``list_enhancers``, as torchvision's ``register_model`` and timm's
``create_model``. Weights live in their own registry (:mod:`lowlight_det.enhancers.weights`); an alias such as
``zerodce++-det`` is the architecture ``zerodce++`` with the weights ``zerodce++.det-yolo11n``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from torch import nn

Builder = Callable[..., nn.Module]


class EnhancerInfo(NamedTuple):
    """What the registry knows about a name.

    Attributes:
        name: what users type (``zerodce++``, ``zerodce++-det``, ``gamma``).
        builder: ``builder(*, weights=..., **arch_kwargs) -> nn.Module``.
        learned: has weights (a ``weights=`` id or file selects them; ONNX/TorchScript export).
        trainable: an architecture the training entry points can train (curve maps for the zero-reference losses).
        arch: the architecture behind an alias (itself for an architecture).
        weights: the weights id an alias stands for (None for an architecture: its default weights).
    """

    name: str
    builder: Builder
    learned: bool = False
    trainable: bool = False
    arch: str = ""
    weights: str | None = None


_REGISTRY: dict[str, EnhancerInfo] = {}


def register_enhancer(name: str, *, learned: bool = False, trainable: bool = False) -> Callable[[Builder], Builder]:
    """Register an architecture's builder under ``name`` (what users type on the command line).

    The builder takes ``(*, weights=..., **arch_kwargs)``: ``"default"`` is its shipped weights, a weights id or
    a path loads that file, ``None`` is a random init. That is all a new enhancer needs: the evaluator,
    transforms, enhance CLI and (with ``learned=True``) export pick it up from here.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"enhancer {name!r} is already registered")
        _REGISTRY[name] = EnhancerInfo(name, builder, learned, trainable, name)
        return builder

    return decorator


def register_alias(name: str, *, arch: str, weights: str) -> None:
    """``name`` builds ``arch`` with the weights ``weights`` by default (other weights may still be passed).

    Example:
        >>> create_enhancer("zerodce++-det").weights_source.endswith(".pt")
        True
    """
    if name in _REGISTRY:
        raise ValueError(f"enhancer {name!r} is already registered")
    base = enhancer_info(arch)

    def build(*, weights: Any = weights, **kwargs: Any) -> nn.Module:
        return base.builder(weights=weights if weights != "default" else alias_weights, **kwargs)

    alias_weights = weights
    _REGISTRY[name] = EnhancerInfo(name, build, base.learned, False, arch, weights)


def unregister_enhancer(name: str) -> None:
    """Remove ``name`` (and aliases built on it) from the registry, e.g. after a test registered a toy enhancer."""
    for other in [n for n, info in _REGISTRY.items() if n == name or info.arch == name]:
        del _REGISTRY[other]


def enhancer_info(name: str) -> EnhancerInfo:
    """The registry entry of ``name``.

    Raises:
        ValueError: not registered; lists the names that are.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown enhancer {name!r}; choose from {', '.join(list_enhancers())}")
    return _REGISTRY[name]


def create_enhancer(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered enhancer.

    Args:
        name: registry key, e.g. ``"zerodce"``, ``"zerodce++"``, ``"zerodce++-det"``, ``"gamma"``, ``"none"``.
        **kwargs: forwarded to the builder (``weights=...`` and architecture options).

    Returns:
        The enhancer module, in train mode with gradients on, as any freshly built ``nn.Module`` (timm and
        torchvision do the same); for inference call ``.eval()`` and run it under ``torch.inference_mode()``,
        or use :func:`lowlight_det.transforms.get_enhancer`.

    Raises:
        ValueError: if ``name`` is not registered.

    Example:
        >>> enhancer = create_enhancer("gamma", gamma=0.5)
        >>> type(enhancer).__name__
        'GammaEnhancer'
    """
    return enhancer_info(name).builder(**kwargs)


def list_enhancers(*, learned: bool | None = None, trainable: bool | None = None) -> list[str]:
    """Names of the registered enhancers (architectures and aliases), sorted; ``learned`` / ``trainable`` keep only
    those with (True) or without (False) that property.

    Example:
        >>> "zerodce" in list_enhancers()
        True
        >>> "gamma" in list_enhancers(learned=True), list_enhancers(trainable=True)
        (False, ['zerodce', 'zerodce++'])
    """
    return sorted(n for n, info in _REGISTRY.items()
                  if (learned is None or info.learned == learned) and (trainable is None or info.trainable == trainable))


def is_learned(name: str) -> bool:
    """True for a registered enhancer with weights."""
    return name in _REGISTRY and _REGISTRY[name].learned
