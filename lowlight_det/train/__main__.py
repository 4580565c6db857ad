"""``python -m lowlight_det.train``: zero-reference training of Zero-DCE / Zero-DCE++."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from lowlight_det.cli import add_common_args, run_job, seed_everything, set_threads, setup_logging
from lowlight_det.config import TrainConfig, load_config
from lowlight_det.enhancers import list_enhancers
from lowlight_det.train.zero_reference import TrainingDivergedError, train

logger = logging.getLogger("lowlight_det.train")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser; flags override the YAML config, which overrides the defaults."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.train", description=__doc__)
    p.add_argument("--config", help="YAML config (e.g. configs/zerodce_sice.yaml)")
    p.add_argument("--enhancer", choices=[n for n in list_enhancers() if n.startswith("zerodce")])
    p.add_argument("--data", help="dataset name in datasets.yaml, or a folder of images")
    p.add_argument("--data-root", help="folder holding the catalogued datasets (overrides $LOWLIGHT_DET_DATA)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--image-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--grad-clip", type=float)
    p.add_argument("--scale-factor", type=float, help="zerodce++: curve-estimation downscale while training")
    p.add_argument("--init-weights", help="start from these weights (id or path) instead of random init")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="DataLoader worker processes")
    p.add_argument("--out", help="output folder (checkpoints, logs)")
    p.add_argument("--resume", help="continue exactly from this last.pt")
    add_common_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    overrides = {k: getattr(args, k) for k in ("enhancer", "data", "data_root", "epochs", "batch_size",
                                               "image_size", "lr", "weight_decay", "grad_clip", "scale_factor",
                                               "init_weights", "seed", "workers", "out", "device", "threads")}
    try:
        cfg = load_config(TrainConfig, args.config, overrides)
    except (ValueError, FileNotFoundError) as exc:
        logger.error("%s", exc)
        return 2
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    code, result = run_job(lambda: train(cfg, resume=args.resume, progress=not args.quiet),
                           diverged=TrainingDivergedError)
    if result is None:
        return code
    if result.history:
        last = result.history[-1]
        print(f"epoch {last['epoch']}: loss {last['total']:.5f}; checkpoint {result.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
