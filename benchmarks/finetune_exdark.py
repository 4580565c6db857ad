"""Evidence for detection-aware fine-tuning (issue: tuned enhancer must beat `none` and plain `zerodce`).

Tunes on ExDark's official *train* split sample (../shared/data/exdark-train-mini, 1,200 images; a seeded
20% hold-out of it selects the checkpoint), then reports on the 379 official *test* images of
../shared/data/exdark-mini, over several seeds (mean ± std), next to none / gamma / clahe / zerodce / zerodce++.

    python benchmarks/finetune_exdark.py --enhancers zerodce++ zerodce --seeds 0 1 2 --epochs 5 --imgsz 640

Writes benchmarks/results/finetune_exdark.{json,md}. Expensive: run it on a GPU or budget hours on CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from lowlight_det.cli import seed_everything
from lowlight_det.config import FinetuneConfig
from lowlight_det.eval.api import evaluate
from lowlight_det.eval.runner import EvalConfig
from lowlight_det.train.detection_aware import finetune


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", default="../shared")
    p.add_argument("--enhancers", nargs="+", default=["zerodce++"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="benchmarks/results/finetune_exdark")
    args = p.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    detector = str(shared / "models" / "yolo11n-coco.pt")
    test = str(shared / "data" / "exdark-mini")
    rows: dict[str, list[dict[str, float]]] = {}
    base = evaluate(EvalConfig(data=test, split="test", weights=detector, imgsz=args.imgsz, device=args.device,
                               enhance=("none", "gamma", "clahe", "zerodce", "zerodce++"), batch_size=args.batch_size,
                               out=str(out / "baselines"), plots=False))
    for r in base.results:
        rows[r.name] = [{"map50": r.metrics["map50"], "map50_95": r.metrics["map50_95"]}]
    for name in args.enhancers:
        for seed in args.seeds:
            seed_everything(seed)
            run = out / f"{name.replace('+', 'p')}-seed{seed}"
            result = finetune(FinetuneConfig(detector=detector, data=str(shared / "data" / "exdark-train-mini"),
                                             split="train", val_split=None, val_fraction=0.2, enhancer=name,
                                             epochs=args.epochs, imgsz=args.imgsz, batch_size=args.batch_size,
                                             seed=seed, device=args.device, out=str(run)), progress=True)
            ev = evaluate(EvalConfig(data=test, split="test", weights=detector, imgsz=args.imgsz, device=args.device,
                                     enhance=(name,), enhancer_weights=str(result.best),
                                     batch_size=args.batch_size, out=str(run / "test"), plots=False))
            m = ev.results[-1].metrics
            rows.setdefault(f"{name} (detection-tuned)", []).append({"map50": m["map50"], "map50_95": m["map50_95"]})
    table = ["| enhancer | runs | mAP50 | mAP50-95 |", "|---|---:|---:|---:|"]
    summary = {}
    for name, runs in rows.items():
        stats = {}
        for key in ("map50", "map50_95"):
            vals = [r[key] for r in runs]
            stats[key] = (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)
        summary[name] = {"runs": runs, **{k: {"mean": v[0], "std": v[1]} for k, v in stats.items()}}
        table.append(f"| {name} | {len(runs)} | {stats['map50'][0]:.1f} ± {stats['map50'][1]:.1f} | "
                     f"{stats['map50_95'][0]:.1f} ± {stats['map50_95'][1]:.1f} |")
    out.mkdir(parents=True, exist_ok=True)
    (out.parent / "finetune_exdark.json").write_text(json.dumps({"args": vars(args), "rows": summary}, indent=2) + "\n")
    (out.parent / "finetune_exdark.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
