"""Fine-tune the detector with an enhancer in front (``python -m lowlight_det.finetune --train detector|joint``).

Ultralytics' own training loop, loss, augmentation, schedule and EMA, through its public subclass points
(:class:`lowlight_det.detection.ultralytics.EnhancedDetectionTrainer`):

- ``detector``: the detector learns on images passed through a frozen enhancer (``--enhancer none`` for the plain
  baseline): the fair baseline every other mode is compared with, trained with the identical recipe;
- ``joint``: the enhancer learns too, at its own learning rate (``--lr``; the detector's is ``--detector-lr``),
  with the zero-reference terms on its curves, optionally after ``--freeze-detector-epochs`` in which only the
  enhancer learns.

The detector keeps its own head and classes: the dataset's boxes are written in the detector's class ids
through the evaluator's class map (ExDark's 12 classes as COCO ids), so zero-shot and fine-tuned rows sit in
one table. ``--new-head`` instead trains a head for the dataset's own classes (Ultralytics builds it and keeps
every other weight; the saved detector carries the dataset's names, which the evaluator maps by name): for
classes the detector never knew. Every epoch is validated on the hold-out with the evaluator's metric
(pycocotools mAP50, which picks the best epoch and drives early stopping). The output folder holds
Ultralytics' ``detector/weights/best.pt`` (loads with ``YOLO(path)`` and ``--weights``), ``enhancer_best.pt``
(joint; loads as enhancer weights), ``history.json``/``log.csv``, ``holdout.json`` (zero-shot and fine-tuned mAP
on the hold-out, Δ with its interval) and ``last.pt`` to ``--resume`` from.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
import yaml
from torch import nn

from lowlight_det.config import FinetuneConfig, to_dict
from lowlight_det.data.class_map import ClassMap, resolve_class_map
from lowlight_det.data.detection import DetectionDataset, to_coco
from lowlight_det.data.synthesis import image_generator, random_darkening, training_cameras
from lowlight_det.detection import run_ultralytics_single_process
from lowlight_det.detection.data import export_for_detector
from lowlight_det.devices import resolve_device
from lowlight_det.distributed import barrier, init_distributed
from lowlight_det.enhancers import create_enhancer, enhancer_info
from lowlight_det.enhancers.weights import CHECKPOINT_FORMAT, atomic_save, make_checkpoint, read_checkpoint, sha256_file
from lowlight_det.eval import coco_map, dataset_predictions, paired_delta_map50, validate
from lowlight_det.io import write_json, write_text
from lowlight_det.losses import ZeroReferenceLoss
from lowlight_det.runinfo import git_commit, versions
from lowlight_det.train.common import write_csv_log
from lowlight_det.train.detection_aware import tuning_data
from lowlight_det.train.loop import arch_kwargs_of

JOB = "finetune"
T = TypeVar("T")


@dataclass
class DetectorResult:
    """What :func:`finetune_detector` returns."""

    detector: Path | None      # Ultralytics' best.pt
    enhancer: Path | None      # joint: the tuned enhancer weights that go with it (detector: None, the frozen start)
    history: list[dict[str, Any]]
    best_map50: float
    holdout: dict[str, Any]


def finetune_detector(cfg: FinetuneConfig, *, resume: str | Path | None = None, progress: bool = True
                      ) -> DetectorResult:
    """Fine-tune ``cfg.detector`` (``cfg.train == "detector"``) or detector and enhancer (``"joint"``).

    Seed the process before calling. ``resume``: the run's ``last.pt`` (continues Ultralytics' run exactly, with
    the enhancer as it was).

    Launched by ``torchrun``, each process is one rank of Ultralytics' own DDP training (gloo on CPU, one GPU per
    process on CUDA): ``cfg.batch_size`` is the batch of all processes together, the first process writes every
    file and scores the hold-out.

    Raises:
        ValueError: bad data, detector or settings.
    """
    if not cfg.detector:
        raise ValueError("--detector is required (a local YOLO .pt; with BatchNorm, e.g. yolo11n-coco-unfused.pt)")
    processes = int(os.environ.get("WORLD_SIZE", "1"))  # torchrun's
    if cfg.batch_size % processes:
        raise ValueError(f"--batch-size {cfg.batch_size} is the batch of all {processes} processes together: make it a "
                         "multiple of their number")
    dist_info = init_distributed(resolve_device(cfg.device), ultralytics_ddp=True)
    device = dist_info.device  # cuda:LOCAL_RANK on each rank of a multi-GPU run
    from lowlight_det.detection.ultralytics import EnhancedDetectionTrainer, JointSettings, build_detector

    out = Path(cfg.out).resolve()
    work = out / "work"
    data = tuning_data(cfg)
    if data.self_labelled:
        raise ValueError(f"--data {cfg.data}: no labels; --train {cfg.train} trains the detector on labelled images")
    val_gt = to_coco(DetectionDataset("val", data.dataset.class_names, data.val))
    state = read_checkpoint(resume) if resume else None
    yolo = build_detector(state["meta"]["ultralytics_last"] if state else cfg.detector)
    start_names = dict(build_detector(cfg.detector).names) if state and cfg.new_head else dict(yolo.names)
    start_map = _start_class_map(cfg, data, start_names, required=not cfg.new_head)
    if cfg.new_head:  # Ultralytics builds the head for the dataset's classes and keeps every other weight
        names = dict(enumerate(data.dataset.class_names))
        class_map = ClassMap({i: i for i in names}, description="new head: the dataset's own classes")
    else:
        names, class_map = start_names, cast(ClassMap, start_map)
    if dist_info.is_main:  # one process writes the dataset the others read
        _export(data.train, data.val, class_map, names, work)
    barrier(dist_info)
    data_yaml = work / "data.yaml"

    enhancer = create_enhancer(cfg.enhancer, weights=resume if state and cfg.train == "joint" else cfg.init_weights)
    joint = None
    if cfg.train == "joint":
        ref = ZeroReferenceLoss(**to_dict(cfg.loss))
        joint = JointSettings(lr=cfg.lr, weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip,
                              aux_loss=lambda o, img: cfg.w_ref * ref(o.ungated, img, o.curves).total,
                              freeze_detector_epochs=cfg.freeze_detector_epochs)
    meta = {"config": to_dict(cfg), "versions": versions(), "git_commit": git_commit(), "job": JOB,
            "detector": {"path": cfg.detector, "sha256": sha256_file(cfg.detector)},
            "dataset": {"name": cfg.data, "split": cfg.split, "train_images": len(data.train), "val": data.val_from,
                        "val_images": len(data.val)},
            "class_map": class_map.description, "data_terms": data.info.get("terms"),
            "tuned_for": f"--train {cfg.train}: detector fine-tuned behind the enhancer",
            "processes": dist_info.world_size}
    history: list[dict[str, Any]] = list(state["history"]) if state else []

    def score(raw: list[dict[str, Any]]) -> dict[str, float]:
        m = coco_map(val_gt, dataset_predictions(raw, class_map))
        return {"map50": m.map50, "map50_95": m.map50_95}

    def on_save(trainer: Any, best: bool) -> None:
        """After Ultralytics saved its checkpoints: the enhancer that goes with them, our log and ``last.pt``."""
        m = trainer.metrics
        row = {"epoch": trainer.epoch + 1, "val_map50": m.get("lowlight/map50"),
               "val_map50_95": m.get("lowlight/map50_95"), "ultralytics_map50": round(100 * m["metrics/mAP50(B)"], 3),
               **{k.split("/")[-1]: v for k, v in (trainer.label_loss_items(trainer.tloss) or {}).items()},
               "aux": trainer.aux_loss_sum / max(trainer.aux_steps, 1) if joint else None, "best": best}
        trainer.aux_loss_sum, trainer.aux_steps = 0.0, 0
        history.append(row)
        epoch_meta = {**meta, "epoch": trainer.epoch + 1, "val": {"map50": row["val_map50"]},
                      "ultralytics_last": str(trainer.last)}
        if joint:
            ckpt = make_checkpoint(enhancer, arch=cfg.enhancer, arch_kwargs=arch_kwargs_of(enhancer), meta=epoch_meta)
            if best:
                atomic_save(ckpt, out / "enhancer_best.pt")
        else:  # the enhancer is frozen: cfg.init_weights says which weights it has
            ckpt = {"format": CHECKPOINT_FORMAT, "arch": enhancer_info(cfg.enhancer).arch, "arch_kwargs": {},
                    "state_dict": {}, "meta": epoch_meta}
        # last.pt: the enhancer, our settings and history, and where Ultralytics' own state is (optimizer in there)
        atomic_save({**ckpt, "optimizer": {}, "epoch": trainer.epoch + 1, "history": history}, out / "last.pt")
        write_json(out / "history.json", history)
        write_csv_log(out / "log.csv", history)

    trainer = partial(EnhancedDetectionTrainer, enhancer=enhancer, joint=joint, score=score, on_save=on_save,
                      before_enhancer=_darkening(cfg) if cfg.darken_share > 0 else None)
    args = {"data": str(data_yaml), "epochs": cfg.epochs, "batch": cfg.batch_size, "imgsz": cfg.imgsz,
            "device": "cpu" if device.type == "cpu" else str(device.index or 0), "workers": cfg.workers,
            "seed": cfg.seed, "deterministic": True, "optimizer": "AdamW", "lr0": cfg.detector_lr,
            # Ultralytics' warm-up starts the biases at warmup_bias_lr (0.1, made for SGD at lr0 0.01): with AdamW
            # that moves every bias of the pretrained head by ~0.1 per step, and a COCO YOLO11n fell from 55.7 to
            # 5.5 hold-out mAP50 in the first epoch. Ultralytics itself uses 0 when it picks AdamW.
            "warmup_bias_lr": 0.0,
            "patience": cfg.patience, "project": str(out), "name": "detector", "exist_ok": True,
            "amp": cfg.amp and device.type == "cuda", "plots": False, "verbose": False, "val": True}
    if state:
        args = {"resume": True, "workers": cfg.workers, "device": args["device"]}
    if dist_info.is_main:
        write_text(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    yolo.train(trainer=trainer, **args)

    best_detector = out / "detector" / "weights" / "best.pt"
    best_enhancer = out / "enhancer_best.pt" if joint and (out / "enhancer_best.pt").is_file() else None
    holdout: dict[str, Any] = {}
    if dist_info.world_size <= 1:
        holdout = _holdout(cfg, data, start_map, class_map, val_gt, best_detector, best_enhancer, work, device)
    elif dist_info.is_main:  # the others wait: leaving the group early would end the first process's group too
        holdout = _in_single_process(_holdout, cfg, data, start_map, class_map, val_gt, best_detector, best_enhancer,
                                     work, device)
    if dist_info.is_main:
        write_json(out / "holdout.json", holdout)
    barrier(dist_info)
    best = max((r["val_map50"] for r in history if r["val_map50"] is not None), default=-1.0)
    return DetectorResult(best_detector if best_detector.is_file() else None, best_enhancer, history, best, holdout)


def _in_single_process(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a fresh process that Ultralytics, imported there without ``RANK``, treats as a run of one
    process: in a rank of a DDP run its validator takes part in the group's collectives, and the other ranks are not
    scoring."""
    saved = run_ultralytics_single_process()  # the spawned process inherits the environment as it is now
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result = pool.submit(fn, *args).result()
    finally:
        os.environ.update(saved)
    return result


def _export(train: list[Any], val: list[Any], class_map: Any, names: dict[int, str], work: Path) -> Path:
    """Training and hold-out images as one YOLO dataset in the detector's class ids; returns its data.yaml."""
    folders = {split: export_for_detector(records, class_map, names, work / split).parent / "images" / "val"
               for split, records in (("train", train), ("val", val))}
    data = {"path": str(work), "train": str(folders["train"]), "val": str(folders["val"]),
            "names": {i: names[i] for i in range(len(names))}}
    return write_text(work / "data.yaml", yaml.safe_dump(data, sort_keys=False))


def _darkening(cfg: FinetuneConfig) -> Any:
    """``before_enhancer``: darken ``cfg.darken_share`` of each training batch by a random number of stops (noise
    drawn per seed, epoch, step and process: a resumed run darkens as the uninterrupted one would)."""
    ranges = training_cameras(cfg.darken_sensor)

    def darken(img: torch.Tensor, trainer: Any) -> torch.Tensor:
        if getattr(trainer, "darken_epoch", None) != trainer.epoch:  # the step counts from 0 in every epoch
            trainer.darken_epoch, trainer.darken_step = trainer.epoch, 0
        trainer.darken_step += 1
        world, rank = (dist.get_world_size(), dist.get_rank()) if dist.is_initialized() else (1, 0)
        g = image_generator(cfg.seed, (trainer.epoch * 1_000_003 + trainer.darken_step) * world + rank)  # per process
        dark, _ = random_darkening(img, share=cfg.darken_share, stops=(cfg.darken_ev_min, cfg.darken_ev_max),
                                   generator=g, ranges=ranges)
        return dark

    return darken


def _start_class_map(cfg: FinetuneConfig, data: Any, names: dict[int, str], *, required: bool) -> ClassMap | None:
    """The starting detector's classes → the dataset's (``--class-map``); None when it does not know them all and
    a new head is trained (the run then has no zero-shot comparison).

    Raises:
        ValueError: ``required`` and no map: the class map's own message (which classes are missing).
    """
    try:
        return resolve_class_map(cfg.class_map, data.dataset.class_names, names, data.info.get("class_maps"))
    except ValueError as e:
        if required:
            raise ValueError(f"{e} (or --new-head: a new head for the dataset's own classes)") from e
        return None


def _holdout(cfg: FinetuneConfig, data: Any, start_map: ClassMap | None, class_map: ClassMap, val_gt: dict[str, Any],
             detector: Path, enhancer_file: Path | None, work: Path, device: torch.device) -> dict[str, Any]:
    """Zero-shot (the starting detector, no enhancement) against the fine-tuned pair on the hold-out, with the
    evaluator's pipeline and metric, and Δ mAP50 with its paired 95% interval (``zero_shot_none`` is None when
    the starting detector has no classes for the dataset's: a new head for classes it never knew)."""
    from lowlight_det.detection.pipeline import EnhancedDetector

    def check(weights: str | Path, enhancer: nn.Module, classes: ClassMap) -> Any:
        det = EnhancedDetector(weights, "none", device=device, imgsz=cfg.imgsz, threads=cfg.threads)
        return validate(det, enhancer, data.val, classes, val_gt, imgsz=cfg.imgsz, batch_size=cfg.batch_size,
                        workers=cfg.workers, workdir=work / "holdout")

    start = check(cfg.detector, create_enhancer("none"), start_map) if start_map is not None else None
    result: dict[str, Any] = {"tuning_images": len(data.train), "holdout_images": len(data.val),
                              "zero_shot_none": start and {"map50": start.metrics.map50,
                                                           "map50_95": start.metrics.map50_95}}
    if detector.is_file():
        enhancer = create_enhancer(cfg.enhancer, weights=enhancer_file or cfg.init_weights)
        tuned = check(detector, enhancer, class_map)
        result["tuned"] = {"map50": tuned.metrics.map50, "map50_95": tuned.metrics.map50_95, "detector": str(detector),
                           "enhancer": cfg.enhancer,
                           "enhancer_weights": str(enhancer_file) if enhancer_file else cfg.init_weights}
        if start is not None:
            d = paired_delta_map50(val_gt, start.predictions, tuned.predictions, resamples=200)
            result.update(delta_map50_vs_zero_shot=round(d.delta, 3), ci95=[round(d.low, 3), round(d.high, 3)])
    return result


def holdout_text(h: dict[str, Any]) -> str:
    """One line: did fine-tuning the detector help on the hold-out.

    Example:
        >>> holdout_text({"tuning_images": 8, "holdout_images": 2, "zero_shot_none": {"map50": 50.0},
        ...               "tuned": {"map50": 55.0}, "delta_map50_vs_zero_shot": 5.0, "ci95": [1.0, 9.0]})
        'hold-out (2 images; trained on 8): zero-shot 50.0, fine-tuned 55.0 mAP50: +5.0 [+1.0, +9.0]'
    """
    zero = h["zero_shot_none"]
    text = (f"hold-out ({h['holdout_images']} images; trained on {h['tuning_images']}): zero-shot "
            + (f"{zero['map50']:.1f}" if zero else "none (the detector did not know these classes)"))
    if "tuned" in h:
        text += f", fine-tuned {h['tuned']['map50']:.1f} mAP50"
    if "ci95" in h:
        low, high = h["ci95"]
        text += f": {h['delta_map50_vs_zero_shot']:+.1f} [{low:+.1f}, {high:+.1f}]"
    return text
