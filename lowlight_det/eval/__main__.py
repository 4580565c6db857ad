"""``python -m lowlight_det.eval``: COCO mAP of a YOLO detector on dark images with and without enhancement.

With no flags it runs the built-in offline demo: procedurally generated scenes, darkened by the
physically based synthesis, and a small detector shipped with the package.

``torchrun --nproc_per_node N -m lowlight_det.eval ...`` shares each row's images among N processes (CPU or one
GPU each); the predictions are gathered and scored once, by the first process.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lowlight_det.cli import config_overrides, config_parser, is_main_process, parse_args, run_job, setup_cpu
from lowlight_det.config import PRECISIONS, SAMPLES, EvalConfig, load_config
from lowlight_det.enhancers import list_enhancers
from lowlight_det.eval.darkness import parse_levels

if TYPE_CHECKING:
    from lowlight_det.eval.api import EvalSummary

logger = logging.getLogger("lowlight_det.eval")


def build_parser() -> argparse.ArgumentParser:
    """The evaluator's arguments, built from :class:`EvalConfig` (defaults < ``--config`` YAML < flags)."""
    p = config_parser("python -m lowlight_det.eval", __doc__, EvalConfig,
                      choices={"sample": SAMPLES, "enhancer_precision": PRECISIONS},
                      config_help="YAML file of evaluation settings (keys as the flags, with underscores)")
    p.add_argument("--resume", action="store_true", help="reuse finished rows in --out")
    return p


def _enhancers(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in list_enhancers()]
    if unknown:
        raise ValueError(f"unknown enhancer(s) {', '.join(unknown)}; choose from {', '.join(list_enhancers())}")
    return tuple(dict.fromkeys(["none", *names]))


def resolve_config(args: argparse.Namespace) -> EvalConfig:
    """Defaults < YAML < flags, then what depends on other settings: ``none`` first, sorted darkness levels with
    0 included, the output folder named after the data, and the demo's detector and size."""
    overrides = config_overrides(args, EvalConfig)
    if "enhance" in overrides:
        overrides["enhance"] = overrides["enhance"] or "zerodce"
    if args.darken_ev:
        overrides["darken_ev"] = ",".join(f"{v:g}" for v in parse_levels(args.darken_ev))
    cfg = load_config(EvalConfig, args.config, overrides)
    cfg = replace(cfg, enhance=_enhancers(cfg.enhance), darken_ev=tuple(sorted({0.0, *cfg.darken_ev})) if cfg.darken_ev
                  else ())
    if cfg.out == EvalConfig.out:
        cfg = replace(cfg, out=f"runs/eval/{Path(cfg.data).stem}")
    if cfg.data == "demo":
        from lowlight_det.eval.api import demo_config

        cfg = demo_config(cfg, imgsz=args.imgsz)
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 2 on bad arguments, data or weights, or an output folder that cannot be written."""
    args = parse_args(build_parser(), argv)
    t0 = time.perf_counter()

    def job() -> tuple[EvalConfig, EvalSummary]:
        cfg = resolve_config(args)
        setup_cpu(cfg.threads)
        from lowlight_det.eval.api import evaluate

        return cfg, evaluate(cfg, resume=args.resume, progress=not args.quiet)

    code, result = run_job(job, log=logger)
    if result is None or not is_main_process():  # under torchrun the first process reports
        return code
    cfg, summary = result
    print(summary.table)
    if summary.note:
        print(summary.note)
    print(f"wrote {Path(cfg.out) / 'metrics.json'} and report.md ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
