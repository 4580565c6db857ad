"""``evaluate(cfg)``: the whole evaluation, from dataset to metrics.json, report.md and plots."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lowlight_det.data.detection import DetectionDataset, to_coco
from lowlight_det.data.loaders import load_detection_dataset
from lowlight_det.data.synthesis import SensorModel
from lowlight_det.devices import resolve_device
from lowlight_det.distributed import DistInfo, barrier, init_distributed, shard
from lowlight_det.eval.darkness import (
    baseline_of,
    darkened_records,
    darkness_lines,
    darkness_summary,
    plot_by_darkness,
    row_name,
)
from lowlight_det.eval.fusion import fused_results, fusion_lines, fusion_summary
from lowlight_det.eval.gallery import pick_images, save_gallery
from lowlight_det.eval.report import (
    console_table,
    plot_by_light,
    recovery_lines,
    write_report,
)
from lowlight_det.eval.runner import (
    EnhancerResult,
    EvalConfig,
    Variant,
    build_enhancer,
    deltas,
    evaluate_variants,
    prepare,
    row_weights,
    run_info,
)
from lowlight_det.io import write_json

logger = logging.getLogger(__name__)

WELL_LIT = "well-lit"


@dataclass
class EvalSummary:
    """What an evaluation returns: the rows, the metrics.json content, and the console table."""

    results: list[EnhancerResult]
    metrics: dict[str, Any]
    table: str
    note: str


def demo_config(cfg: EvalConfig, *, imgsz: int | None = None) -> EvalConfig:
    """``cfg`` completed for the built-in demo: the shipped demo detector, its input size, its class map."""
    from lowlight_det.demo import DEMO_IMGSZ, demo_detector

    return replace(cfg, weights=cfg.weights or str(demo_detector()), imgsz=imgsz or DEMO_IMGSZ,
                   class_map="identity" if cfg.class_map == "auto" else cfg.class_map)


def _load(cfg: EvalConfig) -> tuple[DetectionDataset, dict[str, Any], DetectionDataset | None]:
    if cfg.data == "demo":
        from lowlight_det.demo import load_demo

        dark, well_lit = load_demo()
        dark = dark.subset(cfg.limit, sample=cfg.sample, seed=cfg.sample_seed)
        return dark, {}, well_lit.with_ids({r.image_id for r in dark.records})  # the same scenes, well lit
    ds, info = load_detection_dataset(cfg.data, split=cfg.split, data_root=cfg.data_root)
    return ds.subset(cfg.limit, sample=cfg.sample, seed=cfg.sample_seed), info, None


def evaluate(cfg: EvalConfig, *, resume: bool = False, progress: bool = True) -> EvalSummary:
    """Evaluate every enhancer of ``cfg`` on the same images; writes the output folder atomically.

    Raises:
        ValueError, FileNotFoundError: missing data or weights, bad class map.
    """
    t0 = time.perf_counter()
    row_weights(cfg.enhancer_weights, cfg.enhance)  # a wrong --enhancer-weights fails before any work
    dist_info = init_distributed(resolve_device(cfg.device))  # torchrun: images sharded over the processes
    ds, info, well_lit = _load(cfg)
    if not ds.records:
        raise ValueError(f"dataset {cfg.data!r} split {cfg.split!r} has no readable images "
                         f"({dict(ds.issues) or 'nothing found'})")
    detector, class_map, device, detector_sha = prepare(cfg, ds, info, device=dist_info.device)
    out = Path(cfg.out)
    variants = [Variant(name, name, ds.records) for name in cfg.enhance]
    if well_lit is not None:
        variants.insert(0, Variant(WELL_LIT, "none", well_lit.records, label="well-lit (upper bound)"))
    # the darkness sweep darkens the images as evaluated; the demo's own darkening is random, so there the
    # sweep starts from its well-lit scenes
    sweep_base, plain_zero = (well_lit, False) if well_lit is not None else (ds, True)
    levels = tuple(sorted({0.0, *cfg.darken_ev})) if cfg.darken_ev else ()
    for level in levels:
        if level == 0 and plain_zero:
            for v in variants:
                v.darken_ev = 0.0 if v.name in cfg.enhance else None
            continue
        records = sweep_base.records if level == 0 else _darkened(sweep_base.records, level, cfg, progress, dist_info)
        variants += [Variant(row_name(e, level, plain_zero=plain_zero), e, records, darken_ev=level)
                     for e in cfg.enhance]
    if cfg.fuse:  # the control view of each none row: the same images, mirrored
        variants += [Variant(v.name.replace("none", "flip", 1), "none", v.records, label="none, mirrored (control)",
                             darken_ev=v.darken_ev, flip=True) for v in list(variants) if v.enhancer == "none"
                     and v.name != WELL_LIT]
    results = evaluate_variants(cfg, ds, variants, detector, class_map, detector_sha=detector_sha,
                                resume=resume, progress=progress, dist_info=dist_info)
    if not dist_info.is_main:  # the first process scores and reports
        return EvalSummary(results, {}, "", "")
    gt = to_coco(ds)

    @functools.cache
    def predictions(name: str) -> list[Any]:  # each row's predictions file, read once for every use below
        return json.loads((out / f"predictions_{name}.json").read_text())

    if cfg.fuse:
        results += fused_results(results, gt, predictions, out, max_det=cfg.max_det)
    delta = deltas(results)
    if cfg.delta_ci and "none" in cfg.enhance:
        add_intervals(delta, gt, predictions, [r.name for r in results if r.enhancer != "none"], cfg.delta_ci)
    note = "Ran on the built-in demo (synthetic scenes, synthetic darkening); use --data exdark --weights ... " \
           "for real dark images." if cfg.data == "demo" else ""
    extra = recovery_lines([r for r in results if r.name in (WELL_LIT, *cfg.enhance)], WELL_LIT) if well_lit is not None \
        else []
    fusion = fusion_summary(results, gt, predictions, delta, resamples=cfg.delta_ci or 200) if cfg.fuse else None
    darkness = darkness_summary(results, levels, cfg.enhance, plain_zero=plain_zero, deltas=delta,
                                sensor=SensorModel.with_noise(cfg.darken_noise)) if levels else None
    meta = run_info(cfg, device, detector.threads)
    meta.update({"split": cfg.split or ds.info.get("split"), "images": len(ds.records),
                 "dataset_note": ds.info.get("missing_images_note", ds.info.get("note", "")),
                 "detector_sha256": detector_sha, "class_map": class_map.description,
                 "data_issues": dict(ds.issues), "wall_time_s": round(time.perf_counter() - t0, 1),
                 "rows_time_s": round(sum(r.wall_s for r in results), 1),
                 "rows_reused": [r.name for r in results if r.reused], "processes": dist_info.world_size})
    if cfg.limit:
        meta["sample"] = {"limit": cfg.limit, "how": cfg.sample, "seed": cfg.sample_seed,
                          "image_ids": [r.image_id for r in ds.records]}
    metrics = {**meta, "results": {r.name: asdict(r) for r in results}, "delta_vs_none": delta,
               "recovery": extra, "note": note}
    if darkness:
        metrics["darkness"] = darkness
    if fusion:
        metrics["fusion"] = fusion
    write_json(out / "metrics.json", metrics)  # the numbers are safe before anything optional runs
    write_report(out, meta, results, delta, note=note, extra=extra + (darkness_lines(darkness) if darkness else [])
                 + (fusion_lines(fusion) if fusion else []))
    if cfg.plots:
        metrics["plots"] = _plots(cfg, out, ds, [r for r in results if "@ev" not in r.name], detector, predictions)
        if darkness:
            metrics["plots"].append(str(plot_by_darkness(out, darkness)))
        write_json(out / "metrics.json", metrics)
    return EvalSummary(results, metrics, console_table(results, delta), note + ("\n" + "\n".join(extra) if extra else ""))


def _darkened(records: list[Any], level: float, cfg: EvalConfig, progress: bool, dist_info: DistInfo) -> list[Any]:
    """The records darkened by ``level`` stops (cached): each process darkens its share, then all read all."""
    def darken(part: list[Any], show: bool) -> list[Any]:
        return darkened_records(part, level, Path(cfg.out) / "darkened" / f"ev{level:g}", seed=cfg.darken_seed,
                                progress=show, sensor=SensorModel.with_noise(cfg.darken_noise))

    if dist_info.world_size > 1:
        darken(shard(records, dist_info), progress and dist_info.is_main)
        barrier(dist_info)
    return darken(records, progress and dist_info.world_size == 1)


def add_intervals(delta: dict[str, dict[str, Any]], gt: dict[str, Any], predictions: Callable[[str], list[Any]],
                  names: list[str], resamples: int) -> None:
    """Add ``map50_ci95`` ([low, high]) and ``map50_ci_std`` to each row of ``delta`` (rows scored on the same
    images as ``none``), from each row's predictions."""
    from lowlight_det.eval.coco import paired_deltas_map50

    found = {}
    for base in sorted({baseline_of(n) for n in names}):  # each row against none on the same images
        rows = {n: predictions(n) for n in names if baseline_of(n) == base}
        found.update(paired_deltas_map50(gt, predictions(base), rows, resamples=resamples))
    for name, d in found.items():
        delta.setdefault(name, {}).update(map50_ci95=[round(d.low, 3), round(d.high, 3)], map50_ci_std=round(d.std, 3),
                                          ci_resamples=resamples)


def _plots(cfg: EvalConfig, out: Path, ds: DetectionDataset, results: list[EnhancerResult], detector: Any,
           predictions: Callable[[str], list[Any]]) -> list[str]:
    """The lighting bar chart and one gallery of the images where the rows differ most (``gallery.png``)."""
    paths = []
    chart = plot_by_light(out, results)
    if chart:
        paths.append(str(chart))
    if cfg.gallery <= 0:
        return paths
    rows = [r.name for r in results if r.name in cfg.enhance]
    by_row: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for name in rows:
        by_image: dict[int, list[dict[str, Any]]] = {}
        for p in predictions(name):
            by_image.setdefault(int(p["image_id"]), []).append(p)
        by_row[name] = by_image
    picks = pick_images(ds.records, by_row, cfg.gallery)
    if not picks:
        return paths
    enhancers = {name: build_enhancer(name, cfg) for name in rows}

    def enhance(name: str, bgr: Any) -> Any:
        detector.set_enhancer(enhancers[name])
        return detector.enhance_for_display(bgr)

    paths.append(str(save_gallery(out / "gallery.png", picks, rows, by_row, enhance, ds.class_names)))
    return paths
