"""Ultralytics integration through its public subclass points: predictor/validator ``preprocess``.

Only this package imports ``ultralytics``. Nothing here copies Ultralytics code (AGPL).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
from torch import nn

# Set before Ultralytics is imported (it reads them once, at import); a value the user set wins.
# lowlight_det never uses the network: no online checks, no downloads.
os.environ.setdefault("YOLO_OFFLINE", "1")
# Detector files are loaded with torch.load(weights_only=True) against Ultralytics' allow-list of its own model
# classes: a crafted .pt cannot run code. ULTRALYTICS_SAFE_LOAD=0 set by the user trusts files explicitly.
os.environ.setdefault("ULTRALYTICS_SAFE_LOAD", "1")
# Ultralytics' own console output and progress bars are off unless asked for (lowlight_det draws its own);
# this only takes effect when lowlight_det imports Ultralytics first.
os.environ.setdefault("YOLO_VERBOSE", "False")

from ultralytics import YOLO  # noqa: E402
from ultralytics.models.yolo.detect import DetectionPredictor, DetectionTrainer, DetectionValidator  # noqa: E402

from lowlight_det.enhancers.apply import check_finite  # noqa: E402

logger = logging.getLogger(__name__)

SAFE_LOAD_ENV = "ULTRALYTICS_SAFE_LOAD"
_FALSE = ("0", "false", "no", "off")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def apply_enhancer(enhancer: nn.Module, img: torch.Tensor) -> torch.Tensor:
    """Run ``enhancer`` on a detector input batch (B,3,H,W) in [0,1], keeping its dtype and device.

    ``no_grad`` rather than ``inference_mode``: the result may feed a detector that is being trained.
    """
    with torch.no_grad():
        x = img.float()
        out = check_finite(enhancer, enhancer.to(img.device)(x))
        out = out.clamp_(0, 1) if out is not x and out is not img else out.clamp(0, 1)  # in place on its own result
        return out.to(img.dtype)


class EnhancedDetectionPredictor(DetectionPredictor):
    """Ultralytics detection predictor that enhances the letterboxed batch before the detector.

    ``enhance_seconds`` accumulates the enhancer's own (synchronised) time.
    """

    def __init__(self, *args: Any, enhancer: nn.Module, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enhancer = enhancer.eval()
        self.enhance_seconds = 0.0

    def preprocess(self, im: Any) -> torch.Tensor:
        img = super().preprocess(im)  # (B,3,H,W) in [0,1], fp16 or fp32, on device
        _sync(img.device)
        t0 = time.perf_counter()
        img = apply_enhancer(self.enhancer, img)
        _sync(img.device)
        self.enhance_seconds += time.perf_counter() - t0
        return img


class EnhancedDetectionValidator(DetectionValidator):
    """Ultralytics detection validator that enhances each batch (``model.val(validator=partial(...))``).

    Args:
        enhancer: runs on each letterboxed batch after Ultralytics' own preprocessing.
        on_batch: optional callable run once per batch (progress bars).

    Attributes:
        enhance_seconds: the enhancer's own (synchronised) time over the run.
    """

    def __init__(self, *args: Any, enhancer: nn.Module, on_batch: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enhancer = enhancer.eval()
        self.on_batch = on_batch
        self.enhance_seconds = 0.0

    def preprocess(self, batch: dict[str, Any]) -> dict[str, Any]:
        batch = super().preprocess(batch)
        _sync(batch["img"].device)
        t0 = time.perf_counter()
        batch["img"] = apply_enhancer(self.enhancer, batch["img"])
        _sync(batch["img"].device)
        self.enhance_seconds += time.perf_counter() - t0
        if self.on_batch is not None:
            self.on_batch()
        return batch


class ValidationRun(NamedTuple):
    """What one pass of Ultralytics' validator gives lowlight_det."""

    predictions: list[dict[str, Any]]  # COCO results in original-image pixels, ``detector_class`` instead of category
    enhance_seconds: float
    speed_ms: dict[str, float]         # Ultralytics' ms/image: preprocess (incl. enhancer), inference, loss, postprocess
    map50: float                       # Ultralytics' own mAP50 in [0, 1] (a secondary number)


def validate_with_enhancer(yolo: YOLO, data_yaml: str | Path, enhancer: nn.Module, *, imgsz: int, batch: int,
                           conf: float, iou: float, max_det: int, device: torch.device, workers: int, project: Path,
                           name: str, on_batch: Callable[[], None] | None = None) -> ValidationRun:
    """Run Ultralytics' validator (its loading, letterbox, NMS) with ``enhancer`` in ``preprocess``, the way
    ``YOLO.val`` builds it (``rect=True``, the model's overrides, its callbacks), and return its raw predictions.

    Each prediction keeps Ultralytics' COCO fields, with the detector's own class index in ``detector_class``
    (read back through the validator's ``class_map``, COCO-91 ids included), for our pycocotools scoring.
    """
    args = {**yolo.overrides, "rect": True, "data": str(data_yaml), "split": "val", "imgsz": imgsz, "batch": batch,
            "conf": conf, "iou": iou, "max_det": max_det, "device": str(device),
            "quantize": 16 if device.type == "cuda" else None, "plots": False, "save_json": True, "verbose": False,
            "workers": workers, "project": str(project), "name": name, "exist_ok": True, "mode": "val"}
    ensure_offline_fonts()
    validator = EnhancedDetectionValidator(args=args, _callbacks=yolo.callbacks, enhancer=enhancer, on_batch=on_batch)
    validator(model=yolo.model)
    class_ids: list[int] = list(cast(Any, validator.class_map))  # detector class index -> json category id
    to_class = {category: index for index, category in enumerate(class_ids)}
    jdict: list[dict[str, Any]] = list(cast(Any, validator.jdict) or [])
    predictions = [{**p, "detector_class": to_class[p["category_id"]]} for p in jdict]
    return ValidationRun(predictions, validator.enhance_seconds, dict(validator.speed),
                         float(validator.metrics.box.map50))


class EnhancedDetectionTrainer(DetectionTrainer):
    """Train a detector on enhanced images: the frozen enhancer runs after Ultralytics' augmentation.

    Use as ``YOLO(cfg).train(trainer=partial(EnhancedDetectionTrainer, enhancer=e), data=...)``; its
    validation also sees enhanced images.
    """

    def __init__(self, *args: Any, enhancer: nn.Module, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enhancer = enhancer.eval().requires_grad_(False)

    def preprocess_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        batch = super().preprocess_batch(batch)
        batch["img"] = apply_enhancer(self.enhancer, batch["img"])
        return batch

    def get_validator(self) -> DetectionValidator:
        base = super().get_validator()
        return EnhancedDetectionValidator(base.dataloader, save_dir=base.save_dir, args=base.args,
                                          _callbacks=base.callbacks, enhancer=self.enhancer)


def letterboxed_dataset(data_yaml: str | Path, *, split: str = "train", imgsz: int = 640) -> Any:
    """Ultralytics' YOLO dataset for ``split`` without augmentation: letterboxed to ``imgsz`` (square),
    items with ``img`` (3,H,W) uint8 RGB, ``cls``, ``bboxes`` (normalised xywh); use its ``collate_fn``."""
    from ultralytics.cfg import get_cfg
    from ultralytics.data import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(data_yaml), autodownload=False)
    cfg = get_cfg(overrides={"imgsz": imgsz, "rect": False, "task": "detect", "mode": "val"})
    return build_yolo_dataset(cast(Any, cfg), data[split], batch=1, data=data, mode="val", rect=False, fraction=1.0)


def detector_module(yolo: YOLO, **loss_overrides: float) -> nn.Module:
    """The ``DetectionModel`` inside ``yolo`` with loss hyper-parameters set (Ultralytics defaults)."""
    from ultralytics.cfg import get_cfg

    model: Any = yolo.model  # a DetectionModel: its loss reads .args and builds .criterion on first use
    model.args = get_cfg(overrides=loss_overrides or None)  # as Ultralytics' own trainer sets them
    model.criterion = None  # rebuilt lazily with these hyper-parameters
    return cast(nn.Module, model)


def trusts_detector_files() -> bool:
    """True when the user turned safe loading off explicitly (``ULTRALYTICS_SAFE_LOAD=0``): detector files are
    then unpickled in full, so only do it for files you trust."""
    return os.environ.get(SAFE_LOAD_ENV, "").strip().lower() in _FALSE


def check_detector_file(path: Path) -> None:
    """Refuse a detector checkpoint that needs more than Ultralytics' allow-listed model classes to load.

    When Ultralytics was imported with safe loading on (what lowlight_det sets up), ``YOLO(path)`` itself loads
    with ``weights_only=True`` and this check is not needed; when something imported Ultralytics before
    lowlight_det without it, the file is first loaded here the restricted way, so a crafted pickle never runs.

    Raises:
        ValueError: the file is not a loadable Ultralytics checkpoint, or it references other code.
    """
    from ultralytics.utils import SAFE_LOAD

    if path.suffix != ".pt" or SAFE_LOAD or trusts_detector_files():
        return
    from ultralytics.nn.tasks import torch_safe_load

    try:
        torch_safe_load(str(path), safe_only=True)
    except Exception as exc:  # Ultralytics raises TypeError, RuntimeError, UnpicklingError... for bad files
        raise ValueError(_load_error(path, exc)) from exc


def _load_error(path: Path, exc: BaseException) -> str:
    reason = " ".join(str(exc).replace("ERROR ❌️", "").split())[:300]
    return (f"{path}: cannot load this file as an Ultralytics YOLO detector ({type(exc).__name__}: {reason}). "
            "Pass a YOLO .pt saved by Ultralytics or a model .yaml. Detector files are loaded safely "
            f"(weights_only); to load a file you trust that needs other code, set {SAFE_LOAD_ENV}=0.")


def ensure_offline_fonts() -> None:
    """Give Ultralytics a local font so its dataset check never tries to download Arial.

    Ultralytics looks for ``Arial.ttf`` / ``Arial.Unicode.ttf`` in its settings folder on every validation and
    otherwise probes its asset server (even with ``YOLO_OFFLINE``). Only its plots use the font, which
    lowlight_det turns off; the file placed there is matplotlib's DejaVu Sans (Bitstream Vera licence).
    """
    from ultralytics.utils import USER_CONFIG_DIR

    try:
        import matplotlib

        source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        for name in ("Arial.ttf", "Arial.Unicode.ttf"):
            target = Path(USER_CONFIG_DIR) / name
            if not target.exists() and source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    except OSError as exc:  # a read-only settings folder: the check then fails offline, quietly
        logger.debug("could not place an offline font for Ultralytics: %s", exc)


def _load_yolo(path: Path | str) -> YOLO:
    ensure_offline_fonts()
    if Path(path).is_file():
        check_detector_file(Path(path))
    try:
        return YOLO(str(path))
    except Exception as exc:  # a damaged or foreign file: say which and why, never a bare traceback
        raise ValueError(_load_error(Path(path), exc)) from exc


def build_detector(weights: str | Path) -> YOLO:
    """A YOLO model from a local ``.pt`` file or a model ``.yaml`` (random init).

    An Ultralytics model name (``yolo11n.pt``) is looked up in Ultralytics' weights folder. Offline by
    design: a name that is not on disk is a clear error, never a download attempt. ``.pt`` files are loaded
    safely (``weights_only=True`` with Ultralytics' allow-list; see :func:`check_detector_file`).

    Raises:
        FileNotFoundError: the weights file does not exist.
        ValueError: the file is not a loadable (or not a safely loadable) Ultralytics detector.
    """
    path = Path(weights)
    if path.suffix in (".yaml", ".yml") and not path.exists():
        return _load_yolo(path)  # Ultralytics' bundled model configs, e.g. yolov8n.yaml
    if path.is_file():
        return _load_yolo(path)
    from ultralytics.utils import SETTINGS

    cached = Path(SETTINGS.get("weights_dir", "weights")) / path.name  # an Ultralytics model name already on disk
    if cached.is_file():
        return _load_yolo(cached)
    raise FileNotFoundError(
        f"detector weights {str(weights)!r} not found (looked at {path.resolve()} and {cached}). lowlight_det runs "
        "offline and does not download models: pass the path of a local file (e.g. --weights path/to/yolo11n.pt) "
        "or a model .yaml")
