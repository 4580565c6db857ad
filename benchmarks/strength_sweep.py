"""Hold-out mAP of a curve enhancer applied at fixed global strengths (what the strength gate chooses from).

Scores the seeded hold-out of a tuning run (``finetune --val-split none --val-fraction 0.2 --seed S``, the
same split) with the enhancer's α maps scaled by each strength (0 is ``none``), on the CPU:

    python benchmarks/strength_sweep.py --data ../shared/data/exdark-train-mini \\
        --detector ../shared/models/yolo11n-coco.pt --enhancer zerodce++ \\
        --weights runs/ft/zerodcepp-seed0/best.pt --seed 0 --strengths 0 0.05 0.25 0.5 0.75 1 \\
        --out benchmarks/results/strength_sweep_cpu.json

Writes one JSON row per strength (mAP50, mAP50-95, seconds) after each, so a stopped run keeps its rows.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from lowlight_det import create_enhancer
from lowlight_det.cli import set_threads
from lowlight_det.data.class_map import resolve_class_map
from lowlight_det.data.detection import DetectionDataset, to_coco
from lowlight_det.data.loaders import load_detection_dataset
from lowlight_det.eval import validate
from lowlight_det.io import write_json
from lowlight_det.train.detection_aware import split_records


def fixed_strength(enhancer: str, weights: str, strength: float) -> torch.nn.Module:
    """``enhancer`` with a gate that returns ``strength`` for every image (0: ``none``)."""
    if strength == 0:
        return create_enhancer("none")
    model = create_enhancer(enhancer, weights=weights, adaptive=True).eval()
    with torch.no_grad():
        model.gate.fc2.weight.zero_()
        model.gate.fc2.bias.fill_(math.log(strength / (1 - strength)) if strength < 1 else 40.0)
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="ExDark folder with the train split")
    p.add_argument("--detector", required=True)
    p.add_argument("--enhancer", default="zerodce++")
    p.add_argument("--weights", required=True, help="enhancer weights (a tuning run's best.pt)")
    p.add_argument("--seed", type=int, default=0, help="the run's seed: its hold-out split")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--strengths", type=float, nargs="+", default=[0, 0.05, 0.25, 0.5, 0.75, 1])
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from lowlight_det.detection.pipeline import EnhancedDetector

    set_threads(args.threads)
    ds, info = load_detection_dataset(args.data, split="train")
    _, val = split_records(ds, args.val_fraction, args.seed)
    gt = to_coco(DetectionDataset("val", ds.class_names, val))
    detector = EnhancedDetector(args.detector, "none", device="cpu", imgsz=args.imgsz, threads=args.threads)
    class_map = resolve_class_map("auto", ds.class_names, detector.names, info.get("class_maps"))
    work = Path("runs/strength_sweep")
    result = {"config": vars(args), "device": "cpu", "threads": args.threads, "val_images": len(val), "rows": []}
    for strength in args.strengths:
        t0 = time.perf_counter()
        model = fixed_strength(args.enhancer, args.weights, strength)
        m = validate(detector, model, val, class_map, gt, imgsz=args.imgsz, batch_size=1, workdir=work).metrics
        row = {"strength": strength, "map50": m.map50, "map50_95": m.map50_95,
               "seconds": round(time.perf_counter() - t0, 1)}
        result["rows"].append(row)
        write_json(args.out, result)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
