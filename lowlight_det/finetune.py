"""``python -m lowlight_det.finetune``: detection-aware fine-tuning of an enhancer through a frozen YOLO.

Example:
    python -m lowlight_det.finetune --detector yolo11n.pt --data exdark --split train --val-split val \\
        --enhancer zerodce --epochs 10 --imgsz 640 --out runs/finetune/zerodce
The best checkpoint (``OUT/best.pt``) loads everywhere an enhancer does, e.g.
``python -m lowlight_det.eval --data exdark --weights yolo11n.pt --enhance zerodce --enhancer-weights OUT/best.pt``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import replace

from lowlight_det.cli import add_common_args, run_job, seed_everything, set_threads, setup_logging
from lowlight_det.config import FinetuneConfig, load_config
from lowlight_det.train.zero_reference import TrainingDivergedError

logger = logging.getLogger("lowlight_det.finetune")


def build_parser() -> argparse.ArgumentParser:
    """Flags override the YAML config, which overrides the defaults."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.finetune", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML config")
    p.add_argument("--detector", help="frozen detector: local YOLO .pt")
    p.add_argument("--data", help="dataset name in datasets.yaml, a data.yaml or an ExDark folder")
    p.add_argument("--data-root")
    p.add_argument("--split", help="training split (default train)")
    p.add_argument("--val-split", help="validation split; 'none' holds out --val-fraction of the training split")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--enhancer", choices=["zerodce", "zerodce++"])
    p.add_argument("--init-weights", help="start from these enhancer weights (default: shipped)")
    p.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=None,
                   help="learn a per-image strength gate on the curves (illumination-adaptive; default off)")
    p.add_argument("--gate-lr", type=float, help="learning rate of the strength gate")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--imgsz", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--w-det", type=float, help="weight of the detection loss")
    p.add_argument("--w-ref", type=float, help="weight of the zero-reference loss")
    p.add_argument("--class-map")
    p.add_argument("--patience", type=int, help="early stopping: epochs without val mAP50 gain")
    p.add_argument("--limit", type=int, help="use only the first N images of each split")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--out")
    p.add_argument("--resume", help="continue exactly from this last.pt")
    add_common_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on divergence, 2 on bad arguments or missing data."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    keys = ("detector", "data", "data_root", "split", "val_fraction", "enhancer", "init_weights", "adaptive",
            "gate_lr", "epochs",
            "batch_size", "imgsz", "lr", "w_det", "w_ref", "class_map", "patience", "limit", "seed", "workers",
            "out", "device", "threads")
    overrides = {k: getattr(args, k) for k in keys}
    holdout = args.val_split is not None and args.val_split.lower() == "none"
    if args.val_split is not None and not holdout:
        overrides["val_split"] = args.val_split
    if args.no_amp:
        overrides["amp"] = False
    try:
        cfg = load_config(FinetuneConfig, args.config, overrides)
        if holdout:
            cfg = replace(cfg, val_split=None)  # None values in overrides mean "not given"
        if not cfg.detector:
            raise ValueError("--detector is required (a local YOLO .pt)")
    except (ValueError, FileNotFoundError) as exc:
        logger.error("%s", exc)
        return 2
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    from lowlight_det.train.detection_aware import finetune

    code, result = run_job(lambda: finetune(cfg, resume=args.resume, progress=not args.quiet),
                           diverged=TrainingDivergedError)
    if result is None:
        return code
    print(f"best val mAP50 {result.best_map50:.2f}; best checkpoint {result.best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
