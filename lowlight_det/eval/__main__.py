"""``python -m lowlight_det.eval``: COCO mAP of a YOLO detector on dark images with and without enhancement.

With no flags it runs the built-in offline demo: procedurally generated scenes, darkened by the
physically based synthesis, and a small detector shipped with the package.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lowlight_det.cli import (
    add_common_args,
    non_negative_int,
    positive_int,
    run_job,
    set_threads,
    setup_logging,
    unit_interval,
)
from lowlight_det.enhancers import list_enhancers
from lowlight_det.eval.darkness import parse_levels
from lowlight_det.eval.runner import EvalConfig

if TYPE_CHECKING:
    from lowlight_det.eval.api import EvalSummary

logger = logging.getLogger("lowlight_det.eval")


def build_parser() -> argparse.ArgumentParser:
    """The evaluator's arguments."""
    d = EvalConfig()
    p = argparse.ArgumentParser(prog="python -m lowlight_det.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--enhance", default="zerodce",
                   help=f"comma-separated enhancers, 'none' is always added as the baseline ({', '.join(list_enhancers())})")
    p.add_argument("--data", default=d.data, help="'demo' (built in), a datasets.yaml name (e.g. exdark), a data.yaml, "
                                                  "a COCO .json or an ExDark folder")
    p.add_argument("--split", default=None, help="dataset split (ExDark: train/val/test; default test)")
    p.add_argument("--data-root", default=None, help="folder of catalogued datasets (overrides $LOWLIGHT_DET_DATA)")
    p.add_argument("--weights", default=None, help="detector: local YOLO .pt (default: the demo detector for --data demo)")
    p.add_argument("--enhancer-weights", default=None, help="weights id or path for the learned enhancer(s)")
    p.add_argument("--imgsz", type=positive_int, default=None, help=f"detector input size (default {d.imgsz}; demo 320)")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--out", default=None, help="output folder (default runs/eval/<data>)")
    p.add_argument("--limit", type=positive_int, default=None, help="evaluate only the first N images")
    p.add_argument("--conf", type=unit_interval, default=d.conf, help="detection score threshold in [0, 1]")
    p.add_argument("--iou", type=unit_interval, default=d.iou, help="NMS IoU threshold in [0, 1]")
    p.add_argument("--max-det", type=positive_int, default=d.max_det)
    p.add_argument("--class-map", default=d.class_map, help="auto, identity, names, or a map of the dataset (coco)")
    p.add_argument("--enhance-before-letterbox", action="store_true",
                   help="enhance at native resolution before letterboxing (default: on the detector input)")
    p.add_argument("--gallery", type=non_negative_int, default=d.gallery, help="images in the gallery plot (0: none)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--delta-ci", type=non_negative_int, default=d.delta_ci, metavar="N",
                   help="95%% interval of each row's Δ mAP50 vs none from N paired half-samples of the images "
                        "(e.g. 200; 0: off)")
    p.add_argument("--darken-ev", default=None, metavar="STOPS",
                   help="darkness sweep: also evaluate every row on copies of the images darkened by these stops "
                        "(comma-separated, e.g. 0,1,2,3,4,6; fixed sensor noise, cached in --out)")
    p.add_argument("--darken-seed", type=int, default=0, help="seed of the sweep's sensor noise")
    p.add_argument("--resume", action="store_true", help="reuse finished rows in --out")
    add_common_args(p)
    return p


def _enhancers(spec: str) -> tuple[str, ...]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in list_enhancers()]
    if unknown:
        raise ValueError(f"unknown enhancer(s) {', '.join(unknown)}; choose from {', '.join(list_enhancers())}")
    names = ["none", *[n for n in names if n != "none"]]
    return tuple(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 2 on bad arguments, data or weights, or an output folder that cannot be written."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    set_threads(args.threads)
    t0 = time.perf_counter()

    def job() -> tuple[EvalConfig, EvalSummary]:
        cfg = EvalConfig(data=args.data, split=args.split, data_root=args.data_root, weights=args.weights,
                         enhance=_enhancers(args.enhance), enhancer_weights=args.enhancer_weights,
                         imgsz=args.imgsz or EvalConfig.imgsz, device=args.device or "auto",
                         batch_size=args.batch_size, out=args.out or f"runs/eval/{Path(args.data).stem}",
                         limit=args.limit, conf=args.conf, iou=args.iou, max_det=args.max_det,
                         class_map=args.class_map, enhance_before_letterbox=args.enhance_before_letterbox,
                         gallery=args.gallery, plots=not args.no_plots, threads=args.threads,
                         delta_ci=args.delta_ci, darken_seed=args.darken_seed,
                         darken_ev=parse_levels(args.darken_ev) if args.darken_ev else ())
        if cfg.data == "demo":
            from lowlight_det.demo import demo_config

            cfg = demo_config(cfg, imgsz=args.imgsz)
        from lowlight_det.eval.api import evaluate

        return cfg, evaluate(cfg, resume=args.resume, progress=not args.quiet)

    code, result = run_job(job, log=logger)
    if result is None:
        return code
    cfg, summary = result
    print(summary.table)
    if summary.note:
        print(summary.note)
    print(f"wrote {Path(cfg.out) / 'metrics.json'} and report.md ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
