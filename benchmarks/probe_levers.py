"""Which lever has headroom? Variants of a tuned dark-end enhancer, scored on tuning images (never the test split).

    python benchmarks/probe_levers.py --weights runs/dark_blurpen03_cpu/best.pt --out runs/probe_levers \\
        --data ../shared/data/exdark-train-mini --split train --limit 300 --sample-seed 7 --noise 1e-3 3e-3 1e-2

Without tuning anything, each variant changes one thing of the enhancer ``--weights`` (a Zero-DCE++ with a
per-image strength gate and a one-scale denoising stage) and the evaluator scores it next to ``none`` and the
enhancer as it is, on the images as they are and ``--ev`` stops darker at each ``--noise`` level of the sweep's
sensor:

- ``p-lo`` / ``p-hi``: the gate's logit shifted by ∓``--shift`` (weaker / stronger curves on every image);
- ``p-wide``: the denoising stage's own map mixes towards the 9x9 binomial blur (its 5x5 blur applied twice)
  instead of the 5x5 one: what a wider blur would give where the stage already blurs (the two-scale stage,
  ``denoise=2``, with the same first map and its wider-blur share fixed at 1).

A variant that gains at some noise level and loses at another points to a lever the enhancer needs to learn
per image (how strong, how wide). One evaluator run per noise level (``OUT/noise_<n>/``: metrics.json,
report.md); the Δ mAP50 vs ``none`` with its paired interval is printed and written to ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

import lowlight_det.enhancers.registry as registry
from lowlight_det.enhancers.weights import read_checkpoint
from lowlight_det.eval.__main__ import main as eval_main

VARIANTS = ("p-base", "p-lo", "p-hi", "p-wide")


def _register(weights: Path, shift: float, work: Path) -> None:
    """Each variant is a weights file next to the original, registered as an alias of zerodce++."""
    checkpoint = read_checkpoint(weights)
    if checkpoint["arch"] != "zerodce++" or checkpoint["arch_kwargs"].get("denoise") is not True \
            or checkpoint["arch_kwargs"].get("adaptive") is not True:
        raise SystemExit(f"{weights}: needs a Zero-DCE++ with a per-image gate and a one-scale denoising stage")
    work.mkdir(parents=True, exist_ok=True)
    state = checkpoint["state_dict"]
    w2, b2 = state["denoiser.fc2.weight"], state["denoiser.fc2.bias"]
    variants = {
        "p-lo": ({**state, "gate.fc2.bias": state["gate.fc2.bias"] - shift}, {}),
        "p-hi": ({**state, "gate.fc2.bias": state["gate.fc2.bias"] + shift}, {}),
        # the two-scale stage (denoise=2) with the same first map and its wider-blur share w fixed at 1
        "p-wide": ({**state, "denoiser.fc2.weight": torch.cat([w2, torch.zeros_like(w2)]),
                    "denoiser.fc2.bias": torch.cat([b2, b2.new_tensor([40.0])])}, {"denoise": 2}),
    }
    registry.register_alias("p-base", arch="zerodce++", weights=str(weights))
    for name, (variant, arch_kwargs) in variants.items():
        path = work / f"{name}.pt"
        torch.save({**checkpoint, "state_dict": variant, "arch_kwargs": {**checkpoint["arch_kwargs"], **arch_kwargs}},
                   path)
        registry.register_alias(name, arch="zerodce++", weights=str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--detector", default="../shared/models/yolo11n-coco.pt")
    ap.add_argument("--data", default="../shared/data/exdark-train-mini")
    ap.add_argument("--split", default="train")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--sample-seed", type=int, default=7)
    ap.add_argument("--ev", type=float, default=3)
    ap.add_argument("--noise", nargs="+", default=["1e-3", "3e-3", "1e-2"])
    ap.add_argument("--shift", type=float, default=0.7, help="gate logit shift of p-lo / p-hi")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/probe_levers"))
    args = ap.parse_args()
    _register(args.weights, args.shift, args.out / "weights")
    summary: dict[str, Any] = {"weights": str(args.weights), "data": args.data, "split": args.split,
                               "limit": args.limit, "sample_seed": args.sample_seed, "ev": args.ev,
                               "shift": args.shift, "noise": {}}
    for noise in args.noise:
        out = args.out / f"noise_{noise}"
        code = eval_main(["--data", args.data, "--split", args.split, "--weights", args.detector,
                          "--enhance", ",".join(["none", *VARIANTS]), "--limit", str(args.limit),
                          "--sample-seed", str(args.sample_seed), "--darken-ev", f"{args.ev:g}",
                          "--darken-noise", noise, "--imgsz", "640", "--batch-size", "8", "--gallery", "0",
                          "--delta-ci", "200", "--threads", str(args.threads), "--out", str(out), "--resume", "-q"])
        if code:
            raise SystemExit(code)
        deltas = json.loads((out / "metrics.json").read_text())["delta_vs_none"]
        summary["noise"][noise] = {k: {"map50": v["map50"], "ci95": v["map50_ci95"]}
                                   for k, v in deltas.items() if k.split("@")[0] in VARIANTS}
        for k, v in summary["noise"][noise].items():
            print(f"noise {noise} {k}: Δ mAP50 {v['map50']:+.2f} [{v['ci95'][0]:+.2f}, {v['ci95'][1]:+.2f}]")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
