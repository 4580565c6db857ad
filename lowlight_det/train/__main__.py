"""``python -m lowlight_det.train``: zero-reference training of Zero-DCE / Zero-DCE++."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from lowlight_det.cli import (
    add_common_args,
    add_config_arguments,
    config_overrides,
    run_job,
    seed_everything,
    set_threads,
    setup_logging,
)
from lowlight_det.config import TRAINABLE, TrainConfig, load_config, resume_config
from lowlight_det.train.common import read_training_checkpoint
from lowlight_det.train.zero_reference import TrainingDivergedError, TrainResult, train

logger = logging.getLogger("lowlight_det.train")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser, built from :class:`TrainConfig`; flags override the YAML config, which overrides the defaults."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.train", description=__doc__)
    p.add_argument("--config", help="YAML config: a file, or a shipped one by name (zerodce_sice, zerodcepp_sice)")
    add_config_arguments(p, TrainConfig, choices={"enhancer": TRAINABLE})
    p.add_argument("--resume", help="continue exactly from this last.pt (its own settings; only --epochs, --out, "
                                    "--device, --threads, --workers may change)")
    add_common_args(p, devices=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    overrides = config_overrides(args, TrainConfig)

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
