"""Enhancer registry: ``register_enhancer`` / ``create_enhancer`` / ``list_enhancers``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, Builder] = {}
_LEARNED: set[str] = set()


def register_enhancer(name: str, *, learned: bool = False) -> Callable[[Builder], Builder]:
    """Register an enhancer builder under ``name`` (what users type on the command line).

    ``learned``: the enhancer has trainable weights (a ``weights=`` id or file selects them; ONNX export).
    """

    def decorator(builder: Builder) -> Builder:
        if name in _BUILDERS:
            raise ValueError(f"enhancer {name!r} is already registered")
        _BUILDERS[name] = builder
        if learned:
            _LEARNED.add(name)
        return builder

    return decorator


def create_enhancer(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered enhancer.

    Args:
        name: registry key, e.g. ``"zerodce"``, ``"zerodce++"``, ``"gamma"``, ``"clahe"``, ``"none"``.
        **kwargs: forwarded to the builder (``weights=...`` and architecture options).

    Returns:
        The enhancer module (in train mode, as any freshly built ``nn.Module``).

    Raises:
        ValueError: if ``name`` is not registered.

    Example:
        >>> enhancer = create_enhancer("gamma", gamma=0.5)
        >>> type(enhancer).__name__
        'GammaEnhancer'
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown enhancer {name!r}; choose from {', '.join(list_enhancers())}")
    return _BUILDERS[name](**kwargs)


def list_enhancers(*, learned: bool | None = None) -> list[str]:
    """Names of the registered enhancers, sorted; ``learned=True`` / ``False`` keeps only those with / without
    trainable weights.

    Example:
        >>> "zerodce" in list_enhancers()
        True
        >>> "gamma" in list_enhancers(learned=True)
        False
    """
    return sorted(n for n in _BUILDERS if learned is None or (n in _LEARNED) == learned)


def is_learned(name: str) -> bool:
    """True for a registered enhancer with trainable weights."""
    return name in _LEARNED
