"""``python -m lowlight_det.finetune``: fine-tuning for detection in the dark.

``--train enhancer`` (default): the enhancer learns through a frozen YOLO's loss. ``--train detector``: the
detector learns (Ultralytics' training) behind a frozen enhancer (``--enhancer none``: the plain baseline).
``--train joint``: both learn, each at its own learning rate (``--lr``, ``--detector-lr``).

Example:
    python -m lowlight_det.finetune --detector yolo11n.pt --data exdark --split train --val-split val \\
        --enhancer zerodce --epochs 10 --imgsz 640 --out runs/finetune/zerodce
The best checkpoint (``OUT/best.pt``) loads everywhere an enhancer does, e.g.
``python -m lowlight_det.eval --data exdark --weights yolo11n.pt --enhance zerodce --enhancer-weights OUT/best.pt``.
With ``--train detector|joint`` the detector is ``OUT/detector/weights/best.pt`` (``--weights``) and, for joint,
the enhancer ``OUT/enhancer_best.pt``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lowlight_det.cli import config_overrides, config_parser, is_main_process, non_negative_float, parse_args, run_training
from lowlight_det.config import GATES, LOSS_CLASSES, SENSORS, TRAIN_MODES, FinetuneConfig
from lowlight_det.enhancers import list_enhancers
from lowlight_det.train.common import RESUME_HELP

if TYPE_CHECKING:
    from lowlight_det.train.detection_aware import FinetuneResult

logger = logging.getLogger("lowlight_det.finetune")


def build_parser() -> argparse.ArgumentParser:
    """Built from :class:`FinetuneConfig`; flags override the YAML config, which overrides the defaults."""
    p = config_parser("python -m lowlight_det.finetune", __doc__, FinetuneConfig, skip=("darken_ev_min", "darken_ev_max"),
                      config_help="YAML config: a file, or a shipped one by name (finetune_zerodcepp_yolo11n)",
                      choices={"enhancer": tuple(list_enhancers()), "train": TRAIN_MODES, "gate": GATES,
                               "darken_sensor": SENSORS, "loss_classes": LOSS_CLASSES}, resume_help=RESUME_HELP)
    p.add_argument("--darken-ev", type=non_negative_float, nargs=2, metavar=("MIN", "MAX"),
                   help="range of the stops of --darken-share (default 1 6)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on divergence, 2 on bad arguments or missing data."""
    args = parse_args(build_parser(), argv)
    overrides = config_overrides(args, FinetuneConfig)
    if args.darken_ev:
        overrides["darken_ev_min"], overrides["darken_ev_max"] = args.darken_ev

    from lowlight_det.train.detection_aware import finetune, holdout_line
    from lowlight_det.train.detector import DetectorResult, finetune_detector, holdout_text

    def tune(cfg: FinetuneConfig) -> FinetuneResult | DetectorResult:
        if not cfg.detector:
            raise ValueError("--detector is required (a local YOLO .pt)")
        if cfg.train != "enhancer":
            return finetune_detector(cfg, resume=args.resume, progress=not args.quiet)
        return finetune(cfg, resume=args.resume, progress=not args.quiet)

    code, result = run_training(args, FinetuneConfig, overrides, tune, kind="finetune", log=logger)
    if isinstance(result, DetectorResult) and is_main_process():
        print(f"best val mAP50 {result.best_map50:.2f}; detector {result.detector}"
              + (f", enhancer {result.enhancer}" if result.enhancer else ""))
        print(holdout_text(result.holdout))
    elif result is not None and not isinstance(result, DetectorResult) and is_main_process():
        print(f"best val mAP50 {result.best_map50:.2f}; best checkpoint {result.best}")
        print(holdout_line(result.holdout))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
