"""Frozen dataclass configs, loaded from YAML with CLI overrides (defaults < YAML < flags)."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass(frozen=True)
class ZeroReferenceWeights:
    """Loss weights of the paper; smoothness is 1600 for zerodce++."""

    spatial: float = 1.0
    exposure: float = 10.0
    color: float = 5.0
    smoothness: float = 200.0


@dataclass(frozen=True)
class TrainConfig:
    """Zero-reference training of a curve enhancer (paper recipe by default)."""

    enhancer: str = "zerodce"
    data: str = "sice_part1"        # key in datasets.yaml, or a folder of images
    data_root: str | None = None    # overrides $LOWLIGHT_DET_DATA
    image_size: int = 256
    batch_size: int = 8
    epochs: int = 100
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    scale_factor: float = 1.0       # zerodce++ only: curve-estimation downscale while training
    init_weights: str | None = None
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    threads: int | None = None
    out: str = "runs/train"
    loss: ZeroReferenceWeights = field(default_factory=ZeroReferenceWeights)


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(names)}"
            raise ValueError(f"{where}: unknown key {key!r}{hint}")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a (nested) mapping; unknown keys raise with a suggestion."""
    _check_keys(cls, data, where)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if dataclasses.is_dataclass(default) and isinstance(value, Mapping):
            value = from_dict(type(default), value, f"{where}.{f.name}")
        kwargs[f.name] = value
    return cls(**kwargs)


def load_config(cls: type[T], path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> T:
    """Defaults < YAML file < ``overrides`` (None values in ``overrides`` are ignored).

    Example:
        >>> load_config(TrainConfig, overrides={"epochs": 3}).epochs
        3
    """
    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, Mapping):
            raise ValueError(f"{path}: expected a mapping of config keys")
        data.update(loaded)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
            value = {**data[key], **value}
        data[key] = value
    return from_dict(cls, data, str(path) if path else "config")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-dict view of a config (for YAML, JSON and checkpoint metadata)."""
    return dataclasses.asdict(cfg)


@dataclass(frozen=True)
class FinetuneConfig:
    """Detection-aware fine-tuning of an enhancer through a frozen detector."""

    detector: str = ""              # local YOLO .pt (frozen)
    data: str = "exdark"
    data_root: str | None = None
    split: str = "train"
    val_split: str | None = "val"   # None: hold out val_fraction of the training split
    val_fraction: float = 0.2
    enhancer: str = "zerodce"
    init_weights: str | None = "default"
    adaptive: bool = False          # add a learned per-image strength gate (enhancers/gate.py)
    gate_lr: float = 5e-3           # Adam learning rate of the gate's 57 parameters
    epochs: int = 10
    batch_size: int = 8
    imgsz: int = 640
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    w_det: float = 1.0
    w_ref: float = 1.0
    class_map: str = "auto"
    patience: int = 3
    limit: int | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True                # CUDA only
    workers: int = 0
    threads: int | None = None
    out: str = "runs/finetune"
    loss: ZeroReferenceWeights = field(default_factory=ZeroReferenceWeights)
