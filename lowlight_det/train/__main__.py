"""``python -m lowlight_det.train``: zero-reference training of Zero-DCE / Zero-DCE++."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from lowlight_det.cli import config_overrides, config_parser, is_main_process, parse_args, run_training
from lowlight_det.config import TRAINABLE, TrainConfig
from lowlight_det.train.common import RESUME_HELP
from lowlight_det.train.zero_reference import train

logger = logging.getLogger("lowlight_det.train")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser, built from :class:`TrainConfig`; flags override the YAML config, which overrides the defaults."""
    return config_parser("python -m lowlight_det.train", __doc__, TrainConfig, choices={"enhancer": TRAINABLE},
                         config_help="YAML config: a file, or a shipped one by name (zerodce_sice, zerodcepp_sice)",
                         resume_help=RESUME_HELP)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on divergence, 2 on bad arguments or missing data."""
    args = parse_args(build_parser(), argv)
    code, result = run_training(args, TrainConfig, config_overrides(args, TrainConfig),
                                lambda cfg: train(cfg, resume=args.resume, progress=not args.quiet),
                                kind="zero-reference", log=logger)
    if result is not None and result.history and is_main_process():
        last = result.history[-1]
        print(f"epoch {last['epoch']}: loss {last['total']:.5f}; checkpoint {result.checkpoint}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
