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
from typing import TYPE_CHECKING

from lowlight_det.cli import (
    add_common_args,
    add_config_arguments,
    config_overrides,
    non_negative_float,
    run_job,
    seed_everything,
    set_threads,
    setup_logging,
)
from lowlight_det.config import TRAINABLE, FinetuneConfig, load_config, resume_config
from lowlight_det.train.common import read_training_checkpoint
from lowlight_det.train.zero_reference import TrainingDivergedError

if TYPE_CHECKING:
    from lowlight_det.train.detection_aware import FinetuneResult

logger = logging.getLogger("lowlight_det.finetune")


def build_parser() -> argparse.ArgumentParser:
    """Built from :class:`FinetuneConfig`; flags override the YAML config, which overrides the defaults."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.finetune", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML config: a file, or a shipped one by name (finetune_zerodcepp_yolo11n)")
    add_config_arguments(p, FinetuneConfig, skip=("darken_ev_min", "darken_ev_max"), choices={"enhancer": TRAINABLE})
    p.add_argument("--darken-ev", type=non_negative_float, nargs=2, metavar=("MIN", "MAX"),
                   help="range of the stops of --darken-share (default 1 6)")
    p.add_argument("--resume", help="continue exactly from this last.pt (its own settings; only --epochs, --patience, "
                                    "--out, --device, --threads, --workers may change)")
    add_common_args(p, devices=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on divergence, 2 on bad arguments or missing data."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    overrides = config_overrides(args, FinetuneConfig)
    if args.darken_ev:
        overrides["darken_ev_min"], overrides["darken_ev_max"] = args.darken_ev
    holdout = args.val_split is not None and args.val_split.lower() == "none"
    if holdout:
        overrides.pop("val_split")

    def job() -> FinetuneResult:
        if args.resume:
            saved = read_training_checkpoint(args.resume, kind="finetune")["meta"]["config"]
            if holdout and saved.get("val_split") is not None:
                raise ValueError(f"{args.resume}: was validated on split {saved['val_split']!r}, not a hold-out")
            cfg = resume_config(FinetuneConfig, saved, args.config, overrides, source=str(args.resume))
        else:
            cfg = load_config(FinetuneConfig, args.config, overrides)
            if holdout:
                cfg = replace(cfg, val_split=None)  # None values in overrides mean "not given"
        if not cfg.detector:
            raise ValueError("--detector is required (a local YOLO .pt)")
        set_threads(cfg.threads)
        seed_everything(cfg.seed)
        from lowlight_det.train.detection_aware import finetune

        return finetune(cfg, resume=args.resume, progress=not args.quiet)

    code, result = run_job(job, diverged=TrainingDivergedError, log=logger)
    if result is None:
        return code
    print(f"best val mAP50 {result.best_map50:.2f}; best checkpoint {result.best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
