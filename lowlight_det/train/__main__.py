"""``python -m lowlight_det.train``: zero-reference training of Zero-DCE / Zero-DCE++."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from lowlight_det.cli import (
    add_common_args,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run_job,
    seed_everything,
    set_threads,
    setup_logging,
)
from lowlight_det.config import TRAINABLE, TrainConfig, load_config, resume_config
from lowlight_det.train.common import read_training_checkpoint
from lowlight_det.train.zero_reference import TrainingDivergedError, TrainResult, train

logger = logging.getLogger("lowlight_det.train")

KEYS = ("enhancer", "data", "data_root", "epochs", "batch_size", "image_size", "lr", "weight_decay", "grad_clip",
        "scale_factor", "init_weights", "seed", "workers", "out", "device", "threads")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser; flags override the YAML config, which overrides the defaults."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.train", description=__doc__)
    p.add_argument("--config", help="YAML config (e.g. configs/zerodce_sice.yaml)")
    p.add_argument("--enhancer", choices=TRAINABLE)
    p.add_argument("--data", help="dataset name in datasets.yaml, or a folder of images")
    p.add_argument("--data-root", help="folder holding the catalogued datasets (overrides $LOWLIGHT_DET_DATA)")
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--imgsz", "--image-size", dest="image_size", type=positive_int,
                   help="training crop size in pixels (square)")
    p.add_argument("--lr", type=positive_float)
    p.add_argument("--weight-decay", type=non_negative_float)
    p.add_argument("--grad-clip", type=positive_float)
    p.add_argument("--scale-factor", type=positive_float, help="zerodce++: curve-estimation downscale while training")
    p.add_argument("--init-weights", help="start from these weights (id or path) instead of random init")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=non_negative_int, help="DataLoader worker processes")
    p.add_argument("--out", help="output folder (checkpoints, logs)")
    p.add_argument("--resume", help="continue exactly from this last.pt (its own settings; only --epochs, --out, "
                                    "--device, --threads, --workers may change)")
    add_common_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    overrides = {k: getattr(args, k) for k in KEYS}

    def job() -> TrainResult:
        if args.resume:
            saved = read_training_checkpoint(args.resume, kind="zero-reference")
            cfg = resume_config(TrainConfig, saved["meta"]["config"], args.config, overrides, source=str(args.resume))
        else:
            cfg = load_config(TrainConfig, args.config, overrides)
        set_threads(cfg.threads)
        seed_everything(cfg.seed)
        return train(cfg, resume=args.resume, progress=not args.quiet)

    code, result = run_job(job, diverged=TrainingDivergedError, log=logger)
    if result is None:
        return code
    if result.history:
        last = result.history[-1]
        print(f"epoch {last['epoch']}: loss {last['total']:.5f}; checkpoint {result.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
