"""Evidence for detection-aware fine-tuning: a tuned enhancer vs none / gamma / clahe / zerodce / zerodce++.

Two steps, so that tuning can run where the GPU is and reporting where the data is:

    # tune every (enhancer, seed) on ExDark's official *train* split sample; each run holds out a seeded 20%
    # of it (documented in its best.pt metadata) to pick the checkpoint and stop early
    python benchmarks/finetune_exdark.py tune --data ../shared/data/exdark-train-mini \\
        --detector ../shared/models/yolo11n-coco.pt --enhancers zerodce++ zerodce --seeds 0 1 2 \\
        --epochs 10 --imgsz 640 --batch-size 16 --jobs 6 --out runs/finetune_exdark

    # the same with the illumination-adaptive strength gate (runs named ENHANCER-gate-seedN)
    python benchmarks/finetune_exdark.py tune ... --adaptive --gate-lr 0.01 --patience 4 --epochs 15 --tag gate
    # issue 12's levers: a spatial strength map, the label-free teacher on top of the labels
    python benchmarks/finetune_exdark.py tune ... --adaptive --tag spatial --finetune-args "--gate spatial"
    python benchmarks/finetune_exdark.py tune ... --adaptive --tag teacher --finetune-args "--teacher 0.5 --darken-ev 1 6"

    # report on the 379 official *test* images of exdark-mini (never used for tuning): mean ± std over seeds
    python benchmarks/finetune_exdark.py report --data ../shared/data/exdark-mini \\
        --detector ../shared/models/yolo11n-coco.pt --runs runs/finetune_exdark \\
        --out benchmarks/results/finetune_exdark

``tune`` runs ``python -m lowlight_det.finetune`` once per (enhancer, seed), ``--jobs`` at a time (one GPU
holds several: each run alone leaves it mostly idle); a run that exceeds ``--time-limit`` is stopped and
keeps its best epoch so far. ``report`` writes ``finetune_exdark.json`` / ``.md`` next to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

BASELINES = ("none", "gamma", "clahe", "zerodce", "zerodce++")


def _run_name(enhancer: str, seed: int, tag: str = "") -> str:
    return f"{enhancer.replace('+', 'p')}{'-' + tag if tag else ''}-seed{seed}"


def _label(config: dict[str, Any], run: str) -> str:
    """Table row of a tuned run: the enhancer plus the run's tag (its name between enhancer and seed)."""
    tag = run.rsplit("-seed", 1)[0].partition("-")[2]
    return f"{config['enhancer']} (detection-tuned{', ' + tag if tag else ''})"


def tune(args: argparse.Namespace) -> None:
    out = Path(args.out)
    jobs = [(e, s) for e in args.enhancers for s in args.seeds]
    running: list[tuple[subprocess.Popen[bytes], float, str]] = []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}

    def reap(block: bool) -> None:
        while running and (block or len(running) >= args.jobs):
            for item in list(running):
                proc, start, name = item
                if proc.poll() is not None:
                    print(f"[tune] {name} finished: exit {proc.returncode} after {time.time() - start:.0f} s", flush=True)
                    running.remove(item)
                elif args.time_limit and time.time() - start > args.time_limit:
                    proc.terminate()  # best.pt of the finished epochs stays (atomic saves)
                    proc.wait()
                    print(f"[tune] {name} stopped at the time limit ({args.time_limit} s)", flush=True)
                    running.remove(item)
            time.sleep(1)

    for enhancer, seed in jobs:
        reap(block=False)
        name = _run_name(enhancer, seed, args.tag)
        run = out / name
        run.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "lowlight_det.finetune",
            "--detector",
            args.detector,
            "--data",
            args.data,
            "--split",
            "train",
            "--val-split",
            "none",
            "--val-fraction",
            str(args.val_fraction),
            "--enhancer",
            enhancer,
            "--epochs",
            str(args.epochs),
            "--imgsz",
            str(args.imgsz),
            "--batch-size",
            str(args.batch_size),
            "--lr",
            str(args.lr),
            "--w-ref",
            str(args.w_ref),
            "--patience",
            str(args.patience),
            "--seed",
            str(seed),
            "--workers",
            str(args.workers),
            "--device",
            args.device,
            "--threads",
            str(args.threads),
            "--out",
            str(run),
            "-q",
        ]
        if args.adaptive:
            cmd += ["--adaptive", "--gate-lr", str(args.gate_lr)]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        cmd += shlex.split(args.finetune_args)
        log = (run / "stdout.log").open("wb")
        print(f"[tune] start {name}", flush=True)
        running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), time.time(), name))
    reap(block=True)


def _row(metrics: dict[str, Any]) -> dict[str, float]:
    return {"map50": metrics["map50"], "map50_95": metrics["map50_95"]}


def report(args: argparse.Namespace) -> None:
    from lowlight_det.config import EvalConfig
    from lowlight_det.eval.api import evaluate

    out = Path(args.out)
    common = {
        "data": args.data,
        "split": "test",
        "weights": args.detector,
        "imgsz": args.imgsz,
        "device": args.device,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "limit": args.limit,
        "plots": False,
        "gallery": 0,
    }
    rows: dict[str, list[dict[str, float]]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    def run_eval(folder: str, **kwargs: Any) -> dict[str, Any]:
        """metrics.json of one evaluation; an existing one is reused (a report resumed on another machine)."""
        done = out / folder / "metrics.json"
        if done.is_file():
            print(f"[report] reusing {done}", flush=True)
        else:
            evaluate(EvalConfig(out=str(out / folder), **common, **kwargs), resume=True)
        return json.loads(done.read_text())

    base = run_eval("baselines", enhance=BASELINES)
    for name, r in base["results"].items():
        rows[name] = [_row(r["metrics"])]
    for best in sorted(b for runs_dir in args.runs for b in Path(runs_dir).glob("*/best.pt")):
        history = json.loads((best.parent / "history.json").read_text())
        config = yaml.safe_load((best.parent / "config.yaml").read_text())
        name = config["enhancer"]
        test = _row(run_eval(best.parent.name, enhance=(name,), enhancer_weights=str(best))["results"][name]["metrics"])
        label = _label(config, best.parent.name)
        rows.setdefault(label, []).append(test)
        runs.setdefault(label, []).append(
            {
                "run": best.parent.name,
                "seed": config["seed"],
                "test": test,
                "best_val_map50": max(h["val_map50"] for h in history),
                "epochs_run": len(history),
                "history": history,
            }
        )
    intervals = _intervals(args, out, runs)
    none50 = statistics.mean(r["map50"] for r in rows["none"])
    table = ["| enhancer | runs | mAP50 | mAP50-95 | Δ mAP50 vs none | 95% interval of Δ, per run |",
             "|---|---:|---:|---:|---:|---|"]
    summary: dict[str, Any] = {}
    for label, vals in rows.items():
        stats = {
            k: (statistics.mean(v[k] for v in vals), statistics.stdev(v[k] for v in vals) if len(vals) > 1 else 0.0)
            for k in ("map50", "map50_95")
        }
        summary[label] = {"runs": runs.get(label, vals), **{k: {"mean": m, "std": s} for k, (m, s) in stats.items()}}
        cis = [intervals.get(r["run"]) for r in runs.get(label, [{"run": f"baselines/{label}"}])]
        if label not in runs and cis[0]:
            summary[label]["delta_map50_interval"] = cis[0]
        ci_text = " · ".join(f"[{c['low']:+.1f}, {c['high']:+.1f}]" for c in cis if c) or "–"
        table.append(
            f"| {label} | {len(vals)} | {stats['map50'][0]:.1f} ± {stats['map50'][1]:.1f} | "
            f"{stats['map50_95'][0]:.1f} ± {stats['map50_95'][1]:.1f} | {stats['map50'][0] - none50:+.1f} | {ci_text} |"
        )
    meta = {
        "interval": f"paired Δ mAP50 vs none over {args.ci_resamples} half-samples of the test images "
                    "(lowlight_det.eval.coco.paired_delta_map50); test-set sampling noise, not seed noise",
        "test_data": args.data,
        "detector": args.detector,
        "imgsz": args.imgsz,
        "runs_dir": args.runs,
        **{k: base.get(k) for k in ("device", "images", "split", "versions")},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / f"{out.name}.json").write_text(json.dumps({"meta": meta, "rows": summary}, indent=2) + "\n")
    (out.parent / f"{out.name}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


def _intervals(args: argparse.Namespace, out: Path, runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict]:
    """95% intervals of every row's Δ mAP50 vs none where both predictions files are at hand (the evaluator
    writes them next to metrics.json; they are not committed), keyed by run folder or ``baselines/<name>``."""
    from lowlight_det.data.detection import to_coco
    from lowlight_det.data.loaders import load_detection_dataset
    from lowlight_det.eval.coco import paired_deltas_map50

    none_file = out / "baselines" / "predictions_none.json"
    if not args.ci_resamples or not none_file.is_file():
        return {}
    ds, _ = load_detection_dataset(args.data, split="test")
    gt = to_coco(ds.subset(args.limit))
    files = {f"baselines/{n}": out / "baselines" / f"predictions_{n}.json" for n in BASELINES if n != "none"}
    tuned = [r for label_runs in runs.values() for r in label_runs]
    files.update({r["run"]: next((out / r["run"]).glob("predictions_*.json"), out / r["run"] / "missing") for r in tuned})
    rows = {key: json.loads(f.read_text()) for key, f in files.items() if f.is_file()}
    found = {key: d.as_dict() for key, d in paired_deltas_map50(gt, json.loads(none_file.read_text()), rows,
                                                                 resamples=args.ci_resamples).items()}
    for r in tuned:
        if r["run"] in found:
            r["delta_map50_interval"] = found[r["run"]]
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)
    t = sub.add_parser("tune", help="fine-tune every (enhancer, seed)")
    t.add_argument("--data", required=True, help="ExDark folder with the official train split")
    t.add_argument("--enhancers", nargs="+", default=["zerodce++", "zerodce"])
    t.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--patience", type=int, default=3)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--w-ref", type=float, default=1.0)
    t.add_argument("--val-fraction", type=float, default=0.2)
    t.add_argument("--adaptive", action="store_true", help="learn a per-image strength gate (finetune --adaptive)")
    t.add_argument("--gate-lr", type=float, default=5e-3)
    t.add_argument("--tag", default="", help="run names become ENHANCER-TAG-seedN; the report groups rows by it")
    t.add_argument("--finetune-args", default="", help="more flags for python -m lowlight_det.finetune, e.g. "
                                                       "'--gate spatial' or '--teacher 0.5 --darken-ev 1 6'")
    t.add_argument("--limit", type=int, default=None)
    t.add_argument("--jobs", type=int, default=1, help="runs at a time")
    t.add_argument("--time-limit", type=float, default=None, help="seconds per run before it is stopped")
    t.add_argument("--threads", type=int, default=1, help="torch threads per run")
    r = sub.add_parser("report", help="evaluate the baselines and every run's best.pt on the test split")
    r.add_argument("--data", required=True, help="ExDark folder with the official test split")
    r.add_argument("--runs", required=True, nargs="+", help="the --out folder(s) of tune")
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--limit", type=int, default=None, help="first N test images only (smoke runs)")
    r.add_argument("--ci-resamples", type=int, default=200, help="half-samples for the Δ intervals (0: none)")
    for q in (t, r):
        q.add_argument("--detector", required=True)
        q.add_argument("--imgsz", type=int, default=640)
        q.add_argument("--device", default="auto")
        q.add_argument("--workers", type=int, default=2)
        q.add_argument("--out", required=True)
    args = p.parse_args()
    tune(args) if args.step == "tune" else report(args)


if __name__ == "__main__":
    main()
