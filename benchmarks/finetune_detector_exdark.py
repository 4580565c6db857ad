"""Evidence for issue 15: does an enhancer still add anything once the detector is fine-tuned on dark images?

Arms (each fine-tunes YOLO11n from ``yolo11n-coco-unfused.pt`` with the identical Ultralytics recipe, COCO head
kept, on ExDark's official train split sample with a seeded 20% hold-out; 3 seeds each):

- ``det-none``: the detector alone, raw images (the fair baseline);
- ``det-zerodcepp``: behind frozen ``zerodce++`` (SICE weights);
- ``det-zerodcepp-det``: behind frozen ``zerodce++-det``;
- ``joint``: ``zerodce++`` and the detector trained together.

    # train (a GPU: an epoch of YOLO11n on 960 images is minutes on CPU)
    python benchmarks/finetune_detector_exdark.py train --data ../shared/data/exdark-train-mini \\
        --detector ../shared/models/yolo11n-coco-unfused.pt --seeds 0 1 2 --epochs 30 --out runs/det_exdark
    # evaluate every run on the 379 official test images and write the table (zero-shot none as the first row)
    python benchmarks/finetune_detector_exdark.py report --data ../shared/data/exdark-mini \\
        --zero-shot ../shared/models/yolo11n-coco.pt --runs runs/det_exdark \\
        --out benchmarks/results/finetune_detector_exdark

The report gives mAP50 / mAP50-95 (mean ± std over seeds) and mAP50 by lighting type per arm, and for every
seed the paired Δ mAP50 of each arm against ``det-none`` of the same seed with its 95% interval (half-samples of
the test images), and says whether ``joint`` reaches ``det-none`` + 1.0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ARMS = {  # name: (--train, --enhancer, --init-weights)
    "det-none": ("detector", "none", "default"),
    "det-zerodcepp": ("detector", "zerodce++", "default"),
    "det-zerodcepp-det": ("detector", "zerodce++-det", "default"),
    "joint": ("joint", "zerodce++", "default"),
}
BASELINE = "det-none"


def train(args: argparse.Namespace) -> None:
    """Every arm × seed; ``--jobs N`` runs N at once (one GPU holds many YOLO11n runs), each logging to its
    ``stdout.log``."""
    todo = []
    for seed in args.seeds:
        for arm in args.arms:
            mode, enhancer, init = ARMS[arm]
            out = Path(args.out) / f"{arm}-seed{seed}"
            if (out / "holdout.json").is_file():
                print(f"[train] {out} done, skipped", flush=True)
                continue
            cmd = [sys.executable, "-m", "lowlight_det.finetune", "--train", mode, "--detector", args.detector,
                   "--data", args.data, "--split", "train", "--val-split", "none", "--val-fraction", "0.2",
                   "--enhancer", enhancer, "--init-weights", init, "--epochs", str(args.epochs), "--patience",
                   str(args.patience), "--batch-size", str(args.batch_size), "--imgsz", str(args.imgsz),
                   "--detector-lr", str(args.detector_lr), "--lr", str(args.enhancer_lr), "--seed", str(seed),
                   "--device", args.device, "--workers", str(args.workers), "--out", str(out), "-q",
                   *(["--limit", str(args.limit)] if args.limit else []), *(["--threads", str(args.threads)]
                                                                            if args.threads else [])]
            if (out / "last.pt").is_file():
                cmd = [*cmd[:3], "--resume", str(out / "last.pt"), "-q"]
            todo.append((out, cmd))
    failed = _run_all(todo, args.jobs, "train")
    if failed:
        raise SystemExit(f"[train] failed: {', '.join(failed)} (see their stdout.log)")


def _run_all(todo: list[tuple[Path, list[str]]], jobs: int, step: str) -> list[str]:
    """Run each ``(folder, command)``, ``jobs`` at a time; one at a time prints to the console, several log to
    ``folder/stdout.log``. Returns the folders whose command failed."""
    def one(item: tuple[Path, list[str]]) -> str | None:
        out, cmd = item
        print(f"[{step}]", " ".join(cmd), flush=True)
        if jobs <= 1:
            return None if subprocess.run(cmd).returncode == 0 else str(out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "stdout.log", "ab") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        print(f"[{step}] {out}: {'done' if code == 0 else f'exit {code}'}", flush=True)
        return None if code == 0 else str(out)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return [f for f in pool.map(one, todo) if f]


def _eval_command(args: argparse.Namespace, name: str, weights: str, enhancer: str,
                  enhancer_weights: str | None) -> tuple[Path, list[str]]:
    out = Path(args.eval_out) / name
    cmd = [sys.executable, "-m", "lowlight_det.eval", "--data", args.data, "--split", "test", "--weights",
           weights, "--enhance", enhancer, "--imgsz", str(args.imgsz), "--batch-size", "16", "--device",
           args.device, "--no-plots", "--out", str(out), "-q"]
    if enhancer_weights:
        cmd += ["--enhancer-weights", f"{enhancer}={enhancer_weights}"]
    return out, cmd


def report(args: argparse.Namespace) -> None:
    from lowlight_det.eval.coco import paired_delta_map50

    runs = Path(args.runs)
    rows: dict[str, list[dict[str, Any]]] = {}
    gt: dict[str, Any] | None = None
    preds: dict[tuple[str, int], list[Any]] = {}
    evals: dict[tuple[str, int], tuple[Path, str]] = {}  # (arm, seed): (eval folder, row)
    todo = []
    for arm in ["zero-shot", *args.arms]:
        for seed in args.seeds if arm != "zero-shot" else [0]:
            if arm == "zero-shot":
                item, row = _eval_command(args, "zero-shot", args.zero_shot, "none", None), "none"
            else:
                run = runs / f"{arm}-seed{seed}"
                detector = run / "detector" / "weights" / f"{args.checkpoint}.pt"
                if not detector.is_file():
                    print(f"[report] {run}: no {detector.name}, skipped", flush=True)
                    continue
                mode, enhancer, init = ARMS[arm]
                # joint: the enhancer of the same epoch (last.pt of the run holds the last epoch's enhancer)
                enh_file = str(run / ("enhancer_best.pt" if args.checkpoint == "best" else "last.pt")) \
                    if mode == "joint" else None
                name = f"{arm}-seed{seed}" + ("" if args.checkpoint == "best" else f"-{args.checkpoint}")
                item, row = _eval_command(args, name, str(detector), enhancer, enh_file), enhancer
            evals[(arm, seed)] = (item[0], row)
            if not (item[0] / "metrics.json").is_file():
                todo.append(item)
    failed = _run_all(todo, args.jobs, "eval")
    if failed:
        raise SystemExit(f"[report] evaluation failed: {', '.join(failed)}")
    for (arm, seed), (folder, row) in evals.items():
        metrics = json.loads((folder / "metrics.json").read_text())["results"][row]
        rows.setdefault(arm, []).append({"seed": seed, "map50": metrics["metrics"]["map50"],
                                         "map50_95": metrics["metrics"]["map50_95"], "by_light": metrics["by_light"]})
        preds[(arm, seed)] = json.loads((folder / f"predictions_{row}.json").read_text())
        gt = gt or json.loads((folder / "ground_truth.json").read_text())
    table: dict[str, Any] = {}
    for arm, rs in rows.items():
        m50 = [r["map50"] for r in rs]
        entry: dict[str, Any] = {"seeds": [r["seed"] for r in rs], "map50": m50,
                                 "map50_mean": round(statistics.mean(m50), 2),
                                 "map50_std": round(statistics.stdev(m50), 2) if len(m50) > 1 else 0.0,
                                 "map50_95_mean": round(statistics.mean(r["map50_95"] for r in rs), 2),
                                 "by_light_mean": {k: round(statistics.mean(r["by_light"].get(k, 0.0) for r in rs), 2)
                                                   for k in rs[0]["by_light"]}}
        if arm not in ("zero-shot", BASELINE) and gt is not None:
            entry["delta_vs_" + BASELINE] = []
            for r in rs:
                base = preds.get((BASELINE, r["seed"]))
                if base is not None:
                    d = paired_delta_map50(gt, base, preds[(arm, r["seed"])], resamples=args.resamples)
                    entry["delta_vs_" + BASELINE].append({"seed": r["seed"], "delta": round(d.delta, 2),
                                                           "ci95": [round(d.low, 2), round(d.high, 2)]})
        table[arm] = entry
    joint = table.get("joint", {}).get("delta_vs_" + BASELINE, [])
    reached = "reached" if joint and all(d["delta"] >= 1.0 for d in joint) else "not reached"
    verdict = (f"joint vs detector alone: {_deltas(joint)} (target +1.0 in every seed: {reached})" if joint
               else "joint or det-none missing: no verdict")
    result = {"data": args.data, "split": "test", "zero_shot_detector": args.zero_shot, "runs": str(runs),
              "checkpoint": args.checkpoint,
              "table": table, "verdict": verdict}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"Each run's detector: {args.checkpoint}.pt ("
             + ("the epoch best on its hold-out" if args.checkpoint == "best" else "the last epoch") + ").", "",
             "| arm | seeds | mAP50 (mean ± std) | mAP50-95 | Δ mAP50 vs det-none per seed [95%] |",
             "|---|---:|---:|---:|---|"]
    for arm, e in table.items():
        deltas = _deltas(e.get("delta_vs_" + BASELINE, []))
        lines.append(f"| {arm} | {len(e['seeds'])} | {e['map50_mean']:.2f} ± {e['map50_std']:.2f} | "
                     f"{e['map50_95_mean']:.2f} | {deltas} |")
    lights = list(next(iter(table.values()))["by_light_mean"]) if table else []
    lines += ["", "mAP50 by lighting type (mean over seeds):", "",
              "| arm | " + " | ".join(lights) + " |", "|---|" + "---:|" * len(lights)]
    lines += [f"| {arm} | " + " | ".join(f"{e['by_light_mean'].get(k, 0.0):.1f}" for k in lights) + " |"
              for arm, e in table.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + f"\n\n{verdict}\n")
    print("\n".join(lines), "\n", verdict)


def _deltas(items: list[dict[str, Any]]) -> str:
    return "; ".join(f"{d['delta']:+.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]" for d in items)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--detector", required=True, help="a YOLO .pt with BatchNorm (yolo11n-coco-unfused.pt)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--detector-lr", type=float, default=1e-3)
    t.add_argument("--enhancer-lr", type=float, default=1e-4)
    t.add_argument("--limit", type=int, default=None, help="images of the train split (smoke runs)")
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--workers", type=int, default=4)
    t.add_argument("--out", default="runs/det_exdark")
    r = sub.add_parser("report")
    r.add_argument("--data", required=True)
    r.add_argument("--zero-shot", required=True, help="the COCO detector before fine-tuning (yolo11n-coco.pt)")
    r.add_argument("--runs", default="runs/det_exdark")
    r.add_argument("--eval-out", default="runs/det_exdark_eval")
    r.add_argument("--resamples", type=int, default=200)
    r.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="each run's epoch: best on its hold-out (the rule) or the last one")
    r.add_argument("--out", default="benchmarks/results/finetune_detector_exdark")
    for s in (t, r):
        s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        s.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
        s.add_argument("--imgsz", type=int, default=640)
        s.add_argument("--device", default="auto")
        s.add_argument("--jobs", type=int, default=1, help="runs (or evaluations) at once, each logging to its "
                                                           "folder's stdout.log (one GPU holds many)")
    args = p.parse_args()
    train(args) if args.step == "train" else report(args)


if __name__ == "__main__":
    main()
