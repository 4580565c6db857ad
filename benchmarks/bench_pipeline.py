"""Per-stage time of the evaluator (enhancer → YOLO) on a dataset: decode, enhance, inference, NMS, metric.

    python benchmarks/bench_pipeline.py --data ../shared/data/exdark-mini --split test \\
        --weights ../shared/models/yolo11n-coco.pt --enhance none zerodce++ zerodce --limit 64 --threads 2

Runs the real evaluator (Ultralytics' validator with the enhancer in its preprocess, our pycocotools
metric) and reports, per enhancer, ms/image for each stage, end-to-end images/s with data loading
included, and the enhancer's overhead as a percentage of the detector's time (inference + NMS +
letterbox/normalise). A warm-up pass over a few images runs first so that start-up costs stay out.
Writes ``pipeline.json`` and ``pipeline.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from lowlight_det.cli import resolve_device, tune_cpu_allocator
from lowlight_det.config import EvalConfig
from lowlight_det.eval.api import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="demo")
    p.add_argument("--split", default=None)
    p.add_argument("--weights", default=None)
    p.add_argument("--enhance", nargs="+", default=["none", "zerodce++", "zerodce"])
    p.add_argument("--enhancer-weights", default=None)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--label", default="", help="names the output files pipeline[_LABEL].json/md")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args()
    common = {
        "data": args.data,
        "split": args.split,
        "weights": args.weights,
        "imgsz": args.imgsz,
        "device": args.device,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "threads": args.threads,
        "enhancer_weights": args.enhancer_weights,
        "plots": False,
        "gallery": 0,
    }
    tune_cpu_allocator()  # as the evaluator's entry point does
    with tempfile.TemporaryDirectory() as tmp:
        evaluate(EvalConfig(enhance=tuple(args.enhance), limit=args.batch_size, out=f"{tmp}/warmup", **common), progress=False)
        summary = evaluate(EvalConfig(enhance=tuple(args.enhance), limit=args.limit, out=f"{tmp}/run", **common), progress=False)
    rows = []
    for r in summary.results:
        t = r.timing_ms
        detector_ms = t["detect"]
        rows.append(
            {
                "enhancer": r.name,
                "images": r.images,
                "decode_ms": t["decode"],
                "enhance_ms": t["enhance"],
                "preprocess_ms": round(t["detect"] - t["inference"] - t["nms"], 2),
                "inference_ms": t["inference"],
                "nms_ms": t["nms"],
                "metric_ms": t.get("metric"),
                "total_ms": t["total"],
                "images_per_s": round(t["images_per_s"], 1),
                "enhancer_overhead_pct": round(100 * t["enhance"] / detector_ms, 1) if detector_ms else None,
                "map50": round(r.metrics["map50"], 2),
            }
        )
        print(rows[-1], flush=True)
    on_cuda = resolve_device(args.device).type == "cuda"
    dev_name = torch.cuda.get_device_name() if on_cuda else f"CPU {platform.machine()}"
    result = {
        "device": dev_name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "args": vars(args),
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"pipeline_{args.label}" if args.label else "pipeline"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"Device: {dev_name}, {torch.get_num_threads()} threads, torch {torch.__version__}; data {args.data} "
        f"({rows[0]['images'] if rows else 0} images), imgsz {args.imgsz}, batch {args.batch_size}, "
        f"workers {args.workers}",
        "",
        "| enhancer | decode | enhance | to-device+normalise | inference | NMS | metric | total ms/img | "
        "images/s (end to end) | enhancer overhead vs detector | mAP50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['enhancer']} | {r['decode_ms']} | {r['enhance_ms']} | {r['preprocess_ms']} | "
            f"{r['inference_ms']} | {r['nms_ms']} | {r['metric_ms']} | {r['total_ms']} | {r['images_per_s']} | "
            f"{r['enhancer_overhead_pct']}% | {r['map50']} |"
        )
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
