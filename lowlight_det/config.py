"""Frozen dataclass configs, loaded from YAML with CLI overrides (defaults < YAML < flags)."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

TRAINABLE = ("zerodce", "zerodce++")
"""Architectures the training entry points can train (weights ids like ``zerodce++-det`` are not)."""


def check_range(where: str, name: str, value: float | None, *, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> None:
    """Raise a ValueError naming ``where.name`` when ``value`` is outside [low, high] (or (low, high]).

    Example:
        >>> check_range("config", "lr", 1e38, low=0, high=1, low_open=True)
        Traceback (most recent call last):
        ...
        ValueError: config: lr must be in (0, 1], got 1e+38
    """
    if value is None:
        return
    bad = not math.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and value > high)
    if bad:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{where}: {name} must be in {'(' if low_open else '['}{lo}, {hi}], got {value:g}")


def _check_positive_ints(where: str, cfg: Any, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ValueError(f"{where}: {name} must be >= 1, got {value}")


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

    def __post_init__(self) -> None:
        where = "train config"
        if self.enhancer not in TRAINABLE:
            raise ValueError(f"{where}: enhancer must be an architecture that can be trained ({', '.join(TRAINABLE)}), "
                             f"got {self.enhancer!r} (weights such as zerodce++-det start a run with --init-weights)")
        _check_positive_ints(where, self, "image_size", "batch_size", "epochs", "threads")
        check_range(where, "lr", self.lr, low=0, high=1, low_open=True)
        check_range(where, "weight_decay", self.weight_decay, low=0, high=1)
        check_range(where, "grad_clip", self.grad_clip, low=0, low_open=True)
        check_range(where, "scale_factor", self.scale_factor, low=1, high=64)
        check_range(where, "workers", self.workers, low=0)


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` as the field type ``tp`` (int, float, bool, str, X | None, tuple[str, ...]), or a ValueError.

    YAML 1.1 reads ``1e-3`` (no dot) as a string: a string that parses as a number is accepted for floats.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, options[0], where) if len(options) == 1 else value
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError(f"{where} must be a list, got {value!r}")
        return tuple(str(v).strip() for v in items if str(v).strip())
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"{where} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if tp is str and not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {value!r}")
    return value


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
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            if not isinstance(value, Mapping):
                keys = ", ".join(x.name for x in dataclasses.fields(default))
                raise ValueError(f"{where}: {f.name} must be a mapping of {keys}")
            value = from_dict(type(default), value, f"{where}.{f.name}")
        else:
            value = _coerce(value, hints[f.name], f"{where}: {f.name}")
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a range check of the dataclass: say which file it came from
        raise ValueError(f"{where}: {exc}" if where != "config" else str(exc)) from None


PACKAGED_CONFIGS = Path(__file__).resolve().parent / "configs"
"""The shipped recipes (``configs/`` in a source checkout links here)."""


def resolve_config_path(path: str | Path) -> Path:
    """A config file path, or the name of a shipped config (``zerodce_sice`` or ``zerodce_sice.yaml``).

    Example:
        >>> resolve_config_path("zerodce_sice").name
        'zerodce_sice.yaml'
    """
    path = Path(path)
    if path.is_file():
        return path
    packaged = PACKAGED_CONFIGS / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    if path.parent == Path(".") or path.parent.name == "configs":
        if packaged.is_file():
            return packaged
    shipped = ", ".join(sorted(p.stem for p in PACKAGED_CONFIGS.glob("*.yaml")))
    raise FileNotFoundError(f"config file {path} does not exist (shipped configs: {shipped})")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file; errors name the file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid YAML, not text, or not a mapping.
    """
    path = resolve_config_path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (YAML config expected)") from None
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a mapping of config keys, got {type(loaded).__name__}")
    return dict(loaded)


def load_config(cls: type[T], path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> T:
    """Defaults < YAML file < ``overrides`` (None values in ``overrides`` are ignored).

    Example:
        >>> load_config(TrainConfig, overrides={"epochs": 3}).epochs
        3
    """
    data: dict[str, Any] = read_yaml_mapping(path) if path is not None else {}
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
    darken_share: float = 0.0       # share of training images darkened on the fly (data/synthesis.random_darkening)
    darken_ev_min: float = 1.0      # ... by a uniform random number of stops in [darken_ev_min, darken_ev_max]
    darken_ev_max: float = 6.0
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

    def __post_init__(self) -> None:
        where = "finetune config"
        if self.enhancer not in TRAINABLE:
            raise ValueError(f"{where}: enhancer must be one of {', '.join(TRAINABLE)}, got {self.enhancer!r} "
                             "(tuned weights such as zerodce++.det-yolo11n go in init_weights)")
        _check_positive_ints(where, self, "epochs", "batch_size", "imgsz", "patience", "limit", "threads")
        for name in ("lr", "gate_lr"):
            check_range(where, name, getattr(self, name), low=0, high=1, low_open=True)
        check_range(where, "val_fraction", self.val_fraction, low=0, high=1, low_open=True)
        check_range(where, "darken_share", self.darken_share, low=0, high=1)
        check_range(where, "darken_ev_min", self.darken_ev_min, low=0, high=16)
        check_range(where, "darken_ev_max", self.darken_ev_max, low=self.darken_ev_min, high=16)
        check_range(where, "weight_decay", self.weight_decay, low=0, high=1)
        check_range(where, "grad_clip", self.grad_clip, low=0, low_open=True)
        check_range(where, "w_det", self.w_det, low=0)
        check_range(where, "w_ref", self.w_ref, low=0)
        check_range(where, "workers", self.workers, low=0)


RESUMABLE_CHANGES = frozenset({"epochs", "out", "device", "threads", "workers", "data_root", "patience"})
"""Settings a resumed run may change; every other one must match the checkpoint's."""


def resume_config(cls: type[T], saved: Mapping[str, Any], path: str | Path | None = None,
                  overrides: Mapping[str, Any] | None = None, *, source: str = "checkpoint") -> T:
    """The config of a resumed run: the checkpoint's own settings, plus only the changes a resume allows.

    A resumed run continues exactly, so a setting given in ``path`` or ``overrides`` (None: not given) that
    differs from ``saved`` raises, unless it is in :data:`RESUMABLE_CHANGES` (e.g. more ``epochs``).

    Raises:
        ValueError: a changed setting, listing each with both values.

    Example:
        >>> saved = to_dict(TrainConfig(lr=1e-3))
        >>> resume_config(TrainConfig, saved, overrides={"epochs": 5}).lr
        0.001
        >>> resume_config(TrainConfig, saved, overrides={"lr": 1e-2})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: checkpoint: a resumed run continues with its own settings; these differ: lr 0.01 (checkpoint: 0.001)...
    """
    given = read_yaml_mapping(path) if path is not None else {}
    given.update({k: v for k, v in (overrides or {}).items() if v is not None})
    given = {k: {**saved[k], **v} if isinstance(v, Mapping) and isinstance(saved.get(k), Mapping) else v
             for k, v in given.items()}  # a nested section given in part keeps the checkpoint's other keys
    clean = from_dict(cls, given, "flags")  # type-checks the given values
    given = {k: getattr(clean, k) for k in given}
    given = {k: to_dict(v) if dataclasses.is_dataclass(v) else v for k, v in given.items()}
    changed = [f"{k} {given[k]!r} ({source}: {saved.get(k)!r})" for k in sorted(given)
               if k not in RESUMABLE_CHANGES and _normalise(given[k]) != _normalise(saved.get(k))]
    if changed:
        raise ValueError(f"{source}: a resumed run continues with its own settings; these differ: {', '.join(changed)}. "
                         "Start a new run (another --out) to change them.")
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return from_dict(cls, {**{k: v for k, v in saved.items() if k in known}, **given}, str(source))


def _normalise(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
