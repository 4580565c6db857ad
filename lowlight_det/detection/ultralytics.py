"""Ultralytics integration through its public subclass points: predictor/validator ``preprocess``.

Only this package imports ``ultralytics``. Nothing here copies Ultralytics code (AGPL).
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
import torch.distributed as dist
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
    return ValidationRun(raw_predictions(validator), validator.enhance_seconds, dict(validator.speed),
                         float(validator.metrics.box.map50))


class JointSettings(NamedTuple):
    """How :class:`EnhancedDetectionTrainer` trains the enhancer together with the detector."""

    lr: float                 # the enhancer's own learning rate (its own optimizer group, Ultralytics' schedule)
    weight_decay: float
    grad_clip: float          # gradient-norm clip of the enhancer (the detector keeps Ultralytics' own)
    aux_loss: Callable[[Any, torch.Tensor], torch.Tensor]  # (forward_curves output, input) -> per-image loss
    freeze_detector_epochs: int = 0  # warm-up: only the enhancer learns during the first epochs


class EnhancedDetectionTrainer(DetectionTrainer):
    """Train a detector on enhanced images with Ultralytics' own loop: the enhancer runs after Ultralytics'
    augmentation, on every training batch and in every validation.

    Use as ``YOLO(weights).train(trainer=partial(EnhancedDetectionTrainer, enhancer=e), data=...)``.

    Args:
        enhancer: frozen unless ``joint`` is given.
        joint: train the enhancer too: its parameters join Ultralytics' optimizer as their own group, its
            auxiliary (zero-reference) loss is added to the detection loss, its gradients are clipped apart.
        score: scores a validation's raw predictions (``detector_class`` fields, as :func:`validate_with_enhancer`
            gives them) and returns ``{"map50": ..., "map50_95": ...}``; its mAP50 then decides the best epoch and
            early stopping, and both numbers join Ultralytics' metrics as ``lowlight/map50(-95)``.
        on_save: called after Ultralytics saved its checkpoints each epoch, with the trainer and whether this
            epoch is the best so far.
        before_enhancer: optional transform of each training batch (B,3,H,W in [0, 1]) before the enhancer (e.g.
            on-the-fly darkening), with the trainer as second argument.
    """

    def __init__(self, *args: Any, enhancer: nn.Module, joint: JointSettings | None = None,
                 score: Callable[[list[dict[str, Any]]], dict[str, float]] | None = None,
                 on_save: Callable[[Any, bool], None] | None = None,
                 before_enhancer: Callable[[torch.Tensor, Any], torch.Tensor] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enhancer = enhancer.eval().requires_grad_(False) if joint is None else enhancer.train().requires_grad_(True)
        self.joint, self.score, self.on_save, self.before_enhancer = joint, score, on_save, before_enhancer
        self.aux_loss_sum, self.aux_steps = 0.0, 0
        self._detector_params: list[nn.Parameter] | None = None
        if joint is not None and joint.freeze_detector_epochs > 0:
            self.add_callback("on_train_epoch_start", _freeze_detector_in_warmup)
        me: Any = self  # Ultralytics' attributes are untyped
        self._cpu_ddp = 1  # while Ultralytics sets up a CPU run of several processes: their number (see _setup_train)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # launched by torchrun, the group joined by lowlight_det: this process is one rank of Ultralytics' own
            # DDP training (it counts processes from its device string, which names only this rank's device)
            me.world_size, me.ddp = dist.get_world_size(), False

    def _setup_ddp(self) -> None:
        """The process group is lowlight_det's (torchrun): only make this rank's device current."""
        me: Any = self
        if not dist.is_initialized():
            super()._setup_ddp()
        elif me.device.type == "cuda":
            torch.cuda.set_device(me.device)

    def _setup_train(self) -> None:
        """Ultralytics' set-up; on CPU with several processes the detector is wrapped in DDP here, because
        Ultralytics passes ``device_ids=[device.index]``, which DDP refuses for a CPU module."""
        me: Any = self
        world = me.world_size
        if world <= 1 or me.device.type != "cpu":
            super()._setup_train()
            return
        me.world_size, self._cpu_ddp = 1, world  # one process to Ultralytics' set-up; get_dataloader shares the batch
        try:
            super()._setup_train()
        finally:
            me.world_size, self._cpu_ddp = world, 1
        # find_unused_parameters as Ultralytics has it (the joint warm-up freezes the detector); buffers stay per process
        # as in Ultralytics' DDP (the EMA's are synchronised before each validation)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # broadcast_buffers: its successor syncs buffers at init
            me.model = nn.parallel.DistributedDataParallel(me.model, find_unused_parameters=True,
                                                           broadcast_buffers=False)

    def get_dataloader(self, dataset_path: str, batch_size: int = 16, rank: int = 0, mode: str = "train") -> Any:
        if mode == "train" and self._cpu_ddp > 1:  # each rank's share of the batch, as Ultralytics' DDP has it
            batch_size = max(batch_size // self._cpu_ddp, 1)
        return super().get_dataloader(dataset_path, batch_size, rank, mode)

    def preprocess_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        batch = super().preprocess_batch(batch)
        if self.before_enhancer is not None and torch.is_grad_enabled():
            batch["img"] = self.before_enhancer(batch["img"], self)
        if self.joint is None or not torch.is_grad_enabled():
            batch["img"] = apply_enhancer(self.enhancer, batch["img"])
            return batch
        img = batch["img"].float()
        out = cast(Any, self.enhancer.to(img.device).train()).forward_curves(img)
        with torch.autocast(img.device.type, enabled=False):
            aux = self.joint.aux_loss(out, img).float()
        if not torch.isfinite(aux):
            raise FloatingPointError(f"non-finite auxiliary (zero-reference) loss at epoch {self.epoch + 1}")
        # Ultralytics' detection loss is summed over the batch: the per-image auxiliary loss is scaled the same way
        # (and, as that loss, by the number of processes, whose gradients are averaged).
        # Its backward runs now (the graph is kept for the detection loss's backward through the same curves).
        self.scaler.scale(aux * img.shape[0] * max(cast(Any, self).world_size, 1)).backward(retain_graph=True)
        self.aux_loss_sum, self.aux_steps = self.aux_loss_sum + aux.item(), self.aux_steps + 1
        batch["img"] = out.image.clamp(0, 1).to(batch["img"].dtype)
        return batch

    def build_optimizer(self, model: nn.Module, *args: Any, **kwargs: Any) -> torch.optim.Optimizer:
        optimizer = super().build_optimizer(model, *args, **kwargs)
        if self.joint is not None:
            self.enhancer.to(self.device)
            optimizer.add_param_group({"params": list(self.enhancer.parameters()), "lr": self.joint.lr,
                                       "weight_decay": self.joint.weight_decay, "param_group": "enhancer"})
        return optimizer

    def optimizer_step(self) -> None:
        if self.joint is None:
            super().optimizer_step()
            return
        me: Any = self  # Ultralytics' attributes are untyped
        if me.world_size > 1:  # DDP averages the detector's gradients over the processes; the enhancer's here
            for p in self.enhancer.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(me.world_size)
        me.scaler.unscale_(me.optimizer)
        nn.utils.clip_grad_norm_(me.model.parameters(), max_norm=10.0)  # the detector's clip, as Ultralytics has it
        nn.utils.clip_grad_norm_(self.enhancer.parameters(), self.joint.grad_clip)
        me.scaler.step(me.optimizer)
        me.scaler.update()
        me.optimizer.zero_grad()
        if me.ema:
            me.ema.update(me.model)

    def get_validator(self) -> DetectionValidator:
        base = super().get_validator()
        validator = EnhancedDetectionValidator(base.dataloader, save_dir=base.save_dir, args=base.args,
                                               _callbacks=base.callbacks, enhancer=self.enhancer)
        if self.score is not None:
            validator.args.save_json = True  # keep the raw predictions for our own metric
        return validator

    def validate(self) -> tuple[Any, Any]:
        me: Any = self
        best_before = self.best_fitness
        if me.world_size > 1 and me.device.type == "cpu":
            # gloo has no averaging reduce, which Ultralytics uses for the validation losses of several processes:
            # the EMA's buffers are synchronised here, and each process's share is still gathered on the first one
            for buffer in me.ema.ema.buffers():
                dist.broadcast(buffer, src=0)
            world, me.world_size = me.world_size, 1
            try:
                metrics, fitness = super().validate()
            finally:
                me.world_size = world
        else:
            metrics, fitness = super().validate()
        if metrics is None or self.score is None:
            return metrics, fitness
        ours = self.score(raw_predictions(self.validator))
        metrics.update({"lowlight/map50": ours["map50"], "lowlight/map50_95": ours["map50_95"]})
        fitness = ours["map50"]
        cast(Any, self).best_fitness = fitness if best_before is None or fitness > best_before else best_before
        return metrics, fitness

    def final_eval(self) -> None:
        me: Any = self
        if me.world_size <= 1 or me.device.type != "cpu":
            super().final_eval()
            return
        # Ultralytics' closing validation of best.pt asks the processes of a DDP run for their CUDA device; on CPU
        # only its checkpoint clean-up runs (lowlight_det scores best.pt on the hold-out itself afterwards)
        if dist.get_rank() == 0:
            from ultralytics.utils.torch_utils import strip_optimizer

            ckpt = strip_optimizer(me.last) if me.last.exists() else {}
            if me.best.exists():
                strip_optimizer(me.best, updates={"train_results": ckpt.get("train_results")})
        dist.barrier()

    def save_model(self) -> Any:
        saved = super().save_model()
        if self.on_save is not None:
            self.on_save(self, self.best_fitness == self.fitness)
        return saved

    def read_results_csv(self) -> dict[str, list[Any]]:
        """Ultralytics' ``results.csv`` as ``{column: values}`` (stored in its checkpoints), read with the standard
        library: Ultralytics reads it with polars, which an environment with PyTorch but without Ultralytics'
        optional extras (a GPU image) may lack, and training must not fail when it saves a checkpoint."""
        try:
            with open(self.csv, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except OSError:
            return {}
        columns: dict[str, list[Any]] = {}
        for row in rows:
            for key, value in row.items():
                columns.setdefault(key.strip(), []).append(_number(value))
        return columns


def _number(text: str | None) -> Any:
    for kind in (int, float):
        try:
            return kind(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return text


def _freeze_detector_in_warmup(trainer: EnhancedDetectionTrainer) -> None:
    """``on_train_epoch_start``: the detector's trainable weights learn only after the warm-up epochs."""
    assert trainer.joint is not None
    if trainer._detector_params is None:
        trainer._detector_params = [p for p in cast(Any, trainer.model).parameters() if p.requires_grad]
    learn = trainer.epoch >= trainer.joint.freeze_detector_epochs
    for p in trainer._detector_params:
        p.requires_grad_(learn)


def raw_predictions(validator: Any) -> list[dict[str, Any]]:
    """A validator's COCO-style predictions (original-image pixels) with the detector's own class index in
    ``detector_class`` (read back through its ``class_map``, COCO-91 ids included)."""
    class_ids: list[int] = list(cast(Any, validator.class_map))  # detector class index -> json category id
    to_class = {category: index for index, category in enumerate(class_ids)}
    jdict: list[dict[str, Any]] = list(cast(Any, validator.jdict) or [])
    return [{**p, "detector_class": to_class[p["category_id"]]} for p in jdict]


def pseudo_targets(detector: nn.Module, img: torch.Tensor, *, conf: float = 0.25, iou: float = 0.7,
                   max_det: int = 100) -> dict[str, torch.Tensor]:
    """A frozen detector's own confident detections on ``img`` (B,3,H,W letterboxed, in [0, 1]) as training
    targets in Ultralytics' convention: ``batch_idx`` (N,), ``cls`` (N, 1) and ``bboxes`` (N, 4) normalised xywh.

    The label-free teacher signal: targets found on a well-exposed image supervise the detector's loss on a
    darker (enhanced) copy of it.
    """
    from ultralytics.utils.nms import non_max_suppression

    with torch.no_grad():
        was_training = detector.training
        preds = detector.eval()(img)
        detector.train(was_training)
        kept = non_max_suppression(preds, conf, iou, max_det=max_det)
    height, width = img.shape[2], img.shape[3]
    scale = img.new_tensor([width, height, width, height], dtype=torch.float32)
    idx, cls, boxes = [], [], []
    for i, det in enumerate(kept):
        xyxy = det[:, :4].float()
        xywh = torch.cat([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], dim=1) / scale
        idx.append(torch.full((det.shape[0],), i, dtype=torch.float32, device=img.device))
        cls.append(det[:, 5:6].float())
        boxes.append(xywh)
    return {"batch_idx": torch.cat(idx), "cls": torch.cat(cls), "bboxes": torch.cat(boxes)}


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


def class_restricted_loss(detector: nn.Module, classes: Iterable[int]) -> Any:
    """A criterion of ``detector``'s own kind (Ultralytics' detection loss, with its hyper-parameters) whose
    classification term scores only ``classes`` (detector class ids): a confident detection of any other class is
    then neither a false positive nor a miss. Through Ultralytics' per-class weights (1 for ``classes``, 0 for the
    rest); the boxes, their assignment to targets and the normalisation are unchanged.

    Raises:
        ValueError: a class id the detector does not have, or none at all.
    """
    model: Any = detector
    nc = int(model.model[-1].nc)
    ids = sorted({int(c) for c in classes})
    if not ids or ids[0] < 0 or ids[-1] >= nc:
        raise ValueError(f"loss classes {ids} must be non-empty detector class ids in 0..{nc - 1}")
    criterion = model.init_criterion()
    weights = torch.zeros(nc, device=next(detector.parameters()).device)
    weights[ids] = 1.0
    criterion.class_weights = weights.view(1, 1, -1)  # the loss multiplies its per-class BCE by these
    return criterion


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
