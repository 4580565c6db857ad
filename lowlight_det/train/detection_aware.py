"""Detection-aware fine-tuning: train an enhancer through a frozen detector's own loss.

``loss = w_det · detection_loss(detector(enhancer(img)), targets) + w_ref · zero_reference_loss``.
The detector sees Ultralytics' letterboxed input (its data conventions, through public APIs); the
zero-reference terms keep the output natural. With ``adaptive`` the enhancer gets a learned
per-image strength gate (``enhancers/gate.py``): the detection loss sees the gated output, the
zero-reference loss the ungated curves, so the curves stay natural and the detector alone decides
how much of them each image gets (the gate has its own learning rate, ``gate_lr``). Every epoch the enhancer is validated with the
evaluator's metric code (pycocotools mAP50 / mAP50-95); the best checkpoint is kept, training stops
early after ``patience`` epochs without improvement, and ``last.pt`` resumes exactly.

Label-free teacher (``teacher > 0``): the frozen detector's own confident detections on each training image
(``teacher_conf``) are the targets of its loss on ``enhancer(darken(image))``, darkened by a random number of
stops in ``darken_ev_min..max`` with sensor noise. Any footage works, labelled or not: with ``w_det = 0`` and
``val_data`` (a labelled hold-out) the enhancer is tuned without a single training label (e.g. on SICE, whose
terms differ from ExDark's). Without ``val_data`` no label is used at all: the hold-out is more of the same
footage, labelled by the frozen detector itself (:func:`self_labelled_holdout`: its confident detections on each
image as it is, and the same boxes on a copy darkened by the middle of the tuning's darkness range), so the best
epoch is the one whose enhancer keeps the detector's own findings on the images as they are and recovers most of
them in the dark.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from lowlight_det.config import FinetuneConfig, to_dict
from lowlight_det.data.class_map import resolve_class_map
from lowlight_det.data.detection import DetectionDataset, ImageRecord, to_coco
from lowlight_det.data.loaders import load_detection_dataset, load_unlabelled
from lowlight_det.data.synthesis import image_generator, random_darkening, training_cameras
from lowlight_det.detection.data import export_for_detector
from lowlight_det.devices import resolve_device
from lowlight_det.distributed import broadcast_floats, init_distributed
from lowlight_det.enhancers import create_enhancer
from lowlight_det.enhancers.weights import WEIGHTS_KEYS, atomic_save, sha256_file
from lowlight_det.eval import paired_delta_map50, predict, validate
from lowlight_det.eval.coco import sliced_map50
from lowlight_det.eval.darkness import darkened_records
from lowlight_det.io import write_json
from lowlight_det.losses import ZeroReferenceLoss
from lowlight_det.losses.detection import detection_loss, freeze
from lowlight_det.train.loop import EpochLoop
from lowlight_det.train.zero_reference import TrainingDivergedError

logger = logging.getLogger(__name__)


@dataclass
class FinetuneResult:
    """What :func:`finetune` returns."""

    model: nn.Module
    history: list[dict[str, Any]]
    best: Path | None
    best_map50: float
    holdout: dict[str, Any]  # did it help: none / start / best on the hold-out, Δ vs none with its interval


def holdout_line(h: dict[str, Any]) -> str:
    """One line saying whether tuning helped on the hold-out.

    Example:
        >>> holdout_line({"tuning_images": 8, "holdout_images": 2, "none": {"map50": 50.0}, "start": {"map50": 40.0},
        ...               "best": {"epoch": 3, "map50": 52.0}, "delta_map50_vs_none": 2.0, "ci95": [-1.0, 5.0]})
        'hold-out (2 images; tuned on 8): none 50.0, start 40.0, best (epoch 3) 52.0 mAP50: +2.0 vs none [-1.0, +5.0]'
    """
    ci = h.get("ci95")
    best = h.get("best") or {}
    text = (f"hold-out ({h['holdout_images']} images; tuned on {h['tuning_images']}): none {h['none']['map50']:.1f}, "
            f"start {h['start']['map50']:.1f}")
    if best:
        text += f", best (epoch {best['epoch']}) {best['map50']:.1f} mAP50: {h['delta_map50_vs_none']:+.1f} vs none"
        text += f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else ""
    return text


def split_records(ds: DetectionDataset, fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """Deterministic hold-out: (train, val) with ``fraction`` of the images (seeded permutation) in val."""
    order = np.random.default_rng(seed).permutation(len(ds.records))
    n_val = max(1, round(fraction * len(order)))
    val_idx = set(order[:n_val].tolist())
    return ([r for i, r in enumerate(ds.records) if i not in val_idx],
            [r for i, r in enumerate(ds.records) if i in val_idx])


class TuningData(NamedTuple):
    """The images a fine-tuning run learns from and the hold-out it validates on."""

    dataset: DetectionDataset
    info: dict[str, Any]  # the catalogue entry (class maps, terms)
    train: list[Any]
    val: list[Any]
    val_from: str  # where the hold-out comes from, in words
    self_labelled: bool = False  # unlabelled footage: the detector's own detections will label the hold-out


def _label_free(cfg: FinetuneConfig) -> bool:
    return cfg.w_det == 0 and cfg.teacher > 0


def _footage(cfg: FinetuneConfig) -> TuningData:
    """Unlabelled footage without ``val_data``: ``cfg.limit`` images to tune on (the same stratified sample as with a
    labelled hold-out) and a seeded hold-out of ``val_fraction`` as many images from the rest of the footage (or,
    when the footage has no more, from the sample itself)."""
    footage, info = load_unlabelled(cfg.data, data_root=cfg.data_root)
    ds = footage.subset(cfg.limit, sample="stratified", seed=cfg.seed)
    used = {r.image_id for r in ds.records}
    rest = [r for r in footage.records if r.image_id not in used]
    n_val = max(1, round(cfg.val_fraction * len(ds.records)))
    if len(rest) >= n_val:
        picked = set(np.random.default_rng(cfg.seed).permutation(len(rest))[:n_val].tolist())
        train, val = ds.records, [r for i, r in enumerate(rest) if i in picked]
        where = f"{n_val} other images of {cfg.data} (seed {cfg.seed})"
    else:
        train, val = split_records(ds, cfg.val_fraction, cfg.seed)
        where = f"{cfg.val_fraction:.0%} of {cfg.data} (seed {cfg.seed})"
    return TuningData(ds, info, train, val, f"{where}, labelled by the detector itself", self_labelled=True)


def tuning_data(cfg: FinetuneConfig) -> TuningData:
    """``cfg.split`` (a stratified sample with ``cfg.limit``) and its hold-out: ``cfg.val_split``, or a seeded
    ``cfg.val_fraction`` of the training split."""
    if cfg.val_data:  # training images may carry no labels (teacher-only tuning); the hold-out does
        val_ds, info = load_detection_dataset(cfg.val_data, split=cfg.val_split or cfg.split, data_root=cfg.data_root)
        val_ds = val_ds.subset(cfg.limit, sample="stratified", seed=cfg.seed)
        try:
            ds, _ = load_detection_dataset(cfg.data, split=cfg.split, data_root=cfg.data_root)
        except ValueError:
            if not _label_free(cfg):
                raise ValueError(f"--data {cfg.data}: no labels; with unlabelled footage set --w-det 0 and "
                                 "--teacher > 0") from None
            ds, _ = load_unlabelled(cfg.data, data_root=cfg.data_root)
        ds = DetectionDataset(ds.name, val_ds.class_names, ds.subset(cfg.limit, sample="stratified", seed=cfg.seed).records,
                              ds.issues)
        return TuningData(ds, info, ds.records, val_ds.records, f"{cfg.val_data} ({cfg.val_split or cfg.split})")
    try:
        ds, info = load_detection_dataset(cfg.data, split=cfg.split, data_root=cfg.data_root)
    except ValueError:
        if not _label_free(cfg):
            raise
        return _footage(cfg)  # no label anywhere: the detector labels its own hold-out
    ds = ds.subset(cfg.limit, sample="stratified", seed=cfg.seed)
    if cfg.val_split:
        val_ds, _ = load_detection_dataset(cfg.data, split=cfg.val_split, data_root=cfg.data_root)
        train_records, val_records = ds.records, val_ds.subset(cfg.limit, sample="stratified", seed=cfg.seed).records
    else:
        train_records, val_records = split_records(ds, cfg.val_fraction, cfg.seed)
    val_from = cfg.val_split or f"{cfg.val_fraction:.0%} of {cfg.split} (seed {cfg.seed})"
    return TuningData(ds, info, train_records, val_records, val_from)


def _targets(batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: batch[k].to(device) for k in ("batch_idx", "cls", "bboxes")}


def finetune(cfg: FinetuneConfig, *, resume: str | Path | None = None, progress: bool = True) -> FinetuneResult:
    """Fine-tune ``cfg.enhancer`` for the detector ``cfg.detector``; see the module docstring.

    Writes to ``cfg.out``: ``config.yaml``, ``last.pt`` (every epoch, atomically), ``best.pt`` (best val
    mAP50; loadable as enhancer weights anywhere), ``log.csv``, ``history.json``. Seed before calling.
    """
    dist_info = init_distributed(resolve_device(cfg.device))  # before Ultralytics is imported (see init_distributed)
    device = dist_info.device  # cuda:LOCAL_RANK on each rank of a multi-GPU run
    from lowlight_det.detection.pipeline import EnhancedDetector
    from lowlight_det.detection.ultralytics import (
        build_detector,
        class_restricted_loss,
        detector_module,
        letterboxed_dataset,
        pseudo_targets,
    )

    work = Path(cfg.out) / "work" / f"rank{dist_info.rank}"  # Ultralytics writes caches next to the data: one folder per rank

    ds, info, train_records, val_records, val_from, self_labelled = tuning_data(cfg)
    evaluator = EnhancedDetector(cfg.detector, "none", device=device, imgsz=cfg.imgsz, threads=cfg.threads)
    if self_labelled:  # the detector's own classes; its detections label the hold-out
        names = [str(evaluator.names[i]) for i in sorted(evaluator.names)]
        ds = DetectionDataset(ds.name, names, ds.records, ds.issues)
        class_map = resolve_class_map("identity", names, evaluator.names)
        val_records = self_labelled_holdout(evaluator, val_records, class_map, cfg, work / "holdout")
    else:
        class_map = resolve_class_map(cfg.class_map, ds.class_names, evaluator.names, info.get("class_maps"))
    val_gt = to_coco(DetectionDataset("val", ds.class_names, val_records))
    train_yaml = export_for_detector(train_records, class_map, evaluator.names, work / "train")
    dataset = letterboxed_dataset(train_yaml, split="val", imgsz=cfg.imgsz)
    detector = freeze(detector_module(build_detector(cfg.detector)).to(device))  # its own copy, for the loss
    # the labelled loss on the class map's classes only (the teacher's targets are the detector's own, any class)
    labelled_loss = class_restricted_loss(detector, class_map.det_to_ds) if cfg.loss_classes == "labelled" else None

    options: dict[str, Any] = {"adaptive": True if cfg.gate == "global" else cfg.gate} if cfg.adaptive else {}
    if cfg.denoise:
        options["denoise"] = True if cfg.denoise_scales == 1 else cfg.denoise_scales
    enhancer = create_enhancer(cfg.enhancer, weights=cfg.init_weights, **options)
    enhancer = enhancer.to(device).train()
    if not hasattr(enhancer, "forward_curves"):
        raise ValueError(f"enhancer {cfg.enhancer!r} is not a trainable curve enhancer")
    optimizer = torch.optim.Adam(_param_groups(enhancer, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    meta = {"detector": {"path": cfg.detector, "sha256": sha256_file(cfg.detector)},
            "dataset": {"name": cfg.data, "split": cfg.split, "train_images": len(train_records), "val": val_from,
                        "val_images": len(val_records)},
            "class_map": class_map.description, "tuned_for": "detection (frozen detector loss)",
            "loss_classes": cfg.loss_classes,
            "data_terms": info.get("terms")}  # the tuning data's terms travel with the weights (ExDark's)
    loop = EpochLoop(cfg, job="finetune", arch=cfg.enhancer, model=enhancer, optimizer=optimizer, device=device,
                     dist_info=dist_info, meta=meta, scaler=scaler)
    best_map50, bad_epochs = -1.0, 0
    holdout: dict[str, Any] = {}
    if resume:
        state = loop.resume(resume)
        best_map50, bad_epochs = float(state["best_map50"]), int(state["bad_epochs"])
        holdout = dict(state.get("holdout") or {})
    out = Path(cfg.out)

    by_light: dict[str, dict[str, float]] = {}  # self-labelled hold-out: mAP50 as is / darker, per validation

    def check(model: nn.Module, name: str) -> tuple[float, float]:
        """Validate ``model`` on the hold-out (main process), keep its predictions as ``holdout_<name>.json``."""
        scores = [-1.0, -1.0]
        if dist_info.is_main:
            run = validate(evaluator, model, val_records, class_map, val_gt, imgsz=cfg.imgsz,
                           batch_size=cfg.batch_size, workers=cfg.workers, workdir=work)
            write_json(out / f"holdout_{name}.json", run.predictions)
            scores = [run.metrics.map50, run.metrics.map50_95]
            if self_labelled:
                by_light[name] = sliced_map50(val_gt, run.predictions, "light")
        map50, map50_95 = broadcast_floats(scores, dist_info, device)
        return map50, map50_95

    if not holdout:  # what the tuned enhancer has to beat, on the same images
        none50, none5095 = check(create_enhancer("none"), "none")
        start50, start5095 = check(enhancer.eval(), "start")
        holdout = {"tuning_images": len(train_records), "holdout_images": len(val_records),
                   "none": {"map50": none50, "map50_95": none5095}, "start": {"map50": start50, "map50_95": start5095}}
        for name in by_light:  # the self-labelled hold-out's halves
            holdout[name]["map50_by_light"] = by_light[name]
    loop.log("tuning on %d images, validating on %d (%s): none %.2f, start %.2f mAP50", len(train_records),
             len(val_records), val_from, holdout["none"]["map50"], holdout["start"]["map50"])
    ref_loss = ZeroReferenceLoss(**to_dict(cfg.loss))
    ranges = training_cameras(cfg.darken_sensor)
    loader = loop.loader(dataset, batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed,
                         collate_fn=dataset.collate_fn)
    net = loop.wrap()
    best_path = Path(cfg.out) / "best.pt" if (Path(cfg.out) / "best.pt").exists() else None

    for epoch in loop.epochs(cfg.epochs):
        if bad_epochs >= cfg.patience:
            loop.log("early stop: no val mAP50 gain for %d epochs", bad_epochs)
            break
        enhancer.train()
        sums = {"total": 0.0, "det": 0.0, "ref": 0.0}
        steps, t0 = 0, time.perf_counter()
        bar = loop.progress(loader, f"finetune {cfg.enhancer} {epoch + 1}/{cfg.epochs}", show=progress)
        for batch in bar:
            original = batch["img"].to(device).float() / 255
            stream = ((epoch * 1_000_003) + steps) * 64 + dist_info.rank  # noise per (seed, epoch, step, rank):
            img = original                                                # resumes are exact
            stops = torch.zeros(img.shape[0])  # stops darker per labelled image (0: as it is)
            if cfg.darken_share > 0:  # the dark end
                img, stops = random_darkening(img, share=cfg.darken_share, stops=(cfg.darken_ev_min, cfg.darken_ev_max),
                                          generator=image_generator(cfg.seed, stream), ranges=ranges)
            labelled = cfg.w_det > 0 or cfg.teacher == 0  # (w_det 0 alone: logged, not trained on)
            parts = [img] if labelled else []
            if cfg.teacher > 0:  # label-free: the detector's detections on the original supervise a darker copy
                pseudo = pseudo_targets(detector, original, conf=cfg.teacher_conf)
                dark, _ = random_darkening(original, share=1.0, stops=(cfg.darken_ev_min, cfg.darken_ev_max),
                                           generator=image_generator(cfg.seed, stream + 32), ranges=ranges)
                parts.append(dark)
            x = torch.cat(parts) if len(parts) > 1 else parts[0]  # one forward pass (DDP)
            n = img.shape[0] if labelled else 0
            zero = x.new_zeros(())
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                curves_out = net(x)
                enhanced = curves_out.image.clamp(0, 1)
                det = (detection_loss(detector, enhanced[:n], _targets(batch, device), criterion=labelled_loss)[0]
                       if n else zero)
                teach = detection_loss(detector, enhanced[n:], pseudo)[0] if cfg.teacher > 0 else zero
            ref = ref_loss(curves_out.ungated.float(), x, curves_out.curves.float()).total
            loss = cfg.w_det * det.float() + cfg.teacher * teach.float() + cfg.w_ref * ref
            if curves_out.blur is not None:  # the denoising map: how much was blurred, on the images as they are
                blur = _mean_as_is(curves_out.blur[:n], stops)
                loss = loss + cfg.w_blur * blur if cfg.w_blur > 0 else loss
                sums["blur"] = sums.get("blur", 0.0) + blur.item()
            if curves_out.strength is not None and cfg.w_strength > 0:  # the strength, on the images as they are
                calm = _mean_as_is(curves_out.strength[:n], stops)
                loss = loss + cfg.w_strength * calm
                sums["strength_as_is"] = sums.get("strength_as_is", 0.0) + calm.item()
            if not torch.isfinite(loss):
                raise TrainingDivergedError(f"non-finite loss at epoch {epoch + 1}, step {steps + 1} "
                                            f"(det={det.item():.4g}, teacher={teach.item():.4g}, ref={ref.item():.4g}); "
                                            "last checkpoint kept")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            norms = [nn.utils.clip_grad_norm_(group["params"], cfg.grad_clip)  # the gate's gradient must not
                     for group in optimizer.param_groups]                         # shrink the curve net's
            if not use_amp and not all(torch.isfinite(n) for n in norms):  # (under AMP the scaler skips such steps)
                raise TrainingDivergedError(f"non-finite gradients at epoch {epoch + 1}, step {steps + 1} "
                                            f"(loss {loss.item():.4g}); last checkpoint kept")
            scaler.step(optimizer)
            scaler.update()
            sums["total"] += loss.item()
            sums["det"] += det.item()
            sums["ref"] += ref.item()
            if cfg.teacher > 0:
                sums["teacher"] = sums.get("teacher", 0.0) + teach.item()
            if curves_out.strength is not None:
                sums["strength"] = sums.get("strength", 0.0) + curves_out.strength.mean().item()  # mean gate
            steps += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
        enhancer.eval()
        val_map50, val_map50_95 = check(enhancer, "last")  # one validation and early-stopping decision for all ranks
        improved = val_map50 > best_map50
        best_map50, bad_epochs = (val_map50, 0) if improved else (best_map50, bad_epochs + 1)
        row = {"epoch": epoch + 1, **loop.epoch_means(sums, steps), "val_map50": val_map50,
               "val_map50_95": val_map50_95, "none_map50": holdout["none"]["map50"],
               "start_map50": holdout["start"]["map50"], "best": improved, "time_s": round(time.perf_counter() - t0, 1)}
        if "last" in by_light:
            row["val_map50_by_light"] = by_light["last"]
        loop.log("epoch %d: loss %.4f (det %.4f, ref %.4f) val mAP50 %.2f mAP50-95 %.2f (none %.2f, start %.2f)%s",
                 epoch + 1, row["total"], row["det"], row["ref"], val_map50, val_map50_95, holdout["none"]["map50"],
                 holdout["start"]["map50"], " (best)" if improved else "")
        if improved:
            holdout["best"] = {"epoch": epoch + 1, "map50": val_map50, "map50_95": val_map50_95,
                               **({"map50_by_light": by_light["last"]} if "last" in by_light else {})}
            if dist_info.is_main:
                os.replace(out / "holdout_last.json", out / "holdout_best.json")
        ckpt = loop.end_epoch(epoch, row, meta={"val": {"map50": val_map50, "map50_95": val_map50_95}},
                              best_map50=best_map50, bad_epochs=bad_epochs, holdout=holdout)
        if improved and dist_info.is_main:
            best_path = atomic_save({k: ckpt[k] for k in WEIGHTS_KEYS}, out / "best.pt")
    holdout = _with_interval(holdout, val_gt, out) if dist_info.is_main else holdout
    if dist_info.is_main:
        write_json(out / "holdout.json", holdout)
        loop.log("%s", holdout_line(holdout))
    return FinetuneResult(enhancer, loop.history, best_path, best_map50, holdout)


def self_labelled_holdout(evaluator: Any, records: list[ImageRecord], class_map: Any, cfg: FinetuneConfig,
                          workdir: Path) -> list[ImageRecord]:
    """A hold-out of unlabelled footage, labelled by the frozen detector itself: each image as it is, its boxes the
    detector's detections of confidence ≥ ``cfg.teacher_conf`` (what the teacher signal trains towards), followed by a
    copy darkened by the middle of ``cfg.darken_ev_min..max`` stops on the darkness sweep's sensor (seeded, cached under
    ``workdir``) with the same boxes and ids offset past the originals'. ``none`` scores about 100 mAP50 on the first
    half by construction, so an enhancer's score there is how much of the detector's own findings it keeps; on the
    second, how many it recovers in the dark. Attribute ``light``: ``as is`` / ``<stops> EV darker``."""
    preds = predict(evaluator, create_enhancer("none"), records, class_map, imgsz=cfg.imgsz,
                    batch_size=cfg.batch_size, workdir=workdir, workers=cfg.workers)
    found: dict[int, list[dict[str, Any]]] = {r.image_id: [] for r in records}
    for p in preds:
        if p["score"] >= cfg.teacher_conf:
            found[int(p["image_id"])].append(p)
    as_is = []
    for rec in records:
        mine = found[rec.image_id]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (p["bbox"] for p in mine)], np.float32).reshape(-1, 4)
        labels = np.array([p["category_id"] - 1 for p in mine], np.int64)
        as_is.append(replace(rec, boxes_xyxy=boxes, labels=labels, attributes={**rec.attributes, "light": "as is"}))
    stops = (cfg.darken_ev_min + cfg.darken_ev_max) / 2
    offset = max(r.image_id for r in records) + 1
    dark = [replace(r, image_id=r.image_id + offset, attributes={**r.attributes, "light": f"{stops:g} EV darker"})
            for r in darkened_records(as_is, stops, workdir / f"ev{stops:g}", seed=cfg.seed)]
    logger.info("self-labelled hold-out: %d images, %d detections of confidence >= %g, as they are and %g stops darker",
                len(records), sum(len(r.labels) for r in as_is), cfg.teacher_conf, stops)
    return as_is + dark


def _with_interval(holdout: dict[str, Any], gt: dict[str, Any], out: Path) -> dict[str, Any]:
    """``holdout`` with the best epoch's Δ mAP50 vs none and its paired 95% interval over half-samples of the
    hold-out images (from the kept predictions)."""
    files = [out / "holdout_none.json", out / "holdout_best.json"]
    if "best" not in holdout or not all(f.is_file() for f in files):
        return holdout
    none, best = (json.loads(f.read_text()) for f in files)
    d = paired_delta_map50(gt, none, best, resamples=200)
    return {**holdout, "delta_map50_vs_none": round(d.delta, 3), "ci95": [round(d.low, 3), round(d.high, 3)],
            "ci_resamples": d.resamples}


def _mean_as_is(maps: torch.Tensor, stops: torch.Tensor) -> torch.Tensor:
    """Mean of per-image maps (B, 1, h, w) (the denoising map, the strength) over the images not darkened (``stops``
    0); 0 if none."""
    as_is = (stops[: maps.shape[0]] == 0).to(maps.device)
    if not bool(as_is.any()):
        return maps.new_zeros(())
    return maps[as_is].float().mean()


def _param_groups(enhancer: nn.Module, cfg: FinetuneConfig) -> list[dict[str, Any]]:
    """Curve-estimator parameters at ``cfg.lr``; the small heads' (strength gate, denoising map) at ``cfg.gate_lr``."""
    heads = ("gate.", "denoiser.")
    gate = [p for n, p in enhancer.named_parameters() if n.startswith(heads)]
    rest = [p for n, p in enhancer.named_parameters() if not n.startswith(heads)]
    return [{"params": rest}] + ([{"params": gate, "lr": cfg.gate_lr, "weight_decay": 0.0}] if gate else [])
