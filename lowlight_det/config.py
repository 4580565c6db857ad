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

from lowlight_det.enhancers import list_enhancers

T = TypeVar("T")

TRAINABLE = tuple(list_enhancers(trainable=True))
"""Architectures the training entry points can train (from the registry; aliases such as ``zerodce++-det`` are not)."""


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


def check_trainable(where: str, enhancer: str) -> None:
    """Training starts from an architecture; tuned weights (``zerodce++-det``) are a starting point, not one."""
    if enhancer not in TRAINABLE:
        raise ValueError(f"{where}: enhancer must be an architecture that can be trained ({', '.join(TRAINABLE)}), "
                         f"got {enhancer!r} (weights such as zerodce++-det go in init_weights / --init-weights)")


def setting(default: Any = dataclasses.MISSING, help: str = "", *, low: float | None = None,  # noqa: A002
            high: float | None = None, low_open: bool = False, flag: bool = True, aliases: tuple[str, ...] = (),
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A config field with what the CLI and the checks need: help text, allowed range, flag or YAML only.

    Flags are built from these fields (``lowlight_det.cli.add_config_arguments``) and :func:`validate` checks
    the ranges, so a setting is described once.
    """
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "flag": flag, "aliases": aliases}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def validate(cfg: Any, where: str) -> None:
    """Check every field of ``cfg`` against its :func:`setting` range."""
    for f in dataclasses.fields(cfg):
        m = f.metadata
        if m.get("low") is not None or m.get("high") is not None:
            check_range(where, f.name, getattr(cfg, f.name), low=m.get("low"), high=m.get("high"),
                        low_open=m.get("low_open", False))


@dataclass(frozen=True)
class ZeroReferenceWeights:
    """Loss weights of the paper; smoothness is 1600 for zerodce++."""

    spatial: float = 1.0
    exposure: float = 10.0
    color: float = 5.0
    smoothness: float = 200.0


@dataclass(frozen=True)
class RunSettings:
    """What every training run has: seed, where it runs, where it writes, the zero-reference loss weights."""

    seed: int = setting(0, "seed of the initialisation, the shuffles, the hold-out and the darkening")
    device: str = setting("auto", "auto (default), cpu, cuda, cuda:N")
    workers: int = setting(0, "DataLoader worker processes", low=0)
    threads: int | None = setting(None, "CPU threads for torch (default: all cores)", low=1)
    out: str = setting("runs", "output folder (checkpoints, logs)")
    keep_epochs: bool = setting(False, "also keep every epoch's weights (epoch_NNN.pt), to choose one afterwards")
    loss: ZeroReferenceWeights = setting(help="zero-reference loss weights (YAML only)", flag=False,
                                         default_factory=ZeroReferenceWeights)


@dataclass(frozen=True)
class TrainConfig(RunSettings):
    """Zero-reference training of a curve enhancer (paper recipe by default)."""

    enhancer: str = setting("zerodce", "architecture to train")
    data: str = setting("sice_part1", "dataset name in datasets.yaml, or a folder of images")
    data_root: str | None = setting(None, "folder holding the catalogued datasets (overrides $LOWLIGHT_DET_DATA)")
    imgsz: int = setting(256, "training crop size in pixels (square)", low=1, aliases=("--image-size",))
    batch_size: int = setting(8, "images per step", low=1)
    epochs: int = setting(100, "epochs (a resumed run may raise it)", low=1)
    lr: float = setting(1e-4, "Adam learning rate", low=0, high=1, low_open=True)
    weight_decay: float = setting(1e-4, "Adam weight decay", low=0, high=1)
    grad_clip: float = setting(0.1, "gradient-norm clip", low=0, low_open=True)
    scale_factor: float = setting(1.0, "zerodce++: curve-estimation downscale while training", low=1, high=64)
    init_weights: str | None = setting(None, "start from these weights (id or path) instead of random init")
    holdout: int = setting(0, "images left out of training (a seeded sample, listed in holdout.txt), for choosing "
                              "an epoch on photos the model has not seen", low=0)
    out: str = setting("runs/train", "output folder (checkpoints, logs)")

    def __post_init__(self) -> None:
        check_trainable("train config", self.enhancer)
        validate(self, "train config")


TRAIN_MODES = ("enhancer", "detector", "joint")
PRECISIONS = ("float32", "bfloat16")
GATES = ("global", "spatial")
SENSORS = ("fixed", "random")
"""What ``python -m lowlight_det.finetune --train`` fine-tunes."""

SAMPLES = ("stratified", "first")
"""How a ``limit`` picks images (``DetectionDataset.subset``)."""

LOSS_CLASSES = ("all", "labelled")
"""Which of the frozen detector's classes the labelled detection loss scores (``FinetuneConfig.loss_classes``)."""

RENAMED = {"image_size": "imgsz"}
"""Old config keys still read (YAML files and checkpoints written before a rename): old -> new."""


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` as the field type ``tp`` (int, float, bool, str, X | None, tuple[str, ...]), or a ValueError.

    YAML 1.1 reads ``1e-3`` (no dot) as a string: a string that parses as a number is accepted for floats.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            return None  # "none" on the command line turns an optional setting off
        return _coerce(value, options[0], where) if len(options) == 1 else value
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError(f"{where} must be a list, got {value!r}")
        item_type = typing.get_args(tp)[0]
        items = [v.strip() if isinstance(v, str) else v for v in items]
        return tuple(_coerce(v, item_type, where) for v in items if v != "")
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


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    names = _field_names(cls)
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(names)}"
            raise ValueError(f"{where}: unknown key {key!r}{hint}")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a (nested) mapping; unknown keys raise with a suggestion."""
    data = {RENAMED.get(k, k) if RENAMED.get(k) in _field_names(cls) else k: v for k, v in data.items()}
    _check_keys(cls, data, where)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
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
    """Plain-dict view of a config (for YAML, JSON and checkpoint metadata): its own fields first, then the
    inherited ones (``RunSettings``), so a config.yaml starts with what the run is about."""
    data = dataclasses.asdict(cfg)
    own = [k for k in type(cfg).__dict__.get("__annotations__", {}) if k in data]
    return {**{k: data[k] for k in own}, **data}


@dataclass(frozen=True)
class FinetuneConfig(RunSettings):
    """Detection-aware fine-tuning of an enhancer through a frozen detector."""

    train: str = setting("enhancer", "what learns: enhancer (through the frozen detector), detector (Ultralytics' "
                                     "training, behind the frozen enhancer; 'none' for the plain baseline) or joint")
    detector: str = setting("", "detector: local YOLO .pt (frozen with --train enhancer; with BatchNorm for training "
                                "it)")
    data: str = setting("exdark", "dataset name in datasets.yaml, a data.yaml or an ExDark folder")
    data_root: str | None = setting(None, "folder of catalogued datasets (overrides $LOWLIGHT_DET_DATA)")
    split: str = setting("train", "training split")
    val_split: str | None = setting("val", "validation split; 'none' holds out --val-fraction of the training split")
    val_fraction: float = setting(0.2, "hold-out share when --val-split none", low=0, high=1, low_open=True)
    enhancer: str = setting("zerodce", "architecture to tune")
    init_weights: str | None = setting("default", "start from these enhancer weights (default: shipped)")
    adaptive: bool = setting(False, "learn a strength gate on the curves (enhancers/gate.py)")
    gate: str = setting("global", "with --adaptive: 'global' (one strength per image) or 'spatial' (a low-resolution "
                                  "strength map: dark regions lifted, lit ones kept)")
    gate_lr: float = setting(5e-3, "Adam learning rate of the strength gate", low=0, high=1, low_open=True)
    darken_share: float = setting(0.0, "share of training images darkened on the fly by a random number of stops",
                                  low=0, high=1)
    darken_ev_min: float = setting(1.0, "fewest stops of that darkening", low=0, high=16)
    darken_ev_max: float = setting(6.0, "most stops of that darkening", low=0, high=16)
    darken_sensor: str = setting("fixed", "camera of that darkening: 'fixed' (the darkness sweep's sensor, shot noise "
                                          "1e-3) or 'random' (per image: tone curve, white balance and shot noise "
                                          "1e-4..1.2e-2 from the published ranges, so tuning does not fit one sensor)")
    denoise: bool = setting(False, "add a learned denoising stage before the curves (enhancers/denoise.py): a blur "
                                   "mixed in where a low-resolution map of the image's noise says so")
    denoise_scales: int = setting(1, "with --denoise: 1 mixes in a 5x5 binomial blur; 2 also a 9x9 one, a second map "
                                     "choosing per region how far towards it (for noisy, high-gain frames)", low=1, high=2)
    w_blur: float = setting(0.0, "with --denoise: weight of a penalty on the denoising map's mean over the training "
                                 "images that were not darkened, so the stage blurs what darkness needs and leaves "
                                 "images as they are alone unless the detection loss says otherwise", low=0)
    w_strength: float = setting(0.0, "with --adaptive: weight of a penalty on the strength's mean over the training "
                                     "images that were not darkened, so the curves leave images as they are alone "
                                     "unless the detection loss says otherwise", low=0)
    epochs: int = setting(10, "epochs (a resumed run may raise it)", low=1)
    batch_size: int = setting(8, "images per step", low=1)
    imgsz: int = setting(640, "detector input size", low=1)
    lr: float = setting(1e-4, "Adam learning rate of the curve estimator", low=0, high=1, low_open=True)
    weight_decay: float = setting(1e-4, "Adam weight decay", low=0, high=1)
    grad_clip: float = setting(0.1, "gradient-norm clip per parameter group", low=0, low_open=True)
    w_det: float = setting(1.0, "weight of the detection loss", low=0)
    w_ref: float = setting(1.0, "weight of the zero-reference loss", low=0)
    teacher: float = setting(0.0, "weight of the label-free teacher loss: the frozen detector's own detections on "
                                  "each training image supervise its loss on enhancer(a darker copy)", low=0)
    teacher_conf: float = setting(0.25, "confidence of the detections kept as teacher targets", low=0, high=1,
                                  low_open=True)
    val_data: str | None = setting(None, "labelled dataset of the hold-out (its --val-split, default the training "
                                         "split name) when --data has no labels (teacher only, --w-det 0); without "
                                         "it, --val-fraction more of the footage, labelled by the detector itself")
    class_map: str = setting("auto", "auto, identity, names, or a map of the dataset (coco)")
    loss_classes: str = setting("all", "--train enhancer: which of the detector's classes the labelled detection loss "
                                       "scores: 'all' (Ultralytics' loss: a detection of a class the dataset does not "
                                       "label counts as a false positive) or 'labelled' (only the classes the class "
                                       "map targets: unlabelled kinds of object are neither taught nor suppressed)")
    patience: int = setting(3, "early stopping: epochs without val mAP50 gain", low=1)
    limit: int | None = setting(None, "use only N images of each split (a seeded sample stratified by class and "
                                        "lighting type)", low=1)
    amp: bool = setting(True, "mixed precision on CUDA")
    detector_lr: float = setting(1e-3, "--train detector/joint: the detector's AdamW learning rate (Ultralytics' "
                                       "schedule and warm-up; --lr stays the enhancer's)", low=0, high=1, low_open=True)
    freeze_detector_epochs: int = setting(0, "--train joint: first epochs in which only the enhancer learns", low=0)
    new_head: bool = setting(False, "--train detector/joint: train a new head for the dataset's own classes (its "
                                    "names) instead of keeping the detector's classes through --class-map")
    out: str = setting("runs/finetune", "output folder (checkpoints, logs)")

    def __post_init__(self) -> None:
        where = "finetune config"
        if self.train not in TRAIN_MODES:
            raise ValueError(f"{where}: train must be one of {', '.join(TRAIN_MODES)}, got {self.train!r}")
        if self.gate not in GATES:
            raise ValueError(f"{where}: gate must be one of {', '.join(GATES)}, got {self.gate!r}")
        if self.w_blur > 0 and not self.denoise:
            raise ValueError(f"{where}: w_blur penalises the denoising stage's map: it needs denoise: true")
        if self.w_strength > 0 and not self.adaptive:
            raise ValueError(f"{where}: w_strength penalises the strength gate: it needs adaptive: true")
        if self.denoise_scales != 1 and not self.denoise:
            raise ValueError(f"{where}: denoise_scales shapes the denoising stage: it needs denoise: true")
        if self.denoise and self.train != "enhancer":
            raise ValueError(f"{where}: denoise is a stage of a tuned enhancer (--train enhancer), got train={self.train!r}")
        if self.loss_classes not in LOSS_CLASSES:
            raise ValueError(f"{where}: loss_classes must be one of {', '.join(LOSS_CLASSES)}, got {self.loss_classes!r}")
        if self.loss_classes != "all" and self.train != "enhancer":
            raise ValueError(f"{where}: loss_classes shapes the frozen detector's loss (--train enhancer), got "
                             f"train={self.train!r}")
        if self.darken_sensor not in SENSORS:
            raise ValueError(f"{where}: darken_sensor must be one of {', '.join(SENSORS)}, got {self.darken_sensor!r}")
        if self.new_head and self.train == "enhancer":
            raise ValueError(f"{where}: new_head trains the detector's head: it needs train: detector or joint")
        if self.train != "detector":  # the detector baseline may sit behind any enhancer, 'none' included
            check_trainable(where, self.enhancer)
        validate(self, where)
        check_range(where, "darken_ev_max", self.darken_ev_max, low=self.darken_ev_min, high=16)


@dataclass(frozen=True)
class EvalConfig:
    """Settings of one evaluation run (all go into metrics.json)."""

    data: str = setting("demo", "'demo' (built in), a datasets.yaml name (e.g. exdark), a data.yaml, a COCO .json or "
                                "an ExDark folder")
    split: str | None = setting(None, "dataset split (ExDark: train/val/test; default test)")
    data_root: str | None = setting(None, "folder of catalogued datasets (overrides $LOWLIGHT_DET_DATA)")
    weights: str | None = setting(None, "detector: local YOLO .pt (default: the demo detector for --data demo)")
    enhance: tuple[str, ...] = setting(("none", "zerodce"), "comma-separated enhancers; 'none' is always added as "
                                                             "the baseline")
    enhancer_weights: str | None = setting(None, "weights of the learned rows: ROW=ID_OR_PATH[,ROW=...] (a bare value "
                                                 "when only one learned row is evaluated)")
    imgsz: int = setting(640, "detector input size (demo: 320)", low=1)
    device: str = setting("auto", "auto (default), cpu, cuda, cuda:N")
    batch_size: int = setting(8, "images per batch", low=1)
    out: str = setting("runs/eval", "output folder (default runs/eval/<data>)")
    limit: int | None = setting(None, "evaluate N images only: a seeded sample stratified by class (and lighting "
                                        "type), or the first N with --sample first", low=1)
    sample: str = setting("stratified", "how --limit picks its images: stratified or first")
    sample_seed: int = setting(0, "seed of the --limit sample")
    conf: float = setting(0.001, "detection score threshold", low=0, high=1)
    iou: float = setting(0.7, "NMS IoU threshold", low=0, high=1)
    max_det: int = setting(300, "detections kept per image", low=1)
    class_map: str = setting("auto", "auto, identity, names, or a map of the dataset (coco)")
    enhance_before_letterbox: bool = setting(False, "enhance at native resolution before letterboxing (default: on "
                                                    "the detector input)")
    enhancer_precision: str = setting("float32", "float32, or bfloat16: the learned enhancers' networks in bfloat16 "
                                                 "(fast on CPUs with AMX/AVX512-BF16; curves still applied in "
                                                 "float32; not exact, about 2e-3)")
    gallery: int = setting(4, "images in the gallery plot (0: none)", low=0)
    plots: bool = setting(True, "write the plots and galleries")
    threads: int | None = setting(None, "CPU threads for torch (default: all cores)", low=1)
    workers: int = setting(0, "DataLoader worker processes", low=0)
    delta_ci: int = setting(0, "95%% interval of each row's Δ mAP50 vs none from N paired half-samples of the "
                               "images (e.g. 200; 0: off)", low=0)
    darken_ev: tuple[float, ...] = setting((), "darkness sweep: also evaluate every row on copies of the images "
                                               "darkened by these stops (e.g. 0,1,2,3,4,6; fixed sensor noise, "
                                               "cached in --out)")
    darken_seed: int = setting(0, "seed of the darkness sweep's sensor noise")
    fuse: bool = setting(False, "also fuse each enhanced row with none (weighted box fusion), next to the control: "
                                "none fused with its horizontally mirrored view")
    darken_noise: float = setting(1e-3, "shot noise of the darkness sweep's sensor (variance per unit of linear "
                                        "signal; read noise follows it); 1e-2 is a noisy, high-gain sensor",
                                  low=0, high=1, low_open=True)

    def __post_init__(self) -> None:
        validate(self, "eval config")
        if self.sample not in SAMPLES:
            raise ValueError(f"eval config: sample must be one of {', '.join(SAMPLES)}, got {self.sample!r}")
        if self.enhancer_precision not in PRECISIONS:
            raise ValueError(f"eval config: enhancer_precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {self.enhancer_precision!r}")
        bad = [v for v in self.darken_ev if not 0 <= v <= 16]
        if bad:
            raise ValueError(f"eval config: darken_ev stops must be in [0, 16], got {', '.join(f'{v:g}' for v in bad)}")


RESUMABLE_CHANGES = frozenset({"epochs", "out", "device", "threads", "workers", "data_root", "patience", "keep_epochs"})
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
    saved = {RENAMED.get(k, k): v for k, v in saved.items()}
    given = read_yaml_mapping(path) if path is not None else {}
    given = {RENAMED.get(k, k): v for k, v in given.items()}
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
