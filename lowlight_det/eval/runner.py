"""Evaluate enhancers in front of a detector on one dataset: COCO mAP, slices, timings, resumable."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from lowlight_det.config import EvalConfig
from lowlight_det.data.class_map import ClassMap, resolve_class_map
from lowlight_det.data.detection import DetectionDataset, ImageRecord, to_coco
from lowlight_det.detection.data import export_for_detector
from lowlight_det.devices import resolve_device
from lowlight_det.distributed import DistInfo, gather
from lowlight_det.enhancers import create_enhancer, is_learned
from lowlight_det.enhancers.weights import sha256_file
from lowlight_det.eval.coco import CocoMetrics, coco_map, sliced_map50
from lowlight_det.eval.darkness import baseline_of
from lowlight_det.eval.fusion import HorizontalFlip, unflip
from lowlight_det.io import read_bgr8, write_image, write_json
from lowlight_det.runinfo import versions

logger = logging.getLogger(__name__)


@dataclass
class Variant:
    """One row of the result table: an enhancer on a set of images (dark, or a well-lit reference)."""

    name: str
    enhancer: str
    records: list[ImageRecord]
    label: str = ""
    darken_ev: float | None = None  # stops darker than the dataset (darkness sweep); None: not part of a sweep
    flip: bool = False  # the detector sees the images mirrored, predictions are mirrored back (fusion control)


@dataclass
class EnhancerResult:
    """Metrics of one row."""

    name: str
    enhancer: str
    label: str
    weights: dict[str, Any]
    metrics: dict[str, Any]
    by_light: dict[str, float]
    by_scene: dict[str, float]
    timing_ms: dict[str, float]
    images: int
    predictions: int
    fingerprint: str
    darken_ev: float | None = None
    wall_s: float = 0.0  # time this row took to compute (kept when a resumed run reuses it)
    reused: bool = False  # read back from an earlier run by --resume


def row_weights(spec: str | None, rows: tuple[str, ...]) -> dict[str, str]:
    """``--enhancer-weights`` as {row: weights id or path}.

    ``ROW=WEIGHTS[,ROW=WEIGHTS]`` names the rows; a bare value is accepted when exactly one learned row is
    evaluated (it is never applied silently to several rows).

    Raises:
        ValueError: a named row is not evaluated or has no weights, or a bare value is ambiguous.

    Example:
        >>> row_weights("zerodce++=runs/best.pt", ("none", "zerodce", "zerodce++"))
        {'zerodce++': 'runs/best.pt'}
        >>> row_weights("runs/best.pt", ("none", "zerodce++", "gamma"))
        {'zerodce++': 'runs/best.pt'}
    """
    if not spec:
        return {}
    learned = [r for r in rows if is_learned(r)]
    if "=" in spec and not Path(spec).exists():
        mapping = dict(part.split("=", 1) for part in spec.split(",") if part.strip())
        mapping = {k.strip(): v.strip() for k, v in mapping.items()}
        wrong = [k for k in mapping if k not in learned]
        if wrong:
            raise ValueError(f"--enhancer-weights names {', '.join(wrong)}, which {'is' if len(wrong) == 1 else 'are'} "
                             f"not a learned row of this evaluation ({', '.join(learned) or 'none'})")
        return mapping
    if len(learned) != 1:
        raise ValueError(f"--enhancer-weights {spec!r} would apply to {len(learned)} learned rows "
                         f"({', '.join(learned) or 'none'}); name the row: ROW={spec}")
    return {learned[0]: spec}


def build_enhancer(name: str, cfg: EvalConfig) -> torch.nn.Module:
    """The enhancer of row ``name``: its weights from ``cfg.enhancer_weights`` if named there, else its default."""
    weights = row_weights(cfg.enhancer_weights, cfg.enhance).get(name)
    model = create_enhancer(name, weights=weights) if weights else create_enhancer(name)
    if cfg.enhancer_precision == "bfloat16" and is_learned(name):
        model = model.to(torch.bfloat16)  # the network in bfloat16; the curves are applied in the image's dtype
        model.precision = "bfloat16"  # type: ignore[assignment]
    return model


def enhancer_identity(model: torch.nn.Module) -> dict[str, Any]:
    """Where an enhancer's weights came from (for the report and the resume fingerprint)."""
    ident = {"source": getattr(model, "weights_source", None), "sha256": getattr(model, "weights_sha256", None),
             "module": repr(model) if not any(True for _ in model.parameters()) else type(model).__name__}
    if getattr(model, "data_terms", None):
        ident["data_terms"] = model.data_terms
    if getattr(model, "precision", None):
        ident["precision"] = model.precision
    return ident


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def images_fingerprint(records: list[ImageRecord]) -> str:
    """Digest of the images a row sees: ids, paths, sizes and modification times (a replaced file counts)."""
    def stat(path: Path) -> tuple[int, int]:
        try:
            st = path.stat()
        except OSError:
            return -1, -1
        return st.st_size, st.st_mtime_ns

    return _fingerprint([(r.image_id, str(r.path), *stat(r.path), r.boxes_xyxy.tolist(), r.labels.tolist())
                         for r in records])


def device_name(device: torch.device, threads: int) -> str:
    """Human-readable device description for timings."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()} ({threads} threads)"


def _export_for_validator(variant: Variant, class_map: ClassMap, detector: Any, workdir: Path,
                          enhancer: torch.nn.Module | None) -> Path:
    """The variant's images for Ultralytics' validator; with ``enhancer`` (enhance-before-letterbox mode)
    the images are enhanced at native resolution first."""
    writer = None
    if enhancer is not None:
        def writer(rec: ImageRecord, stem: Path) -> Path:
            return write_image(stem.with_suffix(".png"), detector.enhance_for_display(read_bgr8(rec.path)))
    return export_for_detector(variant.records, class_map, detector.names, workdir / f"{variant.name}_data",
                               image_writer=writer)


class RowRun(NamedTuple):
    """What one row's pass through the detector gives."""

    predictions: list[dict[str, Any]]  # COCO results in dataset class ids (category = index + 1)
    timing_ms: dict[str, float]        # ms/image per stage, images/s
    ultralytics_map50: float | None    # Ultralytics' own mAP50 (secondary, for cross-checks; None when sharded)
    images: int
    wall_s: float


def run_variant(detector: Any, variant: Variant, enhancer: torch.nn.Module, class_map: ClassMap, *,
                cfg: EvalConfig, workdir: Path, progress: bool = False, dist_info: DistInfo | None = None) -> RowRun:
    """Predictions (COCO results, ordered by image id), ms/image per stage and Ultralytics' own mAP50 for one row.

    Runs Ultralytics' validator (its data loading, letterbox, multi-label NMS at ``cfg.conf``) with the
    enhancer in ``preprocess``; the predictions are scored by our pycocotools code afterwards. Under
    ``torchrun`` (``dist_info`` of several processes) each process runs its share of the images and every
    process gets all the predictions; Ultralytics' own mAP50 is then not computed (``None``).
    """
    dist_info = dist_info or DistInfo()
    if dist_info.world_size <= 1:
        return _run_shard(detector, variant, enhancer, class_map, cfg=cfg, workdir=workdir, progress=progress)
    mine = replace(variant, records=shard_batches(variant.records, dist_info, cfg.batch_size))
    runs = gather(_run_shard(detector, mine, enhancer, class_map, cfg=cfg, workdir=workdir / f"rank{dist_info.rank}",
                             progress=progress and dist_info.is_main), dist_info)
    return merge_shards(runs)


def shard_batches(records: list[ImageRecord], dist_info: DistInfo, batch_size: int) -> list[ImageRecord]:
    """This process's share of ``records`` as the same batches one process would run.

    Ultralytics' validator batches images in order of aspect ratio and letterboxes each batch to one shape, so an
    image's padding depends on its batch neighbours. Sorted by aspect ratio (ties by id), cut into batches, each
    process takes one contiguous run of whole batches: re-sorted by the validator, they form the same batches with
    the same shapes as in one process (an image whose aspect ratio ties with a neighbour's across a batch
    boundary may still swap places with it).
    """
    order = sorted(records, key=lambda r: (r.height / max(r.width, 1), r.image_id))
    n_batches = -(-len(order) // batch_size)
    first = dist_info.rank * n_batches // dist_info.world_size
    last = (dist_info.rank + 1) * n_batches // dist_info.world_size
    return order[first * batch_size:last * batch_size]


def merge_shards(runs: list[RowRun]) -> RowRun:
    """One row from the processes' shares: all predictions (by image id), ms/image per stage averaged over the
    images, images/s from the slowest process (they run side by side)."""
    n = sum(r.images for r in runs)
    preds = sorted((p for r in runs for p in r.predictions), key=lambda p: p["image_id"])  # stable: per-image order kept
    timing = {k: round(sum(r.timing_ms[k] * r.images for r in runs) / max(n, 1), 2)
              for k in runs[0].timing_ms if k != "images_per_s"}
    wall = max(r.wall_s for r in runs)
    timing.update(images_per_s=round(n / max(wall, 1e-9), 2), processes=len(runs))
    return RowRun(preds, timing, None, n, wall)


def _run_shard(detector: Any, variant: Variant, enhancer: torch.nn.Module, class_map: ClassMap, *,
               cfg: EvalConfig, workdir: Path, progress: bool) -> RowRun:
    from lowlight_det.detection.ultralytics import validate_with_enhancer

    native = cfg.enhance_before_letterbox
    if native:
        detector.set_enhancer(enhancer)
    data_yaml = _export_for_validator(variant, class_map, detector, workdir, enhancer if native else None)
    n_batches = -(-len(variant.records) // cfg.batch_size)
    bar = tqdm(total=n_batches, desc=f"eval {variant.name}", unit="batch", disable=not progress, leave=False)
    t0 = time.perf_counter()
    in_loop = HorizontalFlip() if variant.flip else create_enhancer("none") if native else enhancer
    run = validate_with_enhancer(
        detector.yolo, data_yaml, in_loop, imgsz=cfg.imgsz,
        batch=cfg.batch_size, conf=cfg.conf, iou=cfg.iou, max_det=cfg.max_det, device=detector.device,
        workers=cfg.workers, project=workdir / "ultralytics", name=variant.name, on_batch=lambda: bar.update(1))
    wall = time.perf_counter() - t0
    bar.close()
    n = max(len(variant.records), 1)
    preds = dataset_predictions(run.predictions, class_map)
    if variant.flip:
        preds = unflip(preds, {r.image_id: r.width for r in variant.records})
    preds.sort(key=lambda p: p["image_id"])  # one order however the images were batched or sharded (stable)
    speed = run.speed_ms  # ms/image: preprocess (incl. enhancer), inference, loss, postprocess
    enhance = 1e3 * run.enhance_seconds / n
    if native:
        enhance = detector.times.ms_per_image()["enhance"]
    detect = speed["preprocess"] + speed["inference"] + speed["postprocess"] - (0 if native else enhance)
    load = max(1e3 * wall / n - sum(speed.values()), 0.0)
    timing = {"decode": load, "enhance": enhance, "detect": detect, "total": load + enhance + detect,
              "inference": speed["inference"], "nms": speed["postprocess"], "images_per_s": n / wall}
    return RowRun(preds, {k: round(v, 2) for k, v in timing.items()}, round(100 * run.map50, 3), len(variant.records),
                  wall)


def dataset_predictions(raw: list[dict[str, Any]], class_map: ClassMap) -> list[dict[str, Any]]:
    """The detector's raw predictions (``detector_class`` fields) as COCO results in the dataset's classes
    (category = index + 1); detections of classes the dataset does not have are dropped."""
    labels, keep = class_map.apply(np.array([p["detector_class"] for p in raw], dtype=np.int64))
    kept = (p for p, k in zip(raw, keep.tolist(), strict=True) if k)
    return [{"image_id": int(p["image_id"]), "category_id": int(label) + 1, "bbox": list(p["bbox"]), "score": p["score"]}
            for p, label in zip(kept, labels.tolist(), strict=True)]


class Validation(NamedTuple):
    """COCO metrics of one validation pass and the predictions behind them (for paired intervals)."""

    metrics: CocoMetrics
    predictions: list[dict[str, Any]]


def validate(detector: Any, enhancer: torch.nn.Module, records: list[ImageRecord], class_map: ClassMap,
             gt: dict[str, Any], *, imgsz: int, batch_size: int, workdir: Path, workers: int = 0) -> Validation:
    """COCO mAP of ``enhancer`` in front of ``detector`` (an ``EnhancedDetector``) on ``records``, with the
    evaluator's own pipeline and metric: what fine-tuning validates each epoch with."""
    preds = predict(detector, enhancer, records, class_map, imgsz=imgsz, batch_size=batch_size, workdir=workdir,
                    workers=workers)
    return Validation(coco_map(gt, preds), preds)


def predict(detector: Any, enhancer: torch.nn.Module, records: list[ImageRecord], class_map: ClassMap, *, imgsz: int,
            batch_size: int, workdir: Path, workers: int = 0) -> list[dict[str, Any]]:
    """``enhancer`` + ``detector``'s predictions on ``records`` (COCO results in the dataset's classes, every
    confidence down to the evaluator's threshold), through the evaluator's own pipeline."""
    cfg = EvalConfig(imgsz=imgsz, batch_size=batch_size, workers=workers, out=str(workdir))
    return run_variant(detector, Variant("val", "tuned", records), enhancer, class_map, cfg=cfg, workdir=workdir).predictions


def evaluate_variants(cfg: EvalConfig, ds: DetectionDataset, variants: list[Variant], detector: Any,
                      class_map: ClassMap, *, detector_sha: str | None, resume: bool = False,
                      progress: bool = True, dist_info: DistInfo | None = None) -> list[EnhancerResult]:
    """Evaluate each row, writing ``predictions_<name>.json`` and ``results/<name>.json`` atomically as it goes.

    With ``resume``, rows whose result file has the same fingerprint are read back, not recomputed. Under
    ``torchrun`` every process runs its share of each row's images; the first one scores and writes, and is the
    only one that returns results (the others return ``[]``).
    """
    dist_info = dist_info or DistInfo()
    out = Path(cfg.out)
    gt = to_coco(ds)
    if dist_info.is_main:
        write_json(out / "ground_truth.json", gt)
    gt_digest = _fingerprint(gt)  # annotations as loaded: a changed label file is a different evaluation
    results = []
    for variant in variants:
        enhancer = build_enhancer(variant.enhancer, cfg)
        ident = enhancer_identity(enhancer)
        fp = _fingerprint(cfg.data, cfg.split, cfg.limit, cfg.imgsz, cfg.batch_size, cfg.conf, cfg.iou, cfg.max_det,
                          class_map.description, detector_sha, ident, cfg.enhance_before_letterbox, gt_digest,
                          images_fingerprint(variant.records), variant.darken_ev, *(["mirrored"] if variant.flip else []))
        done = out / "results" / f"{variant.name}.json"
        if resume and done.is_file():
            previous = json.loads(done.read_text())
            if previous.get("fingerprint") == fp:
                logger.info("resume: %s already evaluated, reusing %s", variant.name, done)
                results.append(EnhancerResult(**{**previous, "reused": True}))
                continue
            logger.info("resume: %s was evaluated with other settings; evaluating again", variant.name)
        t_row = time.perf_counter()
        preds, timing, ultra_map50, _, _ = run_variant(detector, variant, enhancer, class_map, cfg=cfg,
                                                       workdir=out / "work", progress=progress, dist_info=dist_info)
        if not dist_info.is_main:
            continue
        write_json(out / f"predictions_{variant.name}.json", preds)
        t_metric = time.perf_counter()
        metrics = coco_map(gt, preds)
        timing["metric"] = round(1e3 * (time.perf_counter() - t_metric) / max(len(variant.records), 1), 2)
        result = EnhancerResult(
            name=variant.name, enhancer=variant.enhancer, label=variant.label, weights=ident,
            metrics={**metrics.as_dict(), "ultralytics_map50_secondary": ultra_map50}, by_light=sliced_map50(gt, preds, "light"),
            by_scene=sliced_map50(gt, preds, "scene"), timing_ms=timing, images=len(variant.records),
            predictions=len(preds), fingerprint=fp, darken_ev=variant.darken_ev,
            wall_s=round(time.perf_counter() - t_row, 1))
        write_json(done, asdict(result))
        logger.info("%s: mAP50-95 %.2f mAP50 %.2f (%.0f ms/image)", variant.name, metrics.map50_95, metrics.map50,
                    timing["total"])
        results.append(result)
    return results


def deltas(results: list[EnhancerResult]) -> dict[str, dict[str, Any]]:
    """mAP differences of every row against the ``none`` row on the same images (same darkness)."""
    by_name = {r.name: r for r in results}
    out = {}
    for r in results:
        base = by_name.get(baseline_of(r.name))
        if base is not None:
            out[r.name] = {k: round(r.metrics[k] - base.metrics[k], 3) for k in ("map50_95", "map50")}
    return out


def prepare(cfg: EvalConfig, ds: DetectionDataset, info: dict[str, Any], *, device: torch.device | None = None
            ) -> tuple[Any, ClassMap, torch.device, str | None]:
    """Load the detector once (on ``device``, default ``cfg.device``) and resolve the class mapping."""
    from lowlight_det.detection.pipeline import EnhancedDetector  # imports ultralytics

    if cfg.weights is None:
        raise ValueError(f"--weights is required for dataset {cfg.data!r} (a local YOLO .pt file)")
    device = device or resolve_device(cfg.device)
    detector = EnhancedDetector(cfg.weights, "none", device=device, imgsz=cfg.imgsz, conf=cfg.conf, iou=cfg.iou,
                                max_det=cfg.max_det, enhance_before_letterbox=cfg.enhance_before_letterbox,
                                threads=cfg.threads)
    class_map = resolve_class_map(cfg.class_map, ds.class_names, detector.names, info.get("class_maps"))
    sha = sha256_file(cfg.weights) if Path(cfg.weights).is_file() else None
    return detector, class_map, device, sha


def run_info(cfg: EvalConfig, device: torch.device, threads: int) -> dict[str, Any]:
    """Config, versions and device for metrics.json."""
    return {"config": asdict(cfg), "versions": versions(), "device": device_name(device, threads)}
